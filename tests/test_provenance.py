"""Code provenance: each materialization records the code that built it (once per fingerprint)
and the project's git commit and dirty flag; ``orch status``, ``orch code`` show it and diff it."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from orch.run.provenance import NO_GIT, git_state

ORDERS_SQL = "select 1 as id, 20 as amount\n"
TOTALS_SQL = "select sum(amount) as total from {{ ref('orders') }}\n"
SCORES_PY = """\
import polars as pl
from orch import asset

WEIGHT = 2


@asset
def scores(orders: pl.DataFrame) -> pl.DataFrame:
    return orders.select((pl.col("amount") * WEIGHT).alias("score"))


@asset
def unrelated() -> pl.DataFrame:
    return pl.DataFrame({"y": [1]})
"""


def git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


@pytest.fixture
def repo(make_project, tmp_path: Path) -> Path:
    """A project in a git work tree, committed; the warehouse file is ignored."""
    root = make_project(
        tmp_path / "shop",
        {"models/orders.sql": ORDERS_SQL, "models/totals.sql": TOTALS_SQL,
         "models/scores.py": SCORES_PY, ".gitignore": "*.duckdb*\n"},
    )  # fmt: skip
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    return root


def stored_code(root: Path) -> dict[str, tuple[str, str | None, str]]:
    with sqlite3.connect(root / ".orch" / "state.db") as conn:
        rows = conn.execute("select fingerprint, kind, module, code from code_versions")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_a_build_records_code_and_commit(repo: Path, orch) -> None:
    build = orch("build", "--project-dir", repo)
    assert build.exit_code == 0, build.output
    code = stored_code(repo)
    by_text = {c[2]: c for c in code.values()}
    assert ("sql", "models/orders.sql", "select 1 as id, 20 as amount") in [
        (k, m, t.strip()) for k, m, t in code.values()
    ]
    [python] = [c for c in code.values() if c[0] == "python" and "def scores" in c[2]]
    assert python[1] == "models/scores.py"
    assert "WEIGHT = 2" in python[2]  # the module-level code the fingerprint covers
    assert "def unrelated" not in python[2]  # the file's other assets are not its code
    assert len(by_text) == len(code)

    head = git(repo, "rev-parse", "HEAD")
    status = orch("status", "--project-dir", repo)
    assert status.exit_code == 0, status.output
    assert f"commit {head[:7]}: " in status.stdout  # target/, logs/, .orch/ don't make it dirty
    assert "(dirty)" not in status.stdout
    assert "Code changed since built" not in status.stdout

    again = orch("build", "--project-dir", repo)
    assert again.exit_code == 0
    assert stored_code(repo) == code  # unchanged code: stored once per fingerprint


def test_changed_code_shows_a_diff_and_a_dirty_tree(repo: Path, orch) -> None:
    assert orch("build", "--project-dir", repo).exit_code == 0
    (repo / "models/orders.sql").write_text("select 1 as id, 25 as amount\n")
    status = orch("status", "--project-dir", repo, "--diff")
    assert status.exit_code == 0, status.output
    assert "Code changed since built: orders" in status.stdout
    assert "-select 1 as id, 20 as amount" in status.stdout
    assert "+select 1 as id, 25 as amount" in status.stdout

    diff = orch("code", "diff", "orders", "--project-dir", repo)
    assert diff.exit_code == 0, diff.output
    lines = diff.stdout.splitlines()
    assert lines[1].startswith("--- orders (built by run ")
    assert lines[2] == "+++ orders (current models/orders.sql)"
    assert "-select 1 as id, 20 as amount" in lines and "+select 1 as id, 25 as amount" in lines

    rebuilt = orch("build", "--project-dir", repo, "-s", "orders")
    assert rebuilt.exit_code == 0
    head = git(repo, "rev-parse", "HEAD")[:7]
    show = orch("code", "show", "orders", "--project-dir", repo)
    assert f"commit {head} (dirty)" in show.stdout  # built from an uncommitted change
    assert show.stdout.rstrip().endswith("select 1 as id, 25 as amount")
    unchanged = orch("code", "diff", "orders", "--project-dir", repo)
    assert "the code is unchanged since" in unchanged.stdout


def test_a_python_asset_diff(repo: Path, orch) -> None:
    assert orch("build", "--project-dir", repo).exit_code == 0
    path = repo / "models/scores.py"
    path.write_text(path.read_text().replace("WEIGHT = 2", "WEIGHT = 3"))
    diff = orch("code", "diff", "scores", "--project-dir", repo)
    assert "-WEIGHT = 2" in diff.stdout and "+WEIGHT = 3" in diff.stdout
    assert "unrelated" not in diff.stdout


def test_without_git_nothing_is_an_error(make_project, tmp_path: Path, orch) -> None:
    root = make_project(tmp_path / "plain", {"models/orders.sql": ORDERS_SQL})
    assert git_state(root) == NO_GIT
    build = orch("build", "--project-dir", root)
    assert build.exit_code == 0, build.output
    status = orch("status", "--project-dir", root)
    assert "Built by (last materialization):" in status.stdout
    assert "no git: orders" in status.stdout
    run_id = sqlite3.connect(root / ".orch/state.db").execute("select run_id from runs").fetchone()
    shown = orch("runs", "show", run_id[0][:8], "--project-dir", root)
    assert "  git: no git" in shown.stdout


def test_git_missing_or_slow_is_recorded_as_none(repo: Path, monkeypatch, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert git_state(repo).commit == head
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries"))
    assert git_state(repo) == NO_GIT
    monkeypatch.undo()
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "git").write_text("#!/bin/sh\nsleep 5\n")
    (slow / "git").chmod(0o755)
    monkeypatch.setenv("PATH", str(slow))
    assert git_state(repo, timeout=0.2) == NO_GIT


def test_stored_sql_never_holds_an_env_var_value(repo: Path, orch, monkeypatch) -> None:
    secret = "s3cr3t-Value-0123456789abcdef"
    monkeypatch.setenv("SHOP_TOKEN", secret)
    (repo / "models/tokens.sql").write_text(
        "{{ config(materialized='table') }}\nselect '{{ env_var(\"SHOP_TOKEN\") }}' as token\n",
        encoding="utf-8",
    )
    build = orch("build", "--project-dir", repo, "-s", "tokens")
    assert build.exit_code == 0, build.output
    [tokens] = [c for c in stored_code(repo).values() if c[1] == "models/tokens.sql"]
    assert secret not in tokens[2] and secret[:12] not in tokens[2]
    assert "env_var('SHOP_TOKEN')" in tokens[2]
    shown = orch("code", "show", "tokens", "--project-dir", repo)
    assert secret not in shown.output


def test_an_unknown_asset_is_named_with_the_closest(repo: Path, orch) -> None:
    run = orch("code", "diff", "ordrs", "--project-dir", repo)
    assert run.exit_code == 2
    assert (
        run.stderr.strip().splitlines()[0] == "Error: unknown asset 'ordrs'. Did you mean 'orders'?"
    )
    assert "Traceback" not in run.output


def test_status_json_has_built_by(repo: Path, orch) -> None:
    import json

    never = json.loads(orch("status", "--output", "json", "--project-dir", repo).stdout)
    assert {a["asset"]: a["built_by"] for a in never["assets"]}["orders"] is None
    assert orch("build", "--project-dir", repo).exit_code == 0
    (repo / "models/orders.sql").write_text("select 1 as id, 25 as amount\n")
    out = orch("status", "--output", "json", "--project-dir", repo)
    assert out.exit_code == 0, out.output
    built = {a["asset"]: a["built_by"] for a in json.loads(out.stdout)["assets"]}
    head = git(repo, "rev-parse", "HEAD")
    run_id = sqlite3.connect(repo / ".orch/state.db").execute("select run_id from runs").fetchone()
    assert built["orders"] == {
        "run_id": run_id[0], "commit": head, "dirty": False, "code_recorded": True,
        "code_changed": True, "code_kind": "sql",
    }  # fmt: skip
    assert built["totals"]["code_changed"] is False
    assert built["scores"]["code_kind"] == "python"
