"""Python assets on the one write path: staged through ``write_arrow``, audited by their blocking
checks, published by the SQL materializations. Real projects, real DuckDB files, the real CLI."""

from __future__ import annotations

import signal
import textwrap

from orch.config import RunOptions
from orch.manifest import Node
from orch.names import Relation
from orch.run.executor import RunSummary, StepHook
from orch.run.plan import Step
from orch.run.workflow import run_command

PY_TABLE = """\
import polars as pl
from orch import asset

@asset(columns={"id": "integer"})
def scores(src: pl.DataFrame) -> pl.DataFrame:
    return src.with_columns((pl.col("id") * 10).alias("score"))
"""

UNIQUE_BLOCKING = """\
models:
  - name: scores
    columns:
      - name: id
        checks:
          - unique: {config: {blocking: true}}
"""

TABLE_FILES = {
    "models/src.sql": "select * from (values (1), (2)) as t(id)\n",
    "models/scores.py": PY_TABLE,
    "models/after.sql": "select * from scores\n",
    "models/unrelated.sql": "select 1 as x\n",
    "models/schema.yml": UNIQUE_BLOCKING,
}


def orch_relations(wh, prefix: str = "__orch_") -> set[str]:  # noqa: ANN001
    return {name for name in wh.relations() if name.startswith(prefix)}


def test_python_asset_failing_blocking_check_keeps_the_published_table(
    make_project, orch, warehouse, state, tmp_path
):
    project = make_project(tmp_path, TABLE_FILES)
    first = orch("build", "--project-dir", project)
    assert first.exit_code == 0, first.output
    wh = warehouse(project)
    assert wh.rows("select id, score from analytics.scores order by 1") == [(1, 10), (2, 20)]
    with state(project) as st:
        published = st.latest_materializations(["scores"], target="dev")[("scores", None)]
    assert published.metadata["audited"] is True and published.metadata["language"] == "python"

    (project / "models/src.sql").write_text("select * from (values (1), (2), (2), (3)) as t(id)\n")
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 1
    # the check ran on the staged rows, before publication: the published table is untouched
    assert wh.rows("select id, score from analytics.scores order by 1") == [(1, 10), (2, 20)]
    assert wh.rows("select id from analytics.__orch_quarantine_scores order by 1") == [
        (1,), (2,), (2,), (3,),
    ]  # fmt: skip
    assert "__orch_quarantine_scores" in run.output
    assert "SKIP    after: blocking check 'unique_scores_id' failed" in run.output
    assert "OK      unrelated" in run.output
    assert orch_relations(wh) == {"__orch_quarantine_scores"}  # no staging relation left
    with state(project) as st:
        attempt = st.latest_attempts(["scores"], target="dev")[("scores", None)]
        latest = st.latest_materializations(["scores"], target="dev")[("scores", None)]
        checks = {c: r for (c, _), r in st.latest_check_results().items()}
        (last_run, _) = st.recent_runs(2)
    assert attempt.status == "failed" and attempt.run_id == last_run.run_id
    assert "blocking check 'unique_scores_id' failed" in (attempt.error or "")
    assert latest.run_id == published.run_id  # the last successful one is still the first
    assert checks["unique_scores_id"].status == "fail"
    assert "__orch_quarantine_scores" in checks["unique_scores_id"].sql
    assert last_run.status == "failed"


def test_python_asset_passing_blocking_check_publishes_and_leaves_no_stage(
    make_project, orch, warehouse, tmp_path
):
    project = make_project(tmp_path, TABLE_FILES)
    assert orch("build", "--project-dir", project).exit_code == 0
    (project / "models/src.sql").write_text("select * from (values (1), (2), (3)) as t(id)\n")
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    wh = warehouse(project)
    assert wh.rows("select id, score from analytics.scores order by 1") == [
        (1, 10), (2, 20), (3, 30),
    ]  # fmt: skip
    assert wh.rows("select count(*) from analytics.after") == [(3,)]
    assert orch_relations(wh) == set()


def test_python_incremental_merge_is_audited_before_it_is_merged(
    make_project, orch, warehouse, tmp_path
):
    project = make_project(
        tmp_path,
        {
            "models/src.sql": "select 1 as id, 'a' as v\n",
            "models/inc.py": """\
                import polars as pl
                from orch import asset

                @asset(materialized="incremental", unique_key="id")
                def inc(src: pl.DataFrame) -> pl.DataFrame:
                    return src
            """,
            "models/schema.yml": """\
                models:
                  - name: inc
                    columns:
                      - name: v
                        checks: [{not_null: {config: {blocking: true}}}]
            """,
        },
    )
    assert orch("build", "--project-dir", project).exit_code == 0
    src = project / "models/src.sql"
    src.write_text("select 1 as id, 'b' as v union all select 2, null\n")
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 1
    wh = warehouse(project)
    assert wh.rows("select id, v from analytics.inc order by 1") == [(1, "a")]
    assert wh.rows("select id, v from analytics.__orch_quarantine_inc order by 1") == [
        (1, "b"), (2, None),
    ]  # fmt: skip
    src.write_text("select 1 as id, 'b' as v union all select 2, 'c'\n")
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert wh.rows("select id, v from analytics.inc order by 1") == [(1, "b"), (2, "c")]
    assert not orch_relations(wh, "__orch_stage_")


