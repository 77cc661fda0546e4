"""``-s a b``: several selectors after one -s/--select (and --exclude, -m/--models), as in dbt."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import MakeProject, run_cli

SHOP = {
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from a",
    "models/c.sql": "select x from b",
    "models/d.sql": "select 2 as y",
    "models/schema.yml": """\
        models:
          - name: a
            columns: [{name: x, checks: [not_null]}]
          - name: b
            columns: [{name: x, checks: [not_null, unique]}]
        """,
}


def _ls(root: Path, *args: str) -> list[str]:
    run = run_cli("ls", "--project-dir", root, *args)
    assert run.exit_code == 0, run.output
    return sorted(run.stdout.split())  # in DAG order on screen


def test_several_selectors_after_one_select(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, SHOP)
    assert _ls(root, "-s", "a", "c") == ["a", "c", "not_null_a_x"]
    assert _ls(root, "--select", "a", "c", "d") == ["a", "c", "d", "not_null_a_x"]
    assert _ls(root, "-m", "a", "d") == ["a", "d", "not_null_a_x"]  # old dbt's -m/--models
    assert _ls(root, "--models", "d") == ["d"]


def test_repeated_and_quoted_selectors_still_work(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, SHOP)
    assert _ls(root, "-s", "a", "-s", "c") == ["a", "c", "not_null_a_x"]
    assert _ls(root, "-s", "a c") == ["a", "c", "not_null_a_x"]
    assert _ls(root, "-s", "a", "c", "-s", "d") == ["a", "c", "d", "not_null_a_x"]


def test_several_excludes_and_options_after_them(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, SHOP)
    assert _ls(root, "-s", "a+", "d", "--exclude", "b", "d") == ["a", "c", "not_null_a_x"]
    assert _ls(root, "--exclude", "a", "b", "-s", "c", "d") == ["c", "d"]


def test_build_takes_several_selectors(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, SHOP)
    run = run_cli("build", "-s", "a", "b", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert "2 steps (selection: a b)" in run.stdout
    results = json.loads((root / "target" / "run_results.json").read_text())
    ids = sorted(r["unique_id"].rsplit(".", 1)[-1] for r in results["results"])
    assert ids == ["a", "b", "not_null_a_x", "not_null_b_x", "unique_b_x"]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        tables = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
    finally:
        con.close()
    assert {"a", "b"} <= tables and not {"c", "d"} & tables


def test_a_malformed_selector_among_several_is_named(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, SHOP)
    run = run_cli("ls", "--project-dir", root, "-s", "a", "tag:")
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: invalid selector 'tag:': no value after 'tag:'. Write e.g. 'tag:nightly'\n"
    )
    assert "Traceback" not in run.output
