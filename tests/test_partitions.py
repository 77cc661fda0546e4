"""Partition definitions: keys, windows, ranges, mapping, compression and literal binding."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from orch.config import PartitionConfig
from orch.errors import PartitionError
from orch.partitions import (
    StaticKeys,
    TimeWindows,
    bind_partition,
    compress,
    definition_of,
    upstream_keys,
    window_condition,
)
from orch.run.partition_plan import PartitionRequest


def define(**kwargs: object) -> TimeWindows | StaticKeys:
    return definition_of(PartitionConfig(**kwargs))  # type: ignore[arg-type]


DAILY = define(grain="daily", start="2024-01-01", end="2025-01-01", column="ts")
MONTHLY = define(grain="monthly", start="2024-01-01", column="month")
WEEKLY = define(grain="weekly", start="2024-01-01", column="ts")
HOURLY = define(grain="hourly", start="2024-01-01", column="ts", timezone="Europe/Paris")


@pytest.mark.parametrize(
    ("definition", "key", "window"),
    [
        (DAILY, "2024-01-31", (datetime(2024, 1, 31), datetime(2024, 2, 1))),
        (MONTHLY, "2024-12", (datetime(2024, 12, 1), datetime(2025, 1, 1))),
        (WEEKLY, "2024-W05", (datetime(2024, 1, 29), datetime(2024, 2, 5))),
        (HOURLY, "2024-03-31T23", (datetime(2024, 3, 31, 23), datetime(2024, 4, 1))),
    ],
    ids=["daily", "monthly-year-end", "weekly-iso", "hourly"],
)
def test_key_windows(definition: TimeWindows, key: str, window: tuple[datetime, datetime]) -> None:
    assert definition.window(key) == window


@pytest.mark.parametrize(
    ("definition", "key", "message"),
    [
        (
            DAILY,
            "2024/01/31",
            "invalid partition key '2024/01/31'. Expected YYYY-MM-DD (e.g. 2024-01-31)",
        ),
        (
            DAILY,
            "2023-12-31",
            "partition key '2023-12-31' is outside the definition's range (daily from 2024-01-01 "
            "until 2025-01-01). Use a key from 2024-01-01 to 2024-12-31",
        ),
        (
            DAILY,
            "2025-01-01",
            "partition key '2025-01-01' is outside the definition's range (daily from 2024-01-01 "
            "until 2025-01-01). Use a key from 2024-01-01 to 2024-12-31",
        ),
        (
            MONTHLY,
            "2024-01-01",
            "invalid partition key '2024-01-01'. Expected YYYY-MM (e.g. 2024-01)",
        ),
        (
            MONTHLY,
            "2024-13",
            "invalid partition key '2024-13': month must be in 1..12. Expected YYYY-MM "
            "(e.g. 2024-01)",
        ),
    ],
    ids=["format", "before-start", "at-end", "wrong-grain", "bad-month"],
)
def test_invalid_keys(definition: TimeWindows, key: str, message: str) -> None:
    with pytest.raises(PartitionError) as err:
        definition.validate(key)
    assert err.value.format_message() == message
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"grain": "monthly", "start": "2024-01-15"},
            "monthly partitions must start on the first day of a month, not '2024-01-15'. "
            "Use start: '2024-01-01'",
        ),
        (
            {"grain": "weekly", "start": "2024-01-03"},
            "weekly partitions must start on a Monday (ISO weeks), not '2024-01-03'. "
            "Use start: '2024-01-01'",
        ),
        (
            {"grain": "daily", "start": "2024-01-01", "end": "2023-01-01"},
            "partition end '2023-01-01' is not after its start '2024-01-01'",
        ),
        (
            {"grain": "daily", "start": "Jan 1st"},
            "invalid partition start 'Jan 1st'. Expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]",
        ),
        (
            {"grain": "daily", "start": "2024-01-01", "timezone": "Mars/Olympus"},
            "unknown timezone 'Mars/Olympus'. Use an IANA name such as UTC or Europe/Paris",
        ),
        ({"keys": ["eu", "us", "eu"]}, "duplicate partition keys: eu"),
    ],
    ids=["monthly-unaligned", "weekly-not-monday", "end-before-start", "bad-start", "tz", "dupes"],
)
def test_invalid_definitions(config: dict[str, object], message: str) -> None:
    with pytest.raises(PartitionError) as err:
        define(**config)
    assert err.value.format_message() == message


def test_last_complete_key_respects_timezone_and_end() -> None:
    now = datetime(2024, 3, 1, 12, 30, tzinfo=timezone.utc)  # 13:30 in Paris
    assert HOURLY.last_complete_key(now) == "2024-03-01T12"
    assert DAILY.last_complete_key(now) == "2024-02-29"
    assert MONTHLY.last_complete_key(now) == "2024-02"
    assert DAILY.last_complete_key(datetime(2030, 1, 1, tzinfo=timezone.utc)) == "2024-12-31"
    assert DAILY.last_complete_key(datetime(2024, 1, 1, 5, tzinfo=timezone.utc)) is None


def test_keys_between_and_overlapping() -> None:
    keys = DAILY.keys_between("2024-02-27", "2024-03-02")
    assert keys == ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"]
    assert len(DAILY.keys_between("2024-01-01", "2024-12-31")) == 366
    feb = DAILY.keys_overlapping(datetime(2024, 2, 1), datetime(2024, 3, 1), "2024-12-31")
    assert feb[0] == "2024-02-01" and feb[-1] == "2024-02-29" and len(feb) == 29


@pytest.mark.parametrize(
    ("down", "key", "up", "expected"),
    [
        (DAILY, "2024-02-03", DAILY, ["2024-02-03"]),
        (MONTHLY, "2024-02", DAILY, [f"2024-02-{d:02d}" for d in range(1, 30)]),
        (DAILY, "2024-02-03", MONTHLY, ["2024-02"]),
        (DAILY, "2024-02-03", WEEKLY, ["2024-W05"]),
        (DAILY, "2024-02-03", None, None),
        (MONTHLY, "2024-02", StaticKeys(("eu", "us")), None),
    ],
    ids=["same-grain", "coarser-reads-finer", "finer-reads-coarser", "weekly", "unpartitioned",
         "static-vs-time"],
)  # fmt: skip
def test_upstream_mapping(
    down: TimeWindows, key: str, up: TimeWindows | None, expected: list[str] | None
) -> None:
    assert upstream_keys(down, key, up) == expected


def test_static_keys() -> None:
    regions = define(keys=["eu", "us", "apac"], column="region")
    assert isinstance(regions, StaticKeys)
    assert regions.keys_between("eu", "us") == ["eu", "us"]
    with pytest.raises(PartitionError, match=r"unknown partition key 'latam'\. Use one of: eu"):
        regions.validate("latam")
    assert upstream_keys(regions, "us", StaticKeys(("us", "eu"))) == ["us"]


def test_compress_ranges() -> None:
    days = ["01", "02", "03", "04", "06", "07"]
    states = ["ok", "ok", "ok", "failed", "ok", "missing"]
    labels = [(f"2024-01-{d}", label) for d, label in zip(days, states, strict=True)]
    assert compress(labels, DAILY) == [
        "2024-01-01..2024-01-03 ok",
        "2024-01-04 failed",
        "2024-01-06 ok",
        "2024-01-07 missing",
    ]


def test_bind_partition_quotes_literals_for_the_dialect() -> None:
    condition = window_condition(DAILY, "ts", "duckdb").sql(dialect="duckdb")
    bound = bind_partition(condition, DAILY, "2024-01-31", "duckdb")
    assert bound == (
        "\"ts\" >= CAST('2024-01-31 00:00:00' AS TIMESTAMP) "
        "AND \"ts\" < CAST('2024-02-01 00:00:00' AS TIMESTAMP)"
    )
    tricky = StaticKeys(("o'brien",), "owner")
    sql = bind_partition(
        window_condition(tricky, "owner", "duckdb").sql("duckdb"), tricky, "o'brien", "duckdb"
    )
    assert sql == "\"owner\" = 'o''brien'"


@pytest.mark.parametrize(
    ("column", "dialect", "expected"),
    [
        ("ordered_at", "snowflake", '"ORDERED_AT"'),
        ('"orderedAt"', "snowflake", '"orderedAt"'),
        ("ordered_at", "duckdb", '"ordered_at"'),
        ("Ordered_At", "duckdb", '"ordered_at"'),
    ],
    ids=["snowflake-upper", "snowflake-quoted-keeps-case", "duckdb", "duckdb-case-insensitive"],
)
def test_window_condition_names_the_column_as_the_target_stores_it(
    column: str, dialect: str, expected: str
) -> None:
    sql = window_condition(DAILY, column, dialect).sql(dialect=dialect)
    assert sql.startswith(f"{expected} >= CAST(")
    static = window_condition(StaticKeys(("eu",), column), column, dialect, table="t")
    assert static.sql(dialect=dialect) == f"\"t\".{expected} = '__orch_partition_key__'"


def test_request_start_after_end() -> None:
    with pytest.raises(PartitionError) as err:
        PartitionRequest(start="2024-03-01", end="2024-02-01").validate()
    assert err.value.format_message() == (
        "the range starts after it ends: --start 2024-03-01 --end 2024-02-01. Swap them: --start "
        "is the first partition, --end the last (included)"
    )
    PartitionRequest(start="2024-01-15", end="2024-01").validate()  # overlapping: fine