PARTITION_FILES = {
    "models/events.sql": """\
        {{ config(materialized='table') }}
        select * from (values
          (timestamp '2024-01-01 10:00', 1), (timestamp '2024-01-02 11:00', 2),
          (timestamp '2024-01-02 23:00', 3)
        ) as t(ts, v)
    """,
    "models/daily.py": """\
        import polars as pl
        from orch import AssetContext, asset

        PARTS = {"grain": "daily", "start": "2024-01-01", "column": "ts"}

        @asset(partitioned_by=PARTS)
        def daily(context: AssetContext, events: pl.DataFrame) -> pl.DataFrame:
            w = context.partition
            return events.filter((pl.col("ts") >= w.start) & (pl.col("ts") < w.end))
    """,
    "models/schema.yml": """\
        models:
          - name: daily
            columns:
              - name: v
                checks: [{not_null: {config: {blocking: true}}}]
    """,
}
WINDOW = ("--start", "2024-01-01", "--end", "2024-01-02")


def test_partitioned_python_asset_blocking_check_rejects_only_that_partition(
    make_project, orch, warehouse, state, tmp_path
):
    project = make_project(tmp_path, PARTITION_FILES)
    first = orch("build", "--project-dir", project, *WINDOW)
    assert first.exit_code == 0, first.output
    wh = warehouse(project)
    day_rows = "select strftime(ts, '%Y-%m-%d %H'), v from analytics.daily order by 1"
    before = [("2024-01-01 10", 1), ("2024-01-02 11", 2), ("2024-01-02 23", 3)]
    assert wh.rows(day_rows) == before

    daily = project / "models/daily.py"  # a code change: both partitions are rebuilt
    daily.write_text(
        daily.read_text().replace(
            "return events.filter(",
            'events = events.with_columns(pl.when(pl.col("v") != 3).then(pl.col("v") * 100)'
            '.alias("v"))\n    return events.filter(',
        )
    )
    run = orch("build", "--project-dir", project, *WINDOW)
    assert run.exit_code == 1
    # 2024-01-01 passed its check and was published; 2024-01-02 kept its previous rows
    after = [("2024-01-01 10", 100), ("2024-01-02 11", 2), ("2024-01-02 23", 3)]
    assert wh.rows(day_rows) == after
    quarantined = "analytics.__orch_quarantine_daily__2024_01_02"
    assert wh.rows(f"select v from {quarantined} order by v nulls last") == [(200,), (None,)]
    assert (
        "blocking check 'not_null_daily_v' failed on the new data of 'daily' partition 2024-01-02"
        in run.output
    )
    assert orch_relations(wh) == {"__orch_quarantine_daily__2024_01_02"}
    with state(project) as st:
        attempts = st.latest_attempts(["daily"], target="dev")
    assert attempts[("daily", "2024-01-01")].status == "success"
    assert attempts[("daily", "2024-01-02")].status == "failed"
    assert attempts[("daily", "2024-01-01")].metadata["materialized"] == "partition"


def test_failed_python_write_drops_its_stage_and_a_leftover_stage_is_cleaned(
    make_project, orch, warehouse, tmp_path
):
    project = make_project(
        tmp_path,
        {
            "models/src.sql": "select 1 as id, 'a' as v\n",
            "models/ap.py": """\
                import polars as pl
                from orch import asset

                @asset(materialized="incremental")
                def ap(src: pl.DataFrame) -> pl.DataFrame:
                    return src
            """,
        },
    )
    assert orch("build", "--project-dir", project).exit_code == 0
    # the append fails in the warehouse (a column of the table is missing from the new rows)
    (project / "models/src.sql").write_text("select 2 as id\n")
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 1
    wh = warehouse(project)
    assert wh.rows("select id, v from analytics.ap") == [(1, "a")]
    assert orch_relations(wh) == set()
    # a stage a killed run left behind (same name as this asset's) never breaks the next run
    import duckdb

    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("create table analytics.__orch_stage_ap as select 'junk' as junk")
    (project / "models/src.sql").write_text("select 2 as id, 'b' as v\n")
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert wh.rows("select id, v from analytics.ap order by 1") == [(1, "a"), (2, "b")]
    assert orch_relations(wh) == set()


SLOW_CHECK = """\
import time
from pathlib import Path

import polars as pl
from orch import asset, check

@asset(columns={"id": "integer"})
def scores(src: pl.DataFrame) -> pl.DataFrame:
    return src.with_columns((pl.col("id") * 10).alias("score"))

@check(asset="scores", blocking=True)
def slow_audit(df: pl.DataFrame) -> bool:
    Path("auditing").write_text(str(df.height))  # the staged rows exist now
    time.sleep(60)
    return True
"""


