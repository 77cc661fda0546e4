"""Members on different warehouses: a DuckDB member reads another member's DuckDB file by
ATTACH (read-only); any other pair is refused with a message saying what to do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli, write_project
from tests.workspace.test_workspace import make_workspace, profile


def own_files(ws: Path) -> Path:
    """finance writes fin.duckdb, marketing mkt.duckdb (no shared file)."""
    for member in ("finance", "marketing"):
        (ws / member / "profiles.yml").write_text(
            textwrap.dedent(profile(member, member, f"{member[:3]}.duckdb")), encoding="utf-8"
        )
    # tables: a view would keep the alias of the attached file, unknown to other connections
    (ws / "marketing/orch_project.yml").write_text(
        "name: marketing\nmodels:\n  marketing:\n    +materialized: table\n", encoding="utf-8"
    )
    return ws


def rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_a_member_reads_another_duckdb_file_by_attach(tmp_path: Path) -> None:
    ws = own_files(make_workspace(tmp_path))
    run = run_cli("build", "--workspace", ws)
    assert run.exit_code == 0, run.output
    assert rows(ws / "marketing/mar.duckdb", "select * from marketing.roi") == [(1, 21.0)]
    assert rows(ws / "finance/fin.duckdb", "select * from finance.revenue") == [(1, 10.5)]
    assert not (ws / "warehouse.duckdb").exists()
    compiled = (ws / "marketing/target/compiled/models/roi.sql").read_text()
    assert '"ws_finance"."finance"."revenue"' in compiled
    # inside the consumer, alone: the owner's file is attached too (read-only: it is unchanged)
    inside = run_cli("build", "--project-dir", ws / "marketing", "--full-refresh")
    assert inside.exit_code == 0, inside.output
    assert rows(ws / "marketing/mar.duckdb", "select * from marketing.bare") == [(1,)]


def test_the_owner_not_built_yet_is_a_clear_error(tmp_path: Path) -> None:
    ws = own_files(make_workspace(tmp_path))
    run = run_cli("build", "--project-dir", ws / "marketing")
    assert run.exit_code == 2
    assert (
        f"cannot attach DuckDB database '{(ws / 'finance/fin.duckdb').resolve()}' as "
        "'ws_finance': the file does not exist. Build the project that writes it first"
    ) in run.stderr
    assert "Traceback" not in run.output


@pytest.mark.parametrize("where", ["snowflake", "memory"])
def test_other_warehouse_pairs_are_refused(tmp_path: Path, where: str) -> None:
    ws = make_workspace(tmp_path)
    target = (
        "{type: snowflake, account: acme, user: u, database: FIN, schema: finance}"
        if where == "snowflake"
        else "{type: duckdb, path: ':memory:', schema: finance}"
    )
    (ws / "finance/profiles.yml").write_text(
        f"finance:\n  target: dev\n  outputs:\n    dev: {target}\n", encoding="utf-8"
    )
    run = run_cli("ls", "--workspace", ws)
    assert run.exit_code == 2
    shown = "snowflake:acme" if where == "snowflake" else "duckdb::memory:"
    assert (
        f"marketing/models/bare.sql:1:24: model 'finance.revenue' lives in another warehouse "
        f"({shown}) than project 'marketing' (duckdb:{(ws / 'warehouse.duckdb').resolve()})"
    ) in run.stderr
    assert (
        "orch reads across warehouses only from one DuckDB file to another (by ATTACH, "
        "read-only). Point both profiles at the same warehouse (members may use different "
        "schemas), or have 'finance' write the data where 'marketing' can read it"
    ) in run.stderr


def test_a_profile_may_attach_a_file_itself(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "other.duckdb"))
    con.execute("create schema s; create table s.t as select 7 as x")
    con.close()
    root = write_project(
        tmp_path / "p",
        {
            "models/m.sql": "select x from {{ source('ext', 't') }}",
            "models/sources.yml": (
                "sources:\n  - name: ext\n    database: other\n    schema: s\n"
                "    tables:\n      - name: t\n"
            ),
        },
        project_yml="name: p\nmodels:\n  p:\n    +materialized: table\n",
        profiles_yml=(
            "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: main.duckdb\n"
            "      attach:\n        - {path: ../other.duckdb, alias: other}\n"
        ),
    )
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert rows(root / "main.duckdb", "select * from m") == [(7,)]
    assert rows(tmp_path / "other.duckdb", "select * from s.t") == [(7,)]  # untouched
