"""The example project, written once, builds on DuckDB and on Snowflake with identical tables.

``orch build --target dev`` (DuckDB) and ``orch build --target snowflake_fake`` (the real
Snowflake connector on fakesnow, in this process) over the same partition window; then every
table and view the project materializes is read back from both warehouses and compared: sorted
rows, column names case-insensitively (Snowflake stores them upper-case), numbers to 6 decimals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import fakesnow
import fakesnow.transforms
import pytest
from click.testing import CliRunner
from orch.adapters import get_adapter
from orch.cli import cli
from orch.config import RunOptions
from orch.names import Relation
from orch.run.workflow import RunResult, run_command
from orch.state import state_path
from orch.storage import stored_outside_warehouse

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

# One week of the daily partitions (and the month holding it), so the test stays fast; the
# unpartitioned models are built whole.
WINDOW = {"start": "2024-12-01", "end": "2024-12-03"}
# Columns holding the time of the build itself: they differ between any two builds.
BUILD_TIME_COLUMNS = {("crm_vip_sync", "synced_at")}


@pytest.fixture
def snowflake(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """fakesnow behind the connector, closer to Snowflake for SUM/AVG of decimals.

    fakesnow wraps every SUM/AVG argument in ``TRY_CAST(... AS DOUBLE)`` (to emulate
    Snowflake's implicit cast of text), which turns decimal sums into floats; Snowflake keeps
    ``NUMBER(38, s)``. The example never sums text, so that rewrite is switched off here.
    """
    monkeypatch.setattr(fakesnow.transforms, "numeric_agg_implicit_cast", lambda e: e)
    with fakesnow.patch():
        yield


def build(project: Path, target: str) -> RunResult:
    result = run_command(RunOptions(project_dir=project, target=target, **WINDOW), "build")
    assert result.summary is not None
    failed = {k: o.status for k, o in result.summary.outcomes.items() if o.status != "success"}
    assert result.exit_code == 0, (target, failed, result.summary.failed_checks)
    return result


def _value(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        number = round(float(value), 6)
        return 0.0 if number == 0 else number  # -0.0 from a negated zero sum
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def contents(result: RunResult) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every materialized model and seed: (lower-cased column names, sorted normalized rows)."""
    project = result.compiled.project
    adapter = get_adapter(project.target, project.root)
    out = {}
    with adapter:
        for name, node in sorted(result.manifest.nodes.items()):
            if node.relation is None or node.resource_type not in ("model", "seed"):
                continue
            io = node.python.io_manager if node.python else None
            resources = project.config.resources
            if stored_outside_warehouse(node.materialized, io, resources, project.target_name):
                continue  # files or objects (docs/io-managers.md), compared in tests/io
            relation: Relation = node.relation.to_relation()
            columns = [c.name.lower() for c in adapter.columns(relation)]
            keep = [i for i, c in enumerate(columns) if (name, c) not in BUILD_TIME_COLUMNS]
            rows = [
                tuple(_value(row[i]) for i in keep)
                for row in adapter.fetch_rows(f"SELECT * FROM {adapter.render(relation)}")
            ]
            columns = [columns[i] for i in keep]
            out[name] = (columns, sorted(rows, key=lambda r: [(v is None, str(v)) for v in r]))
    return out


def test_example_builds_identically_on_duckdb_and_snowflake(
    example_project: Path, snowflake: None
) -> None:
    on_duckdb = contents(build(example_project, "dev"))
    result = build(example_project, "snowflake_fake")
    on_snowflake = contents(result)
    # the lake is Parquet files on DuckDB and tables on Snowflake (resources.lake per target)
    assert sorted(set(on_snowflake) - set(on_duckdb)) == ["order_lake", "orders_export"]
    assert set(on_duckdb) <= set(on_snowflake)
    nodes = result.manifest.nodes
    kinds = {
        "seed" if nodes[n].resource_type == "seed" else nodes[n].materialized for n in on_duckdb
    }
    assert {"seed", "view", "table", "incremental"} <= kinds  # every materialization ran
    assert any(result.manifest.nodes[n].language == "python" for n in on_duckdb)
    assert any(result.manifest.nodes[n].config.partitioned_by for n in on_duckdb)
    empty = [n for n, (_, rows) in on_duckdb.items() if not rows]
    assert len(empty) < len(on_duckdb) // 4, empty  # the comparison compares data
    for name in sorted(on_duckdb):
        duck_cols, duck_rows = on_duckdb[name]
        snow_cols, snow_rows = on_snowflake[name]
        assert snow_cols == duck_cols, name
        assert len(snow_rows) == len(duck_rows), name
        assert snow_rows == duck_rows, name

    # Snowflake keeps its state in the warehouse (schema _ORCH), DuckDB in .orch/state.db.
    project = result.compiled.project
    adapter = get_adapter(project.target, project.root)
    with adapter:
        recorded = adapter.fetch_rows(
            'SELECT COUNT(DISTINCT "ASSET") FROM "JAFFLE"."_ORCH"."MATERIALIZATIONS"'
            " WHERE \"STATUS\" = 'success' AND \"TARGET\" = 'snowflake_fake'"
        )
    objects = [
        n for n, node in nodes.items() if node.python and node.python.io_manager == "objects"
    ]
    assert recorded == [(len(on_snowflake) + len(objects),)]
    assert state_path(example_project).exists()  # the dev build's SQLite state


def test_a_function_sqlglot_cannot_translate_is_a_compile_error(
    example_project: Path, snowflake: None
) -> None:
    """Never wrong SQL: an unknown DuckDB function stops the Snowflake build before it runs."""
    model = example_project / "models" / "marts" / "list_sums.sql"
    model.write_text(
        "-- sums of lists\nselect\n    order_id,\n    list_reduce([1, 2], (a, b) -> a + b) as s\n"
        "from stg_orders\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(
        cli, ["build", "--project-dir", str(example_project), "--target", "snowflake_fake"]
    )
    assert result.exit_code == 2, result.output
    assert (
        "models/marts/list_sums.sql:4:5: cannot translate list_reduce() from duckdb to snowflake:"
        " sqlglot does not know this duckdb function, so it would be sent to snowflake unchanged"
    ) in result.output
    assert "config(dialect='snowflake')" in result.output
    assert not (example_project / "target" / "manifest.json").exists()  # nothing was written
    dev = runner.invoke(cli, ["build", "--project-dir", str(example_project), "-s", "list_sums+"])
    assert "cannot translate" not in dev.output  # DuckDB itself runs it as written
