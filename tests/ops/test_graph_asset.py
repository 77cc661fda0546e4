"""@graph_asset: an asset computed by a graph of ops, built by orch build like any asset."""

from __future__ import annotations

import duckdb

CLEAN = """\
import polars as pl
from orch import graph_asset, op


@op
def dedupe(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.unique(maintain_order=True)


@op
def shout(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("name").str.to_uppercase())


@graph_asset(tags=["graph"])
def clean_orders(raw_orders: pl.DataFrame):
    return shout(dedupe(raw_orders))
"""


def test_graph_asset_builds_from_its_upstream_asset(make_project, tmp_path, orch) -> None:
    project = make_project(
        tmp_path,
        {
            "models/raw_orders.sql": "select 1 as id, 'a' as name union all select 2, 'b' "
            "union all select 2, 'b'",
            "models/clean.py": CLEAN,
            "models/report.sql": "select count(*) as n from clean_orders",
        },
    )
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select * from analytics.clean_orders order by id").fetchall()
        assert rows == [(1, "A"), (2, "B")]
        assert con.execute("select n from analytics.report").fetchall() == [(2,)]
    finally:
        con.close()
    listed = orch("ls", "--project-dir", project, "-s", "tag:graph")
    assert listed.stdout.split() == ["clean_orders"]


def test_graph_asset_op_failure_fails_the_asset(make_project, tmp_path, orch) -> None:
    project = make_project(
        tmp_path,
        {
            "models/raw_orders.sql": "select 1 as id, 'a' as name",
            "models/clean.py": CLEAN.replace(
                "return frame.unique(maintain_order=True)", 'raise ValueError("bad rows")'
            ),
        },
    )
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 1
    assert "models/clean.py:7: asset 'clean_orders' raised ValueError: bad rows" in run.stdout
    assert "line 7, in dedupe" in run.stdout


STATS = """\
import polars as pl
from orch import graph_asset, op


@op
def summarize(frame: pl.DataFrame) -> dict:
    return {"rows": frame.height}


@graph_asset
def order_stats(raw_orders: pl.DataFrame):
    return summarize(raw_orders)
"""

READ_STATS = """\
from orch import In, job, op


@op(ins={"stats": In(dict, asset="order_stats")})
def report(stats: dict) -> str:
    return f"{stats['rows']} rows"


@job
def stats_report():
    report()
"""


def test_graph_asset_object_stored_and_read_by_an_op(make_project, tmp_path, orch) -> None:
    project = make_project(
        tmp_path,
        {
            "models/raw_orders.sql": "select 1 as id union all select 2",
            "models/stats.py": STATS,
            "jobs/report.py": READ_STATS,
        },
    )
    build = orch("build", "--project-dir", project)
    assert build.exit_code == 0, build.output
    run = orch("job", "run", "stats_report", "--project-dir", project)
    assert run.exit_code == 0, run.output
    from orch.state import SQLiteStateStore

    with SQLiteStateStore.for_project(project, readonly=True) as state:
        (step,) = state.run_op_steps(state.recent_runs()[0].run_id)
    assert step.outputs["result"]["preview"] == "'2 rows'"


def test_graph_asset_records_the_code_of_its_ops(make_project, tmp_path, orch) -> None:
    """Code provenance: a graph asset's stored code holds its graph and the ops of its file."""
    project = make_project(
        tmp_path,
        {"models/raw_orders.sql": "select 1 as id, 'a' as name", "models/clean.py": CLEAN},
    )
    assert orch("build", "--project-dir", project).exit_code == 0
    shown = orch("code", "show", "clean_orders", "--project-dir", project)
    assert shown.exit_code == 0, shown.output
    assert "python code (models/clean.py)" in shown.stdout
    assert "def dedupe(frame: pl.DataFrame)" in shown.stdout
    assert "return shout(dedupe(raw_orders))" in shown.stdout
