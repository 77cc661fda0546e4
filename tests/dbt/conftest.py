"""Fixtures for the dbt-compatibility tests: a copy of a dbt fixture project, ready to build.

The fixture projects under ``fixtures/`` are dbt projects written for these tests. A build runs
the real CLI (``orch build --project-dir <copy>``) in-process with click's CliRunner.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result
from orch.cli import cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"

RunOrch = Callable[..., Result]


def without_hash(unique_id: str) -> str:
    """A test's ``unique_id`` without dbt's hash suffix (``test.<proj>.<name>.<md5[-10:]>``)."""
    parts = unique_id.split(".")
    return ".".join(parts[:3]) if parts[0] == "test" and len(parts) == 4 else unique_id


def load_raw_batches(database: Path) -> None:
    """Write the source ``roastery.roast_batches`` as the roasting machine's loader would."""
    con = duckdb.connect(str(database))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS roastery_raw")
        con.execute(
            "CREATE OR REPLACE TABLE roastery_raw.batches_v1 AS SELECT * FROM (VALUES "
            "(1, 'ETH', DATE '2024-03-01', 12.5), (2, 'COL', DATE '2024-03-02', NULL)) "
            "AS t(batch_id, bean_code, roasted_on, kilos)"
        )
    finally:
        con.close()


def copy_fixture(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unset: tuple[str, ...] = ()
) -> Path:
    """A copy of ``fixtures/<name>`` made the current directory, with ``HOME`` and the
    ``*_PROFILES_DIR`` variables (and ``unset``) isolated so no real ~/.dbt/profiles.yml is read."""
    project = tmp_path / name
    shutil.copytree(FIXTURES / name, project)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR", *unset):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(project)
    return project


