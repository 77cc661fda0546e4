"""``materialized='external'`` at an fsspec URL (fsspec's ``memory://`` filesystem, the same one
for every command of a test since the CLI runs in-process): written through DuckDB's fsspec
support, read by SQL and Python downstream; a URL whose filesystem package is missing is a
compile-time error naming the model and what to install."""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

import duckdb
import fsspec
import pytest


@pytest.fixture
def lake() -> str:
    """A fresh folder of the in-memory filesystem, removed afterwards."""
    url = f"memory://lake-{uuid.uuid4().hex[:8]}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


def _models(location: str, extra: str = "") -> dict[str, str]:
    return {
        "models/orders_file.sql": f"""\
            {{{{ config(materialized='external', location='{location}'{extra}) }}}}
            select * from (values (1, 'a', 5.0), (2, 'b', 7.5), (3, 'a', 1.0))
                as t(id, shop, amount)
        """,
        # a table: a view over memory:// could be read only where the filesystem is registered
        "models/by_shop.sql": """\
            {{ config(materialized='table') }}
            select shop, sum(amount) as total from orders_file group by 1
        """,
        "models/py_count.py": """\
            import polars as pl
            from orch import asset

            @asset
            def py_count(orders_file: pl.DataFrame) -> pl.DataFrame:
                cols = ",".join(orders_file.columns)
                return pl.DataFrame({"n": [orders_file.height], "cols": [cols]})
        """,
    }


def _rows(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_external_model_at_a_url_is_written_and_read_downstream(
    make_project, tmp_path: Path, orch, lake: str
) -> None:
    url = f"{lake}/exports/orders.parquet"
    root = make_project(tmp_path / "p", _models(url))
    run = orch("build", "--project-dir", root, "--log-format", "json")
    assert run.exit_code == 0, run.output
    fs = fsspec.filesystem("memory")
    assert fs.exists(url)
    assert [p for p in fs.find(lake) if ".orch-tmp-" in p] == []  # the temporary name moved
    assert _rows(root, "select shop, total from analytics.by_shop order by 1") == [
        ("a", 6.0),
        ("b", 7.5),
    ]
    assert _rows(root, "select n, cols from analytics.py_count") == [(3, "id,shop,amount")]
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    done = {e["asset"]: e for e in events if e.get("metadata") and e.get("asset")}
    meta = done["orders_file"]["metadata"]
    assert meta["uri"] == url and meta["format"] == "parquet" and meta["rows"] == 3
    assert meta["bytes"] == fs.size(url)
    again = orch("build", "--project-dir", root, "--full-refresh")  # replaces the file
    assert again.exit_code == 0, again.output
    assert _rows(root, "select count(*) from analytics.py_count") == [(1,)]


def test_partitioned_and_csv_external_models_at_a_url(
    make_project, tmp_path: Path, orch, lake: str
) -> None:
    folder = f"{lake}/by_shop_files"
    root = make_project(tmp_path / "p", _models(folder, ", partition_by=['shop']"))
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    fs = fsspec.filesystem("memory")
    found = sorted(p.split("by_shop_files/", 1)[1].split("/", 1)[0] for p in fs.find(folder))
    assert found == ["shop=a", "shop=b"]
    assert _rows(root, "select shop, total from analytics.by_shop order by 1") == [
        ("a", 6.0),
        ("b", 7.5),
    ]
    csv = make_project(tmp_path / "c", _models(f"{lake}/orders.csv", ", format='csv'"))
    run = orch("build", "--project-dir", csv)
    assert run.exit_code == 0, run.output
    with fs.open(f"{lake}/orders.csv", "r") as handle:
        assert handle.readline().strip() == "id,shop,amount"
    assert _rows(csv, "select n from analytics.py_count") == [(3,)]


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_a_url_whose_filesystem_is_not_installed_fails_at_compile(
    make_project, tmp_path: Path, orch
) -> None:
    root = make_project(tmp_path / "p", _models("s3://bucket/orders.parquet"))
    run = orch("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert (
        "models/orders_file.sql: external model 'orders_file': its location "
        "s3://bucket/orders.parquet cannot be reached: Install s3fs to access S3. Install the "
        "fsspec filesystem package for this URL (s3fs for s3://" in run.stderr
    )
    assert "Traceback" not in run.stderr


def test_sql_reads_a_parquet_asset_stored_at_a_url(make_project, tmp_path, orch, lake) -> None:
    root = make_project(
        tmp_path / "p",
        {
            "models/events.py": """\
                import polars as pl
                from orch import AssetContext, asset

                @asset(
                    io_manager="parquet",
                    partitioned_by={"grain": "daily", "start": "2024-01-01", "column": "day"},
                )
                def events(context: AssetContext) -> pl.DataFrame:
                    day = context.partition.start
                    return pl.DataFrame({"day": [day], "n": [day.day]})
            """,
            "models/total.sql": """\
                {{ config(materialized='table') }}
                select sum(n) as total from events
            """,
            "models/daily.sql": """\
                {{ config(materialized='incremental', partitioned_by={
                    'grain': 'daily', 'start': '2024-01-01', 'column': 'day'}) }}
                select min(day) as day, sum(n) as total from events
            """,
        },
        project_yml=f"""\
            name: shop
            profile: shop
            resources:
              parquet:
                base_dir: {lake}/parquet
        """,
    )
    run = orch("build", "--project-dir", root, "-s", "events", "--start", "2024-01-01",
               "--end", "2024-01-03")  # fmt: skip
    assert run.exit_code == 0, run.output
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{lake}/parquet/events/key=2024-01-03/data.parquet", b"garbage")  # never opened
    run = orch("build", "--project-dir", root, "-s", "daily", "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output
    assert _rows(root, "select total from analytics.daily") == [(2,)]
    fs.pipe(f"{lake}/parquet/events/key=2024-01-03/data.parquet", b"")
    fs.rm(f"{lake}/parquet/events/key=2024-01-03", recursive=True)
    run = orch("build", "--project-dir", root, "-s", "total")
    assert run.exit_code == 0, run.output
    assert _rows(root, "select total from analytics.total") == [(3,)]