def test_sigkill_while_a_python_asset_is_audited(
    make_project, orch, spawn, waiter, warehouse, state, tmp_path
):
    files = {k: v for k, v in TABLE_FILES.items() if k != "models/schema.yml"}
    project = make_project(tmp_path, files)
    assert orch("build", "--project-dir", project).exit_code == 0
    (project / "models/src.sql").write_text("select * from (values (1), (2), (3)) as t(id)\n")
    (project / "models/scores.py").write_text(SLOW_CHECK)
    proc = spawn(project, "build")
    waiter(lambda: (project / "auditing").exists(), what="the audit of the staged rows")
    assert (project / "auditing").read_text() == "3"  # the check reads the staged new rows
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    wh = warehouse(project)
    assert wh.rows("select id from analytics.scores order by 1") == [(1,), (2,)]  # unpublished
    assert orch_relations(wh) == {"__orch_stage_scores"}  # what the killed run left

    fast = SLOW_CHECK.replace(
        '    Path("auditing").write_text(str(df.height))  # the staged rows exist now\n'
        "    time.sleep(60)\n",
        "",
    )
    assert fast != SLOW_CHECK
    (project / "models/scores.py").write_text(fast)
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert wh.rows("select id, score from analytics.scores order by 1") == [
        (1, 10), (2, 20), (3, 30),
    ]  # fmt: skip
    assert orch_relations(wh) == set()
    with state(project) as st:
        checks = {c: r for (c, _), r in st.latest_check_results().items()}
    assert checks["slow_audit"].status == "pass"


def test_python_partition_rows_outside_the_window_fail_or_drop_like_sql(
    make_project, orch, warehouse, tmp_path
):
    stray = """\
        import datetime as dt

        import polars as pl
        from orch import AssetContext, asset

        PARTS = {"grain": "daily", "start": "2024-01-01", "column": "ts"OPTION}

        @asset(partitioned_by=PARTS)
        def daily(context: AssetContext) -> pl.DataFrame:
            w = context.partition
            return pl.DataFrame({"ts": [w.start, w.end + dt.timedelta(hours=1)], "v": [1, 2]})
    """
    project = make_project(tmp_path, {"models/daily.py": stray.replace("OPTION", "")})
    run = orch("build", "--project-dir", project, "--partition", "2024-01-01")
    assert run.exit_code == 1
    assert (
        "'daily' partition 2024-01-01: 1 of 2 row(s) have 'ts' outside the partition's window; "
        "nothing was written" in run.output
    )
    assert "Filter the returned rows to context.partition's window" in run.output
    wh = warehouse(project)
    assert wh.rows("select count(*) from analytics.daily") == [(0,)]
    assert orch_relations(wh) == set()
    (project / "models/daily.py").write_text(
        textwrap.dedent(stray.replace("OPTION", ', "out_of_window": "drop"'))
    )
    run = orch("build", "--project-dir", project, "--partition", "2024-01-01")
    assert run.exit_code == 0, run.output
    assert (
        "dropped 1 row(s) outside the partition's window"
        in (project / "logs/orch.jsonl").read_text()
    )
    assert wh.rows("select v from analytics.daily") == [(1,)]
    assert orch_relations(wh) == set()


class RefusingHook(StepHook):
    """A step hook that audits ``scores`` and refuses it; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.finished: str | None = None

    def wants_staging(self, node: Node) -> bool:
        return node.name == "scores"

    def audit(self, node: Node, staged: Relation, partition: str | None) -> str | None:
        self.calls.append(("audit", node.name, staged.name))
        return "no_thanks"

    def after_step(self, step: Step, node: Node) -> str | None:
        self.calls.append(("after", step.asset))
        return None

    def finish(self, summary: RunSummary) -> None:
        self.finished = summary.status


def test_a_step_hook_audits_python_output_before_it_is_published(
    make_project, orch, warehouse, tmp_path
):
    files = {k: v for k, v in TABLE_FILES.items() if k != "models/schema.yml"}
    project = make_project(tmp_path, files)
    assert orch("run", "--project-dir", project).exit_code == 0
    (project / "models/src.sql").write_text("select * from (values (7)) as t(id)\n")
    hook = RefusingHook()
    options = RunOptions(project_dir=project, select=("src", "scores", "after"))
    result = run_command(options, "run", hook_factory=lambda adapter, run_id, sink: hook)
    assert result.exit_code == 1
    assert hook.calls == [("after", "src"), ("audit", "scores", "__orch_stage_scores")]
    assert hook.finished == "failed"
    assert result.summary is not None
    outcomes = {sid: o.status for sid, o in result.summary.outcomes.items()}
    assert outcomes == {"src": "success", "scores": "blocked", "after": "skipped"}
    wh = warehouse(project)
    assert wh.rows("select id from analytics.scores order by 1") == [(1,), (2,)]
    assert wh.rows("select id from analytics.__orch_quarantine_scores") == [(7,)]