@pytest.fixture
def coffee(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/coffee_dbt`` with its source table loaded; the current directory.

    dbt is run from the project folder, so the tests do the same (the profile's relative DuckDB
    path is opened from the current directory, as dbt-duckdb does). ``HOME`` and the
    ``*_PROFILES_DIR`` variables are isolated so no real ~/.dbt/profiles.yml is read.
    """
    unset = ("COFFEE_REGION", "COFFEE_CI_DB")
    project = copy_fixture("coffee_dbt", tmp_path, monkeypatch, unset=unset)
    load_raw_batches(project / "coffee.duckdb")
    return project


@pytest.fixture
def orch() -> RunOrch:
    """``orch(*args)`` runs the CLI in-process and returns click's Result (stderr separate)."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


class Warehouse:
    """A DuckDB file as tests read it (read-only, closed after each call)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str) -> list[tuple]:
        """Rows of ``sql``."""
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def types(self, relation: str) -> dict[str, str]:
        """``{column: type}`` of a relation, in column order."""
        return {row[0]: row[1] for row in self.rows(f"DESCRIBE {relation}")}

    def relations(self) -> set[tuple[str, str, str]]:
        """Every (schema, name, TABLE|VIEW) in the file."""
        rows = self.rows(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables"
        )
        return {(s, n, "VIEW" if t == "VIEW" else "TABLE") for s, n, t in rows}


@pytest.fixture
def warehouse(coffee: Path) -> Warehouse:
    """The coffee project's DuckDB file (``path: coffee.duckdb`` in its profile)."""
    return Warehouse(coffee / "coffee.duckdb")


@pytest.fixture
def bakery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/bakery_dbt`` (custom generic tests, hooks, snapshots); the current
    directory, ``HOME`` isolated as for ``coffee``."""
    return copy_fixture("bakery_dbt", tmp_path, monkeypatch)


@pytest.fixture
def bakery_db(bakery: Path) -> Warehouse:
    """The bakery project's DuckDB file."""
    return Warehouse(bakery / "bakery.duckdb")


# The seeds of snap_dbt's second and third builds (the first is the fixture's own): rows
# updated, deleted and added, then deleted rows back. bench/compare_dbt.py uses the same.
SNAP_BUILDS = {
    2: {
        "customers.csv": "id,name,tier,updated_at\n1,Ada Lovelace,gold,2024-01-01 08:00:00\n"
                         "2,Brian,gold,2024-02-01 10:00:00\n4,Dana,bronze,2024-02-01 11:00:00\n",
        "products.csv": "sku,name,price\nA,Apron XL,12.50\nB,Bowl,9.00\nD,Dish,6.00\n",
        "order_lines.csv": "order_id,line,qty,status\n100,1,2,placed\n100,2,3,placed\n"
                           "102,1,1,placed\n",
    },
    3: {
        "customers.csv": "id,name,tier,updated_at\n1,Ada Lovelace,gold,2024-01-01 08:00:00\n"
                         "2,Brian,gold,2024-02-01 10:00:00\n3,Chen,silver,2024-03-01 09:00:00\n"
                         "4,Dana,silver,2024-03-02 12:00:00\n",
        "products.csv": "sku,name,price\nA,Apron XL,12.50\nB,Bowl,9.00\nC,Cup,4.50\n",
        "order_lines.csv": "order_id,line,qty,status\n100,1,2,shipped\n100,2,3,placed\n"
                           "101,1,5,placed\n102,1,1,placed\n",
    },
}  # fmt: skip


def write_snap_build(project: Path, number: int) -> None:
    """Write the seeds of snap_dbt's ``number``-th build (2 or 3)."""
    for name, text in SNAP_BUILDS[number].items():
        (project / "seeds" / name).write_text(text, encoding="utf-8")


@pytest.fixture
def snap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/snap_dbt`` (snapshots, a dbt Python model, run hooks); the current
    directory, ``HOME`` isolated as for ``coffee``."""
    return copy_fixture("snap_dbt", tmp_path, monkeypatch)


@pytest.fixture
def snap_db(snap: Path) -> Warehouse:
    """The snap project's DuckDB file."""
    return Warehouse(snap / "snap.duckdb")


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/probe_dbt`` (macros that query the warehouse while rendering); the
    current directory, ``HOME`` isolated as for ``coffee``."""
    return copy_fixture("probe_dbt", tmp_path, monkeypatch)


@pytest.fixture
def probe_db(probe: Path) -> Warehouse:
    """The probe project's DuckDB file."""
    return Warehouse(probe / "probe.duckdb")


@pytest.fixture
def vers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/vers_dbt`` (dbt model versions); the current directory, ``HOME``
    isolated as for ``coffee``."""
    return copy_fixture("vers_dbt", tmp_path, monkeypatch)


# Stand-ins for dbt's own macros (the names dbt's global project and dbt-duckdb define; orch
# ships none of dbt's code and reads them from the installed dbt: orch.compiler.dbt_macros).
STUB_GLOBAL_MACROS = """\
{% macro is_incremental() %}{{ return(false) }}{% endmacro %}
{% macro after_commit(sql) %}{{ return(sql) }}{% endmacro %}
{% macro type_string() %}varchar{% endmacro %}
{% macro hash(field) %}md5({{ field }}){% endmacro %}
{% macro concat(fields) %}{{ fields | join(' || ') }}{% endmacro %}
{% macro get_where_subquery(relation) %}{{ return(relation) }}{% endmacro %}
{% macro default__test_unique(model, column_name) %}select 1{% endmacro %}
"""
STUB_GENERIC_TESTS = """\
{% test unique(model, column_name) %}{{ adapter.dispatch('test_unique', 'dbt')(model, column_name) }}{% endtest %}
{% test not_null(model, column_name) %}select 1{% endtest %}
"""  # noqa: E501


@pytest.fixture
def stub_dbt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dbt "installed" in a venv of its own, with stand-in built-in macros; ORCH_DBT names it."""
    venv = tmp_path / "stub_dbt_venv"
    include = venv / "lib" / "python3.11" / "site-packages" / "dbt" / "include"
    files = {
        "global_project/dbt_project.yml": "name: dbt\nversion: 1.0\n",
        "global_project/macros/stubs.sql": STUB_GLOBAL_MACROS,
        "global_project/tests/generic/builtin.sql": STUB_GENERIC_TESTS,
        "duckdb/dbt_project.yml": "name: dbt_duckdb\nversion: 1.0\n",
        "duckdb/macros/stubs.sql": "{% macro duckdb__type_string() %}varchar{% endmacro %}\n",
    }
    for rel, text in files.items():
        (include / rel).parent.mkdir(parents=True, exist_ok=True)
        (include / rel).write_text(text)
    (venv / "bin").mkdir()
    (venv / "bin" / "dbt").write_text("#!/bin/sh\n")
    monkeypatch.setenv("ORCH_DBT", str(venv / "bin" / "dbt"))
    return venv
