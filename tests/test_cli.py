"""The command line: help, ls, init, exit codes, tracebacks only with --debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from orch.cli import cli

from tests.conftest import MakeProject, run_cli

PROJECT = {
    "seeds/raw_orders.csv": "id,customer_id,amount\n1,1,10\n",
    "models/staging/stg_orders.sql": "select id, customer_id, amount from raw_orders",
    "models/marts/orders.sql": """
        {{ config(materialized='table', tags=['finance']) }}
        select id, amount from stg_orders
        """,
    "models/marts/customers.sql": "select customer_id, sum(amount) as total from orders "
    "join stg_orders using (id) group by 1",
    "models/other.sql": "select 1 as x",
}


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand (those of ``orch`` are loaded on first use: ask the group)."""
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        out.append((*prefix, name))
        if isinstance(command, click.Group):
            out.extend(_commands(command, (*prefix, name)))
    return out


@pytest.mark.parametrize("command", _commands(cli), ids=" ".join)
def test_help_shows_examples(command: tuple[str, ...]):
    run = run_cli(*command, "--help")
    assert run.exit_code == 0, run.output
    assert "Usage: orch " + " ".join(command) in run.stdout
    group: click.Command | None = cli
    for name in command:
        assert isinstance(group, click.Group)
        group = group.get_command(click.Context(group), name)
    if isinstance(group, click.Group):
        assert "Commands:" in run.stdout  # a group lists its commands; they show examples
    else:
        assert "Examples:" in run.stdout


def test_top_level_help():
    run = run_cli("--help")
    assert run.exit_code == 0
    assert "orch init my_project" in run.stdout


@pytest.fixture
def project(make_project: MakeProject, tmp_path: Path) -> Path:
    return make_project(tmp_path, PROJECT)


def test_ls_names_in_dependency_order(project: Path):
    run = run_cli("ls", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines() == ["other", "raw_orders", "stg_orders", "orders", "customers"]


def test_ls_select_and_exclude(project: Path):
    run = run_cli("ls", "--project-dir", project, "-s", "+orders")
    assert run.stdout.splitlines() == ["raw_orders", "stg_orders", "orders"]
    run = run_cli("ls", "--project-dir", project, "-s", "+orders", "--exclude", "raw_orders")
    assert run.stdout.splitlines() == ["stg_orders", "orders"]
    run = run_cli("ls", "--project-dir", project, "-s", "tag:finance stg_orders+")
    assert run.stdout.splitlines() == ["stg_orders", "orders", "customers"]
    run = run_cli("ls", "--project-dir", project, "-s", "path:models/marts")
    assert run.stdout.splitlines() == ["orders", "customers"]


def test_ls_json(project: Path):
    run = run_cli("ls", "--project-dir", project, "-s", "orders", "--output", "json")
    assert run.exit_code == 0, run.output
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert rows == [
        {
            "schema_version": 1,
            "name": "orders",
            "resource_type": "model",
            "materialized": "table",
            "path": "models/marts/orders.sql",
            "relation": "analytics.orders",
            "depends_on": ["stg_orders"],
            "tags": ["finance"],
            "group": None,
            "description": "",
        }
    ]


def test_ls_unknown_selector(project: Path):
    run = run_cli("ls", "--project-dir", project, "-s", "ordrs")
    assert run.exit_code == 2
    assert "Traceback" not in run.output
    assert "'ordrs'" in run.stderr and "Did you mean 'orders'" in run.stderr


def test_init_creates_a_project_that_compiles(tmp_path: Path):
    target = tmp_path / "my_project"
    run = run_cli("init", target)
    assert run.exit_code == 0, run.output
    assert (target / "orch_project.yml").is_file()
    run = run_cli("compile", "--project-dir", target)
    assert run.exit_code == 0, run.output
    assert (target / "target" / "manifest.json").is_file()
    run = run_cli("ls", "--project-dir", target)
    assert run.exit_code == 0 and len(run.stdout.splitlines()) >= 3


def test_init_refuses_a_non_empty_folder_and_bad_names(tmp_path: Path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    run = run_cli("init", tmp_path / "taken")
    assert run.exit_code == 2
    assert "already exists and is not empty" in run.stderr
    run = run_cli("init", tmp_path / "my-project")
    assert run.exit_code == 2
    assert "'my-project' is not a valid project name" in run.stderr
    assert not (tmp_path / "my-project").exists()


def test_exit_codes_and_no_traceback(project: Path):
    assert run_cli("compile", "--project-dir", project).exit_code == 0
    (project / "models" / "bad.sql").write_text("select * from zzz_qqq")
    run = run_cli("compile", "--project-dir", project)
    assert run.exit_code == 2
    assert "Traceback" not in run.output
    assert run.stderr.splitlines() == [
        "Error: models/bad.sql:1:15: unknown table 'zzz_qqq'. It is neither a model, a seed nor "
        "a declared source: add a model file, or declare the source in YAML"
    ]


def test_debug_shows_traceback(project: Path):
    (project / "models" / "bad.sql").write_text("select * from nowhere")
    run = run_cli("compile", "--project-dir", project, "--debug")
    assert run.exit_code == 2
    assert "Traceback (most recent call last)" in run.stderr
    assert run.stderr.rstrip().splitlines()[-1].startswith("Error: models/bad.sql:1:15:")


def test_unknown_command_and_option():
    run = run_cli("compiel")
    assert run.exit_code == 2
    assert "No such command 'compiel'" in run.stderr
    run = run_cli("compile", "--nope")
    assert run.exit_code == 2
    assert "No such option '--nope'" in run.stderr


def test_subprocess_exit_code_and_stderr(project: Path):
    (project / "models" / "bad.sql").write_text("select * from stg_order")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    orch_bin = Path(sys.executable).parent / "orch"
    proc = subprocess.run(
        [str(orch_bin), "compile", "--project-dir", str(project)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "Error: models/bad.sql:1:15: unknown table 'stg_order'. Did you mean 'stg_orders'?\n"
    )
