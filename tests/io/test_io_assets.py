"""Python assets choosing IO managers: objects, parquet, by type, pandas, materialized='none'.
Real project folders, a real DuckDB file, the real CLI."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import duckdb
import polars as pl
import pytest

STORAGE = Path(".orch", "storage", "dev")

ORDERS = """\
select * from (values (1, 10, 5.0), (2, 10, 7.5), (3, 20, 100.0))
    as t(order_id, customer_id, amount)
"""

ASSETS = '''\
import polars as pl
from orch import asset


class Model:
    def __init__(self, mean: float) -> None:
        self.mean = mean


@asset
def stats(orders: pl.DataFrame) -> dict:
    """A dict: stored by `objects` (by type)."""
    return {"rows": orders.height, "total": float(orders["amount"].sum())}


@asset
def fitted(orders: pl.DataFrame):
    """Unannotated, returns an object: stored by `objects` at run time."""
    return Model(float(orders["amount"].mean()))


@asset(io_manager="parquet")
def big_orders(orders: pl.DataFrame) -> pl.DataFrame:
    return orders.filter(pl.col("amount") > 6)


@asset
def report(stats: dict, fitted, big_orders: pl.LazyFrame) -> pl.DataFrame:
    """Reads an object, an unannotated object and a Parquet-stored table."""
    return pl.DataFrame(
        {"rows": [stats["rows"]], "mean": [fitted.mean], "big": [big_orders.collect().height]}
    )
'''


@pytest.fixture
def project(make_project, tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", {"models/orders.sql": ORDERS, "models/analysis.py": ASSETS})


def test_objects_parquet_and_by_type_round_trip(project: Path, orch) -> None:
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    store = project / STORAGE
    stats = pickle.loads((store / "objects" / "stats").read_bytes())
    assert stats == {"rows": 3, "total": 112.5}
    assert (store / "objects" / "fitted").is_file()
    frame = pl.read_parquet(store / "parquet" / "big_orders" / "data.parquet")
    assert sorted(frame["order_id"].to_list()) == [2, 3]
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select rows, mean, big from analytics.report").fetchall() == [
            (3, 37.5, 2)
        ]
        query = "select table_name from information_schema.tables"
        tables = {r[0] for r in con.execute(query).fetchall()}
    assert not {"stats", "fitted", "big_orders"} & tables  # not in the warehouse
    status = orch("status", "--project-dir", project)
    assert status.exit_code == 0, status.output
    parquet = (store / "parquet" / "big_orders" / "data.parquet").resolve().as_uri()
    stats_uri = (store / "objects" / "stats").resolve().as_uri()
    stored = status.output.split("Stored (last materialization):\n", 1)[1]
    size = (store / "parquet" / "big_orders" / "data.parquet").stat().st_size
    assert f"big_orders: parquet: {parquet} (parquet, 2 rows, {size:,} bytes)" in stored
    assert f"stats: objects: {stats_uri} (pickle, " in stored and "builtins.dict)" in stored


def test_unknown_io_manager_is_an_error_at_load(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/a.py": """\
                from orch import asset

                @asset(io_manager="parquett")
                def a(orders):
                    return orders
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 2
    assert (
        "models/a.py:4: asset 'a': unknown IO manager 'parquett'. Did you mean 'parquet'?"
        in run.stderr
    )
    assert "Traceback" not in run.output


