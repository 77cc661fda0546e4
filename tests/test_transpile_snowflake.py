"""DuckDB SQL sent to Snowflake either means the same there or is refused at compile time.

sqlglot writes some DuckDB constructs as Snowflake SQL that does not exist or means something
else (fakesnow runs it anyway, since it translates back to DuckDB). Series used as tables — the
usual date spine — are rewritten into the Snowflake idiom and checked row for row against DuckDB
(through fakesnow, which runs the rewritten SQL); the rest is an error naming file:line.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlglot
from orch.sql import transpile

from tests.conftest import MakeProject, run_cli
from tests.test_compile import SNOWFLAKE_PROFILES

SERIES = [
    "select cast(day as date) as d from range(date '2024-01-01', date '2025-01-01', interval 1 day)"
    " as spine(day)",
    "select * from generate_series(date '2024-01-15', date '2024-03-01', interval 1 month) t(m)",
    "select * from generate_series(timestamp '2024-01-01 12:00', timestamp '2024-01-03 06:00',"
    " interval 1 day) t(m)",
    "select * from range(timestamp '2024-01-01', timestamp '2024-01-02', interval 6 hour) t(m)",
    "select * from range(10) t(i)",
    "select i * 2 as j from generate_series(1, 10, 3) as t(i)",
]


@pytest.fixture(scope="module")
def snowflake_cursor() -> Iterator[object]:
    fakesnow = pytest.importorskip("fakesnow")
    import snowflake.connector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fakesnow.patch():
            con = snowflake.connector.connect(database="db", schema="s")
            yield con.cursor()
            con.close()


@pytest.mark.parametrize("query", SERIES, ids=range(len(SERIES)))
def test_a_series_table_becomes_the_snowflake_idiom_with_the_same_rows(
    query: str, snowflake_cursor: object
) -> None:
    tree = sqlglot.parse_one(query, read="duckdb")
    sql = transpile(tree, "snowflake", "m.sql", source="duckdb", pretty=False)
    assert "TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(" in sql
    assert "FROM ARRAY_GENERATE_RANGE" not in sql  # not a table function on Snowflake
    sqlglot.parse_one(sql, read="snowflake")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snowflake_cursor.execute(sql)  # type: ignore[attr-defined]
        rows = snowflake_cursor.fetchall()  # type: ignore[attr-defined]
    assert rows == duckdb.sql(query).fetchall()


@pytest.mark.parametrize(
    ("body", "line", "why"),
    [
        (
            "select 1 as x,\n"
            "  unnest(generate_series(date '2024-01-01', date '2024-01-31', interval 1 day)) as d",
            2,
            "generate_series() over dates becomes ARRAY_GENERATE_RANGE(), which takes only "
            "integers on Snowflake",
        ),
        (
            "select *\nfrom read_parquet('events/*.parquet')",
            2,
            "the table function read_parquet() in FROM has no Snowflake equivalent",
        ),
        (
            "select a.id, b.price\nfrom stg_a as a\n"
            "asof join stg_b as b on a.id = b.id and a.t >= b.t",
            3,
            "ASOF JOIN ... ON becomes Snowflake SQL without its MATCH_CONDITION clause",
        ),
    ],
    ids=["dated-series-in-select", "table-function", "asof-join"],
)
def test_an_unfaithful_construct_is_a_compile_error_at_its_line(
    tmp_path: Path, make_project: MakeProject, body: str, line: int, why: str
) -> None:
    project = make_project(
        tmp_path,
        {
            "models/stg_a.sql": "select 1 as id, timestamp '2024-01-01' as t",
            "models/stg_b.sql": "select 1 as id, timestamp '2024-01-01' as t, 2.5 as price",
            "models/m.sql": body,
        },
        profiles_yml=SNOWFLAKE_PROFILES,
    )
    result = run_cli("compile", "--project-dir", project, "--target", "sf")
    assert result.exit_code == 2, result.output
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(
        f"Error: models/m.sql:{line}: cannot translate from duckdb to snowflake: {why}"
    ), first
    assert "Traceback" not in result.stderr
    # the same project builds on DuckDB, where the SQL runs as written (read_parquet aside)
    if "read_parquet" not in body:
        assert run_cli("compile", "--project-dir", project).exit_code == 0


def test_a_source_read_from_files_is_refused_on_snowflake(
    tmp_path: Path, make_project: MakeProject
) -> None:
    """dbt-duckdb's external_location reads files; a Snowflake target cannot: one clear error."""
    project = make_project(
        tmp_path,
        {
            "models/sources.yml": "sources:\n  - name: raw\n    meta:\n      external_location: "
            "\"read_csv('data/{name}.csv')\"\n    tables:\n      - name: people\n",
            "models/m.sql": "select * from {{ source('raw', 'people') }}",
        },
        profiles_yml=SNOWFLAKE_PROFILES,
    )
    result = run_cli("compile", "--project-dir", project, "--target", "sf")
    assert result.exit_code == 2, result.output
    assert "model 'm' reads the source 'raw.people', whose external_location" in result.stderr
    assert "the snowflake target cannot read it" in result.stderr
    assert "Traceback" not in result.stderr
