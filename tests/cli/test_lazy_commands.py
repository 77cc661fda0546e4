"""The inner loop imports only what it uses (issue 21): commands load on first use, a run of
compiled SQL never imports sqlglot, and a build with nothing to do never opens DuckDB."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import duckdb
from orch.cli import COMMAND_MODULES, cli

from tests.conftest import MakeProject, run_cli

SHOP = {
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from a",
    "models/schema.yml": """\
        models:
          - name: a
            columns: [{name: x, checks: [not_null]}]
        """,
}

# Runs orch's real entry point in a fresh interpreter, then prints the modules it imported.
PROBE = """
import json, sys
from orch.cli import main
sys.argv = ["orch", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    code = exit.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _probe(*args: str | Path) -> tuple[int, set[str], str]:
    """(exit code, imported module names, stdout) of ``orch ARGS`` in a new process."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["exit"], set(report["modules"]), proc.stdout


def test_every_command_is_registered_with_its_module():
    for modules in COMMAND_MODULES.values():
        for module in modules:
            importlib.import_module(f"orch.cli.{module}")
    assert set(cli.commands) == set(COMMAND_MODULES)  # no command left out of the table
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"orch.cli.{COMMAND_MODULES[name][0]}", name


def test_help_lists_every_command_with_its_help():
    run = run_cli("--help")
    assert run.exit_code == 0, run.output
    lines = [line.split() for line in run.stdout.split("Commands:")[1].splitlines() if line]
    assert [words[0] for words in lines] == sorted(COMMAND_MODULES)
    ctx = click.Context(cli)
    for words in lines:  # each with the first words of its own help text
        command = cli.get_command(ctx, words[0])
        assert command is not None and command.help
        assert command.help.split()[:2] == words[1:3], words


def test_unknown_command_still_fails_clearly():
    run = run_cli("biuld")
    assert run.exit_code == 2
    assert "No such command 'biuld'" in run.output


def test_run_imports_only_its_commands_and_no_compiler(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, SHOP)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    code, modules, out = _probe("run", "-s", "b", "--project-dir", root)
    assert code == 0, out
    assert "1 success" in out
    assert "orch.cli.run_commands" in modules
    assert not {"orch.cli.automation_commands", "orch.cli.workspace_commands"} & modules
    assert not {m for m in modules if m.split(".")[0] == "sqlglot"}


def test_nothing_to_build_opens_no_warehouse(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, SHOP)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    code, modules, out = _probe("build", "--changed", "--project-dir", root)
    assert code == 0, out
    assert "nothing to do" in out
    assert "1 checks not re-run" in out
    assert "duckdb" not in modules
    # --checks all re-runs the check, so the warehouse is opened for it
    code, modules, out = _probe("build", "--changed", "--checks", "all", "--project-dir", root)
    assert code == 0, out
    assert "not_null_a_x" in out
    assert "duckdb" in modules
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('select x from "analytics"."b"').fetchall() == [(1,)]


def test_a_run_of_sql_models_loads_no_op_automation_or_template_machinery(
    make_project: MakeProject, tmp_path: Path
):
    """The one-model path (issue 21 item 3): nothing for ops, conditions, automation,
    templates, Arrow or YAML is imported when the manifest is up to date."""
    root = make_project(tmp_path, SHOP)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    assert run_cli("ls", "--project-dir", root).exit_code == 0  # caches the project file's parse
    for args in (("run", "-s", "b"), ("build", "--changed")):
        code, modules, out = _probe(*args, "--project-dir", root)
        assert code == 0, out
        tops = {m.split(".")[0] for m in modules}
        assert not {"sqlglot", "jinja2", "pyarrow", "polars", "yaml"} & tops, args
        packages = ("orch.ops", "orch.automation")
        assert not {m for m in modules if m.split(".")[:2] in ([*p.split(".")] for p in packages)}
        assert not {"orch.conditions", "orch.compiler.models"} & modules, args
