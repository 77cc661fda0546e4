"""Parquet-stored assets and external SQL models: partitions as files, the window read, SQL
reading them with read_parquet, Snowflake's compile-time error. Real files, DuckDB, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from orch.assets import PartitionWindow
from orch.run.io import ParquetIOManager
from orch.storage import InputContext, OutputContext

STORAGE = Path(".orch", "storage", "dev")

EVENTS = '''\
from datetime import datetime

import polars as pl
from orch import AssetContext, asset


@asset(
    io_manager="parquet",
    partitioned_by={"grain": "daily", "start": "2024-01-01", "column": "day"},
)
def events(context: AssetContext) -> pl.DataFrame:
    day = context.partition.start
    return pl.DataFrame({"day": [day, day], "n": [day.day, day.day * 10]})


@asset(partitioned_by={"grain": "daily", "start": "2024-01-01", "column": "day"})
def daily_total(context: AssetContext, events: pl.DataFrame) -> pl.DataFrame:
    """Reads only its own day's file of events."""
    return events.group_by("day").agg(pl.col("n").sum().alias("total"))


@asset
def all_events(events: pl.DataFrame) -> pl.DataFrame:
    """Reads every stored partition."""
    return events.sort("n")
'''

SQL_READER = """\
select day, sum(n) as total from events group by day
"""


@pytest.fixture
def project(make_project, tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "p",
        {"models/events.py": EVENTS, "models/sql_total.sql": SQL_READER},
    )


def test_partitions_are_hive_style_files_and_windows_read_one(project: Path, orch) -> None:
    for day in ("2024-01-01", "2024-01-02"):
        run = orch("build", "--project-dir", project, "-s", "events", "--partition", day)
        assert run.exit_code == 0, run.output
    folder = project / STORAGE / "parquet" / "events"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "key=2024-01-01/data.parquet",
        "key=2024-01-02/data.parquet",
    ]
    # the other partition's file is garbage: a step that opened it would fail
    (folder / "key=2024-01-02" / "data.parquet").write_bytes(b"not parquet")
    run = orch("build", "--project-dir", project, "-s", "daily_total", "--partition", "2024-01-01")
    assert run.exit_code == 0, run.output
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select total from analytics.daily_total").fetchall() == [(11,)]


def test_sql_model_reads_parquet_asset_with_read_parquet(project: Path, orch) -> None:
    for day in ("2024-01-01", "2024-01-02"):
        run = orch("build", "--project-dir", project, "-s", "events", "--partition", day)
        assert run.exit_code == 0, run.output
    run = orch("build", "--project-dir", project, "-s", "sql_total", "all_events")
    assert run.exit_code == 0, run.output
    compiled = json.loads((project / "target" / "manifest.json").read_text())
    sql = compiled["nodes"]["sql_total"]["compiled_code"]
    glob = (project / STORAGE / "parquet" / "events").as_posix() + "/key=*/data.parquet"
    assert f"READ_PARQUET('{glob}', hive_partitioning = FALSE)" in sql
    assert compiled["nodes"]["sql_total"]["depends_on"] == ["events"]
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select total from analytics.sql_total order by 1").fetchall() == [
            (11,),
            (22,),
        ]
        assert con.execute("select count(*) from analytics.all_events").fetchall() == [(4,)]
    lineage = orch("lineage", "--project-dir", project, "sql_total")
    assert "events" in lineage.output
    shown = orch("show", "--project-dir", project, "-s", "sql_total")
    assert shown.exit_code == 0, shown.output
    assert "22" in shown.stdout and "11" in shown.stdout


def test_reading_one_partition_of_1000_opens_only_its_file(tmp_path: Path) -> None:
    io = ParquetIOManager(base_dir=str(tmp_path))
    days = [f"k{i:04d}" for i in range(1000)]
    for day in days:
        out = OutputContext(key=("daily", day), asset="daily", partition=PartitionWindow(day))
        io.handle_output(out, pl.DataFrame({"k": [day]}))
    assert len(list((tmp_path / "daily").glob("key=*/data.parquet"))) == 1000
    ctx = InputContext(
        name="daily",
        upstream_output=OutputContext(key=("daily",), asset="daily"),
        asset="down",
        partition_keys=["k0500"],
    )
    assert io.files_for(ctx) == [str(tmp_path / "daily" / "key=k0500" / "data.parquet")]
    for day in days:  # every other file made unreadable: only k0500's may be opened
        if day != "k0500":
            (tmp_path / "daily" / f"key={day}" / "data.parquet").write_bytes(b"x")
    assert io.load_input(ctx)["k"].to_list() == ["k0500"]


def test_snowflake_target_refuses_sql_reading_parquet_at_compile(
    make_project, tmp_path: Path, orch
) -> None:
    path = make_project(
        tmp_path / "p",
        {"models/events.py": EVENTS, "models/sql_total.sql": SQL_READER},
        profiles_yml="""\
            shop:
              target: dev
              outputs:
                dev:
                  type: snowflake
                  account: acme
                  user: me
                  password: pw
                  database: db
                  warehouse: wh
                  schema: analytics
        """,
    )
    run = orch("compile", "--project-dir", path)
    assert run.exit_code == 2, run.output
    assert (
        "models/sql_total.sql: model 'sql_total' reads 'events', which is stored as Parquet "
        "files by the IO manager 'parquet'; the snowflake target cannot read local files"
        in run.stderr
    )


EXTERNAL = """\
{{ config(materialized='external', location='exports/orders.parquet') }}
select * from (values (1, 'a', 5.0), (2, 'b', 7.5), (3, 'a', 1.0)) as t(id, shop, amount)
"""


def test_external_model_writes_files_downstream_reads_them(make_project, tmp_path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders_file.sql": EXTERNAL,
            "models/by_shop.sql": "select shop, sum(amount) as total from orders_file group by 1",
            "models/by_shop_csv.sql": """\
                {{ config(materialized='external', format='csv', location='exports/shop.csv') }}
                select * from by_shop
            """,
            "models/split.sql": """\
                {{ config(materialized='external', partition_by=['shop']) }}
                select * from orders_file
            """,
            "models/from_split.sql": "select count(*) as n from split",
            "models/py_reader.py": """\
                import polars as pl
                from orch import asset

                @asset
                def py_reader(orders_file: pl.DataFrame, by_shop_csv) -> pl.DataFrame:
                    return orders_file.join(by_shop_csv, on="shop")
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 0, run.output
    exported = path / "exports" / "orders.parquet"
    assert pl.read_parquet(exported).height == 3
    assert [p.name for p in exported.parent.iterdir()] and not [
        p for p in exported.parent.iterdir() if p.name.startswith(".orch-tmp")
    ]
    assert (path / "exports" / "shop.csv").read_text().splitlines()[0] == "shop,total"
    split = path / STORAGE / "external" / "split"
    assert sorted(p.name for p in split.iterdir()) == ["shop=a", "shop=b"]
    with duckdb.connect(str(path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select * from analytics.by_shop order by 1").fetchall() == [
            ("a", 6.0),
            ("b", 7.5),
        ]
        assert con.execute("select n from analytics.from_split").fetchall() == [(3,)]
        assert con.execute("select count(*) from analytics.py_reader").fetchall() == [(3,)]
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert "orders_file" not in tables
    # a second build replaces the files in place
    assert orch("build", "--project-dir", path, "-s", "split").exit_code == 0
    assert sorted(p.name for p in split.iterdir()) == ["shop=a", "shop=b"]


def test_external_bad_format_is_a_config_error(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {"models/x.sql": "{{ config(materialized='external', format='xlsx') }}\nselect 1 as a"},
    )
    run = orch("compile", "--project-dir", path)
    assert run.exit_code == 2
    assert (
        "models/x.sql: external model 'x': format 'xlsx' is not supported (use parquet or csv)"
        in run.stderr
    )


def test_partition_deleted_by_hand_is_reported_missing_and_rebuilt(project: Path, orch) -> None:
    for day in ("2024-01-01", "2024-01-02"):
        run = orch("build", "--project-dir", project, "-s", "events", "--partition", day)
        assert run.exit_code == 0, run.output
    gone = project / STORAGE / "parquet" / "events" / "key=2024-01-02" / "data.parquet"
    gone.unlink()
    status = orch("status", "--project-dir", project, "-s", "events", "--output", "json")
    (asset,) = json.loads(status.stdout)["assets"]
    by_key = {p["key"]: p for p in asset["partitions"]}
    assert by_key["2024-01-01"]["status"] == "up to date"
    assert by_key["2024-01-02"]["status"] == "missing"
    assert by_key["2024-01-02"]["reason"] == f"missing: its file {gone} was deleted"
    text = orch("status", "--project-dir", project, "-s", "events").output
    assert "DELETED" in text or "missing" in text
    run = orch("build", "--project-dir", project, "-s", "events", "--partition", "2024-01-02")
    assert run.exit_code == 0 and gone.is_file()


KEYED = """\
import polars as pl
from orch import AssetContext, asset


@asset(io_manager="parquet", partitioned_by={{"keys": {keys}, "column": "k"}})
def keyed(context: AssetContext) -> pl.DataFrame:
    return pl.DataFrame({{"k": [context.partition_key]}})
"""


def test_full_refresh_removes_the_old_files_it_owns_and_only_those(
    make_project, tmp_path: Path, orch
) -> None:
    path = make_project(tmp_path / "p", {"models/keyed.py": KEYED.format(keys=["a", "b"])})
    assert orch("build", "--project-dir", path).exit_code == 0
    folder = path / STORAGE / "parquet" / "keyed"
    assert sorted(p.name for p in folder.iterdir()) == ["key=a", "key=b"]
    (folder / "README.txt").write_text("not orch's")
    (path / "models" / "keyed.py").write_text(KEYED.format(keys=["a", "c"]))
    run = orch("build", "--project-dir", path, "--full-refresh")
    assert run.exit_code == 0, run.output
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["README.txt", "key=a/data.parquet", "key=c/data.parquet"]
    assert "full refresh: removed 2 old file(s)" in run.output


def test_partitioned_sql_model_reads_its_window_of_a_parquet_asset(
    make_project, tmp_path: Path, orch
) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/events.py": EVENTS,
            "models/daily_sql.sql": """\
                {{ config(materialized='incremental', partitioned_by={
                    'grain': 'daily', 'start': '2024-01-01', 'column': 'day'}) }}
                select day, sum(n) as total from events group by day
            """,
        },
    )
    for day in ("2024-01-01", "2024-01-02"):
        run = orch("build", "--project-dir", path, "-s", "events", "--partition", day)
        assert run.exit_code == 0, run.output
    run = orch("build", "--project-dir", path, "-s", "daily_sql", "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output
    with duckdb.connect(str(path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select total from analytics.daily_sql").fetchall() == [(22,)]


def test_full_refresh_removes_an_object_assets_old_partition_files(
    make_project, tmp_path: Path, orch
) -> None:
    model = """\
from orch import AssetContext, asset


@asset(partitioned_by={{"keys": {keys}}})
def stats(context: AssetContext) -> dict:
    return {{"key": context.partition_key}}
"""
    path = make_project(tmp_path / "p", {"models/stats.py": model.format(keys=["a", "b"])})
    assert orch("build", "--project-dir", path).exit_code == 0
    folder = path / STORAGE / "objects" / "stats"
    assert sorted(p.name for p in folder.iterdir()) == ["a", "b"]
    (path / "models" / "stats.py").write_text(model.format(keys=["a"]))
    run = orch("build", "--project-dir", path, "--full-refresh")
    assert run.exit_code == 0, run.output
    assert sorted(p.name for p in folder.iterdir()) == ["a"]
