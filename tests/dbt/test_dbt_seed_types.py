"""Seed column types and values on DuckDB are dbt-duckdb's (agate's inference, DuckDB's COPY).

``probe_dbt/seeds/value_shapes.csv`` holds one column per shape; the expected types and rows are
what ``dbt seed`` (dbt-core 1.11.16, dbt-duckdb 1.11.1) created from that file, and
``bench/compare_dbt.py --project probe_dbt`` compares the two side by side.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from orch.load.dbt_seeds import column_type

from tests.dbt.conftest import RunOrch, Warehouse

DBT_TYPES = {
    "id": "INTEGER",
    "whole": "INTEGER",
    "dot_zero": "INTEGER",  # 3.0, 6.00: agate's MaxPrecision of the normalized values is 0
    "decimals": "DOUBLE",
    "trailing_zeros": "DOUBLE",
    "signed": "INTEGER",  # -1, +3
    "leading_zeros": "INTEGER",  # 007 is a number: 7
    "scientific": "INTEGER",  # 1e3, 2.5e2, 3E1
    "padded": "INTEGER",  # ' 5', '6 '
    "day": "DATE",  # strptime('%Y-%m-%d'): 2024-1-5 and ' 2024-02-03 ' are dates
    "stamp_space": "TIMESTAMP",  # strptime('%Y-%m-%d %H:%M:%S'): 2024-01-02 1:2:3 too
    "stamp_iso": "TIMESTAMP",  # ISO 8601 with T: minutes only, fractions, Z
    "date_and_stamp": "VARCHAR",  # dates and date-times mixed: text
    "flag": "BOOLEAN",  # true, FALSE, True, an empty cell
    "sparse_int": "INTEGER",
    "note": "VARCHAR",
    "all_empty": "INTEGER",  # no value at all
    "mixed": "VARCHAR",
    "null_text": "VARCHAR",
    "clock": "VARCHAR",  # a time of day is no agate type
}
DBT_ROWS = [
    (1, 1, 3, 1.5, 1.5, -1, 7, 1000, 5, date(2024, 1, 1), datetime(2024, 1, 1, 10),
     datetime(2024, 1, 1, 10), "2024-01-01", True, 1, "a", None, "1", "null", "10:00:00"),
    (2, 2, 4, 2.25, 2.1, -20, 10, 250, 6, date(2024, 1, 5), datetime(2024, 1, 2, 1, 2, 3),
     datetime(2024, 1, 2, 10), "2024-01-02 10:00:00", False, None, None, None, "a", "x",
     "11:00:00"),
    (3, 3, 5, -3.0, 3.0, 3, 0, 30, 7, date(2024, 12, 31), datetime(2024, 1, 3, 23, 59, 59),
     datetime(2024, 1, 3, 10, 0, 0, 123456), "2024-01-03", True, 3, None, None, "2", "NULL",
     "12:00"),
    (4, 4, 6, 4.0, 4.0, 0, 12, 4, 8, date(2024, 2, 3), datetime(2024, 1, 4),
     datetime(2024, 1, 4, 10), "2024-01-04", None, None, "  d ", None, "b", "Null", "13:00:00"),
]  # fmt: skip


def test_seed_types_and_values_are_dbt_duckdbs(probe: Path, orch: RunOrch, probe_db: Warehouse):
    result = orch("seed", "-s", "value_shapes", "--project-dir", str(probe))
    assert result.exit_code == 0, result.output + result.stderr
    assert probe_db.types("main.value_shapes") == DBT_TYPES
    # an empty cell is NULL, quoted ("") or not, also in a text column; 'null' stays text;
    # a text keeps its spaces ('  d ')
    assert probe_db.rows("select * from main.value_shapes order by id") == DBT_ROWS


def test_the_manifest_lists_the_seed_types(probe: Path, orch: RunOrch):
    result = orch("compile", "--project-dir", str(probe))
    assert result.exit_code == 0, result.output + result.stderr
    manifest = (probe / "target" / "manifest.json").read_text()
    node = __import__("json").loads(manifest)["nodes"]["seed.probe_dbt.value_shapes"]
    assert {c: node["config"]["column_types"][c] for c in DBT_TYPES} == DBT_TYPES


# agate's verdicts (dbt_common's type tester, agate 1.9.1), checked value by value against it;
# the first group dbt-duckdb's COPY then fails to load, as orch's cast does
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1,000", "2,500", "3"], "INTEGER"),  # the group symbol is dropped
        (["$5", "-$2", "7"], "INTEGER"),  # currency symbols are stripped
        (["5%", "6%"], "INTEGER"),
        (["1_000", "2"], "INTEGER"),  # Decimal() reads underscores
        (["nan", "1.5"], "DOUBLE"),  # NaN is a number; its precision is not counted
        (["inf", "1"], "INTEGER"),
        (["3000000000", "1"], "BIGINT"),  # orch on purpose: dbt creates INTEGER, fails to load
        (["2024-01-01T10:00:00+02:00"], "TIMESTAMP"),
        (["20240101T100000", "2024-W01-1T10:00", "2024-032T10"], "TIMESTAMP"),  # isodate forms
        (["2024-01-01T10:60"], "VARCHAR"),
        (["2024-01-01t10:00"], "VARCHAR"),  # the designator is a capital T
        (["2024-01-01 10:00"], "VARCHAR"),  # a space needs the seconds
        (["2024-01-01 10:00:00.5"], "VARCHAR"),
        (["2024-01-01 10:00:00", "2024-01-02T10:00:00"], "VARCHAR"),  # two spellings mixed
        (["2024/01/01"], "VARCHAR"),
        (["2024-02-30"], "VARCHAR"),
        (["20240101"], "INTEGER"),  # a number before it could be a date
        (["tr,ue", "false"], "BOOLEAN"),  # commas are dropped
        (["yes", "no"], "VARCHAR"),
        (["1", "0"], "INTEGER"),
        ([], "INTEGER"),
    ],
    ids=lambda v: repr(v) if isinstance(v, list) else v,
)
def test_column_type_is_agates(values: list[str], expected: str):
    assert column_type(values) == expected


def test_a_value_duckdb_cannot_cast_fails_the_seed_as_in_dbt(
    probe: Path, orch: RunOrch, probe_db: Warehouse
):
    # agate calls '1,000' a number: dbt creates an INTEGER column and DuckDB's COPY refuses it
    (probe / "seeds" / "grouped.csv").write_text('id,qty\n1,"1,000"\n2,3\n', encoding="utf-8")
    result = orch("seed", "-s", "grouped", "--project-dir", str(probe))
    assert result.exit_code == 1
    # DuckDB's own message, as dbt-duckdb's COPY gives it
    assert """Could not convert string "1,000" to 'INTEGER'""" in result.output + result.stderr


def test_seed_cells_are_read_by_duckdbs_csv_reader_as_in_dbt(
    probe: Path, orch: RunOrch, probe_db: Warehouse
):
    """dbt-duckdb loads a seed with COPY: DuckDB sniffs the quote character (here ') and reads
    a quoted empty value as NULL (dbt_utils' data_nullcheck_table; same rows as dbt seed)."""
    (probe / "seeds" / "nullcheck.csv").write_text(
        "field_1,field_2,field_3\na,'',1\n'',b,2\n'','',3\n", encoding="utf-8"
    )
    result = orch("seed", "-s", "nullcheck", "--project-dir", str(probe))
    assert result.exit_code == 0, result.output + result.stderr
    assert probe_db.rows("select * from main.nullcheck order by field_3") == [
        ("a", None, 1), (None, "b", 2), (None, None, 3),
    ]  # fmt: skip
    assert probe_db.types("main.nullcheck") == {
        "field_1": "VARCHAR", "field_2": "VARCHAR", "field_3": "INTEGER",
    }  # fmt: skip
