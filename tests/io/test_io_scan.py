"""A partitioned SQL model reading a partitioned Parquet asset opens only the files of the
partitions its step needs (bound at run time), never another partition's file; a missing one
is a clear error. Real files, DuckDB, the CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
from orch.assets import PartitionWindow
from orch.run.io import ParquetIOManager
from orch.storage import OutputContext

STORAGE = Path(".orch", "storage", "dev")

EVENTS = """\
import polars as pl
from orch import AssetContext, asset


@asset(
    io_manager="parquet",
    partitioned_by={"grain": "daily", "start": "2024-01-01", "column": "day"},
)
def events(context: AssetContext) -> pl.DataFrame:
    day = context.partition.start
    return pl.DataFrame({"day": [day, day], "n": [day.day, day.day * 10]})
"""


def reader(grain: str, extra: str = "") -> str:
    return f"""\
        {{{{ config(materialized='incremental', partitioned_by={{
            'grain': '{grain}', 'start': '2024-01-01', 'column': 'day'{extra}}}) }}}}
        select min(day) as day, sum(n) as total, count(*) as n_rows from events
    """


def _project(make_project, root: Path) -> Path:
    return make_project(
        root,
        {
            "models/events.py": EVENTS,
            "models/daily_sql.sql": reader("daily"),
            "models/weekly_sql.sql": reader("weekly"),
            "models/all_days.sql": reader("daily", ", 'filter_upstream': False").replace(
                "min(day)", "cast({{ partition.start }} as timestamp)"
            ),
            "models/unpartitioned.sql": "select count(*) as n_rows from events",
        },
    )


def _build_events(orch, root: Path, first: str, last: str) -> None:
    run = orch("build", "--project-dir", root, "-s", "events", "--start", first, "--end", last)
    assert run.exit_code == 0, run.output


def _corrupt(root: Path, *days: str) -> None:
    """Make partitions' files garbage: a step that opened one would fail."""
    for day in days:
        (root / STORAGE / "parquet" / "events" / f"key={day}" / "data.parquet").write_bytes(b"x")


def _rows(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_daily_step_opens_only_its_own_days_file(make_project, tmp_path: Path, orch) -> None:
    root = _project(make_project, tmp_path / "p")
    _build_events(orch, root, "2024-01-01", "2024-01-03")
    _corrupt(root, "2024-01-01", "2024-01-03")  # the neighbours of the day read
    run = orch("build", "--project-dir", root, "-s", "daily_sql", "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output
    assert _rows(root, "select total, n_rows from analytics.daily_sql") == [(22, 2)]
    assert orch("compile", "--project-dir", root).exit_code == 0
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    compiled = manifest["nodes"]["daily_sql"]["compiled_code"]
    assert "READ_PARQUET('__orch_parquet_files__events__', hive_partitioning = FALSE)" in compiled
    # orch show binds the same files
    shown = orch("show", "--project-dir", root, "-s", "daily_sql", "--partition", "2024-01-02")
    assert shown.exit_code == 0, shown.output
    assert "22" in shown.stdout


def test_a_weekly_step_opens_the_files_of_its_seven_days(make_project, tmp_path, orch) -> None:
    root = _project(make_project, tmp_path / "p")
    _build_events(orch, root, "2024-01-01", "2024-01-08")
    _corrupt(root, "2024-01-08")  # the next week's first day
    run = orch("build", "--project-dir", root, "-s", "weekly_sql", "--partition", "2024-W01")
    assert run.exit_code == 0, run.output
    assert _rows(root, "select total, n_rows from analytics.weekly_sql") == [
        (sum(d + 10 * d for d in range(1, 8)), 14)
    ]


def test_missing_upstream_partitions_fail_the_step_naming_asset_and_keys(
    make_project, tmp_path: Path, orch
) -> None:
    root = _project(make_project, tmp_path / "p")
    _build_events(orch, root, "2024-01-01", "2024-01-03")
    run = orch("build", "--project-dir", root, "-s", "weekly_sql", "--partition", "2024-W01")
    assert run.exit_code == 1
    folder = root / STORAGE / "parquet" / "events"
    assert (
        "model 'weekly_sql' partition 2024-W01 reads 'events', which has no Parquet file for "
        f"partition(s) 2024-01-04..2024-01-07 (under {folder}). Build them first: orch build -s "
        "events --start 2024-01-04 --end 2024-01-07" in run.output
    )
    assert "Traceback" not in run.output
    (folder / "key=2024-01-02" / "data.parquet").unlink()  # one deleted by hand
    run = orch("build", "--project-dir", root, "-s", "daily_sql", "--partition", "2024-01-02")
    assert run.exit_code == 1
    assert "which has no Parquet file for partition(s) 2024-01-02" in run.output
    assert "orch build -s events --partition 2024-01-02" in run.output


def test_readers_of_the_whole_upstream_keep_the_glob(make_project, tmp_path, orch) -> None:
    root = _project(make_project, tmp_path / "p")
    _build_events(orch, root, "2024-01-01", "2024-01-03")
    run = orch(
        "build", "--project-dir", root, "-s", "all_days", "unpartitioned", "--partition",
        "2024-01-02",
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert _rows(root, "select n_rows from analytics.all_days") == [(6,)]  # filter_upstream: false
    assert _rows(root, "select n_rows from analytics.unpartitioned") == [(6,)]
    assert orch("compile", "--project-dir", root).exit_code == 0
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    glob = (root / STORAGE / "parquet" / "events").as_posix() + "/key=*/data.parquet"
    assert f"READ_PARQUET('{glob}'" in manifest["nodes"]["unpartitioned"]["compiled_code"]


def test_one_partition_of_a_1000_file_asset_opens_only_its_file(
    make_project, tmp_path: Path, orch
) -> None:
    root = _project(make_project, tmp_path / "p")
    io = ParquetIOManager(base_dir=str(root / STORAGE / "parquet"))
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(1000)]
    for day in days:
        key = day.isoformat()
        out = OutputContext(key=("events", key), asset="events", partition=PartitionWindow(key))
        io.handle_output(out, pl.DataFrame({"day": [day], "n": [day.day]}))
    wanted = days[500].isoformat()
    _corrupt(root, *(d.isoformat() for d in days if d != days[500]))
    run = orch("build", "--project-dir", root, "-s", "daily_sql", "--partition", wanted)
    assert run.exit_code == 0, run.output
    assert _rows(root, "select total, n_rows from analytics.daily_sql") == [(days[500].day, 1)]