def test_annotation_nobody_stores_is_an_error_at_load(make_project, tmp_path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/a.py": """\
                from orch import asset

                @asset(io_manager="parquet")
                def a(orders) -> dict[str, int]:
                    return {"x": 1}
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 2
    assert (
        "models/a.py:4: asset 'a' returns dict[str,int] (its annotation), which the IO manager "
        "'parquet' cannot store: it stores tables" in run.stderr
    )


def test_type_nobody_stores_fails_at_run_time_naming_asset_and_type(
    make_project, tmp_path: Path, orch
) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/a.py": """\
                from orch import asset

                @asset(io_manager="parquet")
                def a(orders):
                    return {"x": 1}
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 1
    assert (
        "models/a.py:4: asset 'a' returned a builtins.dict, which its IO manager 'parquet' "
        "does not store" in run.output
    )
    assert not (path / STORAGE / "parquet" / "a").exists()


def test_materialized_none_upstream_is_a_clear_load_error(make_project, tmp_path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/a.py": """\
                from orch import asset

                @asset(materialized="none")
                def export(orders):
                    return None

                @asset
                def after(export):
                    return export

                @asset(deps=["export"])
                def ordered(orders):
                    return orders
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 2
    assert (
        "asset 'after': parameter 'export' reads 'export', which is materialized='none' and "
        "stores nothing. Use deps=['export'] to run after it without reading it" in run.stderr
    )


def test_deps_on_a_none_asset_builds(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/a.py": """\
                from orch import asset

                @asset(materialized="none")
                def export(orders):
                    return orders

                @asset(deps=["export"])
                def ordered(orders):
                    return orders
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 0, run.output


def test_pandas_inputs_and_outputs(make_project, tmp_path: Path, orch) -> None:
    pytest.importorskip("pandas")
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/a.py": """\
                import pandas as pd
                from orch import asset

                @asset
                def by_customer(orders: pd.DataFrame) -> pd.DataFrame:
                    out = orders.groupby("customer_id", as_index=False)["amount"].sum()
                    return out.sort_values("customer_id")

                @asset(io_manager="parquet")
                def in_lake(by_customer: pd.DataFrame) -> pd.DataFrame:
                    return by_customer.assign(double=by_customer["amount"] * 2)

                @asset
                def back(in_lake: pd.DataFrame) -> pd.DataFrame:
                    assert isinstance(in_lake, pd.DataFrame)
                    return in_lake
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 0, run.output
    with duckdb.connect(str(path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select customer_id, amount, double from analytics.back order by 1"
        ).fetchall()
    assert rows == [(10, 12.5, 25.0), (20, 100.0, 200.0)]


def test_folder_default_io_manager(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/lake/copy.py": """\
                from orch import asset

                @asset
                def copy(orders):
                    return orders
            """,
        },
        project_yml="""\
            name: shop
            profile: shop
            models:
              shop:
                lake:
                  +io_manager: parquet
            resources:
              parquet:
                base_dir: lake_files
        """,
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 0, run.output
    assert pl.read_parquet(path / "lake_files" / "copy" / "data.parquet").height == 3


def test_run_events_carry_where_outputs_were_stored(project: Path, orch) -> None:
    run = orch("build", "--project-dir", project, "--log-format", "json")
    assert run.exit_code == 0, run.output
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    done = {e["asset"]: e for e in events if e.get("metadata") and e.get("asset")}
    lake = done["big_orders"]["metadata"]
    path = project / STORAGE / "parquet" / "big_orders" / "data.parquet"
    assert lake["uri"] == path.resolve().as_uri()
    assert lake["format"] == "parquet" and lake["rows"] == 2
    assert lake["bytes"] == path.stat().st_size and lake["io_manager"] == "parquet"
    assert done["stats"]["metadata"]["type"] == "builtins.dict"
    results = json.loads((project / "target" / "run_results.json").read_text())
    assert {r["unique_id"].rsplit(".", 1)[-1] for r in results["results"]} >= {"stats"}


def test_testing_helper_with_a_memory_io_manager(project: Path) -> None:
    from orch.run.io import MemoryIOManager
    from orch.testing import materialize

    memory = MemoryIOManager()
    run = materialize(["report"], project_dir=project, resources={"objects": memory})
    assert run.success, run.failures
    assert run.output_for("stats") == {"rows": 3, "total": 112.5}  # from memory, not a file
    assert run.output_for("big_orders")["order_id"].sort().to_list() == [2, 3]  # Parquet
    assert run.output_for("report").to_dicts() == [{"rows": 3, "mean": 37.5, "big": 2}]
    assert not (run.project_dir / STORAGE / "objects").exists()
