"""Python assets' IO against DuckDB's own Arrow paths: 10M rows x 5 columns.

- write: what orch does with a returned polars DataFrame (to Arrow, declared-column check, staged
  through ``Adapter.write_arrow`` and published by the materialization shared with SQL models: a
  rename for a table) vs DuckDB's ``CREATE TABLE t AS SELECT * FROM arrow`` of the same Arrow
  table (the conversion from polars is not counted for DuckDB).
- read: loading an upstream table as ``pl.DataFrame`` through ``Adapter.read_arrow`` +
  ``pl.from_arrow`` (what a ``pl.DataFrame`` parameter gets) vs DuckDB's ``.pl()``; and as a
  ``pa.Table`` parameter vs an Arrow table fetch of ``SELECT * FROM t``.

Usage: python bench/bench_python.py [--rows 10000000] [--repeat 5]
Each measurement alternates orch and DuckDB; medians are printed, ratios orch / DuckDB.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig, ModelConfig
from orch.manifest import ColumnInfo, Manifest, Node, ProjectInfo, PythonInfo, RelationInfo
from orch.run.materialize import StepContext, publish_arrow
from orch.run.python import check_columns, load_input, to_arrow


def make_frame(rows: int) -> pl.DataFrame:
    """5 columns: int64 id, int32 customer, float64 amount, date, short string."""
    return pl.DataFrame(
        {
            "id": pl.int_range(0, rows, eager=True),
            "customer_id": (pl.int_range(0, rows, eager=True) % 100_000).cast(pl.Int32),
            "amount": pl.int_range(0, rows, eager=True).cast(pl.Float64) * 0.37,
            "day": pl.date_range(
                pl.date(2024, 1, 1), pl.date(2024, 12, 31), "1d", eager=True
            ).sample(rows, with_replacement=True, seed=0),
            "status": pl.Series(["completed", "returned", "shipped", "placed"] * (rows // 4)),
        }
    )


def node(name: str, columns: dict[str, str] | None = None) -> Node:
    return Node(
        name=name,
        unique_id=f"model.bench.{name}",
        resource_type="model",
        language="python",
        path=f"models/{name}.py",
        relation=RelationInfo(database=None, schema_name="main", identifier=name),
        config=ModelConfig(materialized="table"),
        columns={c: ColumnInfo(name=c, data_type=t) for c, t in (columns or {}).items()},
        python=PythonInfo(module_path=f"models/{name}.py", function=name),
    )


class _Spec:
    columns: dict[str, str | None] = {"id": "bigint", "amount": "double"}
    fn = staticmethod(lambda: None)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    df = make_frame(args.rows)
    arrow = df.to_arrow()
    tmp = Path(tempfile.mkdtemp(prefix="orch_bench_py_"))
    adapter = DuckDBAdapter(DuckDBTargetConfig(path=str(tmp / "orch.duckdb")), tmp)
    adapter.open()
    raw = duckdb.connect(str(tmp / "raw.duckdb"))
    raw.register("arrow_source", arrow)
    out = node("big_out", {"id": "bigint", "amount": "double"})
    manifest = Manifest(
        orch_version="bench",
        project=ProjectInfo(
            name="bench", dialect="duckdb", target_name="dev", target_type="duckdb",
            target_dialect="duckdb", database=None, schema_name="main",
        ),
    )  # fmt: skip

    ctx = StepContext(adapter=adapter, manifest=manifest, project_root=str(tmp))
    relation = out.relation.to_relation()  # type: ignore[union-attr]
    write_orch, write_duck = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        table = to_arrow(df, out, _Spec)  # type: ignore[arg-type]
        check_columns(table, out, _Spec, None)  # type: ignore[arg-type]
        publish_arrow(out, ctx, relation, table)
        write_orch.append(time.perf_counter() - t0)
        raw.execute("DROP TABLE IF EXISTS big_out")
        t0 = time.perf_counter()
        raw.execute("CREATE TABLE big_out AS SELECT * FROM arrow_source")
        write_duck.append(time.perf_counter() - t0)
    assert adapter.row_count(relation) == args.rows

    upstream = node("big_out")
    reader = node("reader")
    read_orch, read_pl, read_arrow, read_orch_arrow = [], [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        frame = load_input(adapter, manifest, reader, upstream, "polars", None)
        read_orch.append(time.perf_counter() - t0)
        assert frame.height == args.rows
        del frame
        t0 = time.perf_counter()
        tbl = load_input(adapter, manifest, reader, upstream, "arrow", None)
        read_orch_arrow.append(time.perf_counter() - t0)
        del tbl
        t0 = time.perf_counter()
        frame = raw.sql("SELECT * FROM big_out").pl()
        read_pl.append(time.perf_counter() - t0)
        del frame
        t0 = time.perf_counter()
        rel = raw.sql("SELECT * FROM big_out")
        tbl = (getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table)()  # a Table
        read_arrow.append(time.perf_counter() - t0)
        del tbl
    adapter.close()
    raw.close()

    w_o, w_d = median(write_orch), median(write_duck)
    r_o, r_p, r_a = median(read_orch), median(read_pl), median(read_arrow)
    r_oa = median(read_orch_arrow)
    versions = f"duckdb={duckdb.__version__} polars={pl.__version__}"
    print(f"rows={args.rows:,} repeat={args.repeat} {versions}")
    print(f"write: orch {w_o:.3f}s  duckdb CTAS from arrow {w_d:.3f}s  ratio {w_o / w_d:.2f}")
    print(
        f"read:  orch {r_o:.3f}s  duckdb .pl() {r_p:.3f}s (ratio {r_o / r_p:.2f})  "
        f"duckdb arrow table {r_a:.3f}s (ratio {r_o / r_a:.2f})"
    )
    print(
        f"read as pa.Table: orch {r_oa:.3f}s  duckdb arrow table {r_a:.3f}s  ratio {r_oa / r_a:.2f}"
    )


if __name__ == "__main__":
    main()
