"""Executor faults and order, through the real CLI on real projects."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

# a -> b (broken) -> c -> d ; a -> e ; f alone
BROKEN = {
    "models/a.sql": "{{ config(materialized='table') }}\nselect 1 as id, 'x' as name",
    "models/b.sql": "{{ config(materialized='table') }}\n"
    "select\n    id,\n    nonexistent_col\nfrom a\n",
    "models/c.sql": "select * from b",
    "models/d.sql": "{{ config(materialized='table') }}\nselect * from c",
    "models/e.sql": "{{ config(materialized='table') }}\nselect id + 1 as id from a",
    "models/f.sql": "{{ config(materialized='table') }}\nselect 42 as answer",
}


def events(stdout: str) -> list[dict]:
    """The JSON lines of ``--log-format json`` output."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_sql_error_skips_downstream_and_builds_the_rest(make_project, orch, warehouse, tmp_path):
    project = make_project(tmp_path, BROKEN)
    run = orch("build", "--project-dir", project, "--threads", "2")
    assert run.exit_code == 1, run.output
    wh = warehouse(project)
    assert set(wh.relations()) == {"a", "e", "f"}
    assert wh.rows("select id from analytics.e") == [(2,)]
    out = run.stdout
    assert "ERROR   b" in out
    assert "SKIP    c: upstream 'b' failed" in out
    assert "SKIP    d: upstream 'b' failed" in out
    # the error names the model, its file, the warehouse message and the compiled SQL line
    assert "Failed: b (models/b.sql)" in out
    assert 'Referenced column "nonexistent_col" not found' in out
    assert "compiled SQL line 3: nonexistent_col" in out
    assert "FAILED" in out and "1 failed, 2 skipped, 3 success" in out
    results = json.loads((project / "target" / "run_results.json").read_text())
    status = {r["unique_id"]: r["status"] for r in results["results"]}
    assert status == {
        "model.shop.a": "success",
        "model.shop.b": "error",
        "model.shop.c": "skipped",
        "model.shop.d": "skipped",
        "model.shop.e": "success",
        "model.shop.f": "success",
    }
    assert results["status"] == "failed"
    by_id = {r["unique_id"]: r for r in results["results"]}
    assert "nonexistent_col" in by_id["model.shop.b"]["message"]
    assert by_id["model.shop.c"]["message"] == "upstream 'b' failed"
    assert by_id["model.shop.a"]["rows_affected"] == 1
    assert by_id["model.shop.a"]["relation_name"] == "analytics.a"


def test_failed_step_in_json_log(make_project, orch, tmp_path):
    project = make_project(tmp_path, BROKEN)
    run = orch("build", "--project-dir", project, "--log-format", "json")
    assert run.exit_code == 1
    evs = events(run.stdout)  # every stdout line is one JSON object
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert {"StepQueued", "StepStarted", "StepMaterialized", "StepFailed", "StepSkipped"} <= set(
        kinds
    )
    failed = next(e for e in evs if e["event"] == "StepFailed")
    assert failed["asset"] == "b"
    assert failed["path"] == "models/b.sql"
    assert failed["sql_line"] == 3
    assert failed["sql_excerpt"] == "nonexistent_col"
    skipped = {e["asset"]: e for e in evs if e["event"] == "StepSkipped"}
    assert set(skipped) == {"c", "d"}
    assert skipped["d"]["cause"] == "b"
    done = next(e for e in evs if e["event"] == "StepMaterialized" and e["asset"] == "a")
    assert done["rows"] == 1 and done["duration_s"] >= 0 and done["materialized"] == "table"
    assert evs[-1]["status"] == "failed"
    assert evs[-1]["counts"] == {"success": 3, "failed": 1, "skipped": 2}
    # the same events are appended to logs/orch.jsonl
    logged = events((project / "logs" / "orch.jsonl").read_text())
    assert [e["event"] for e in logged] == kinds


def test_fail_fast_stops_at_the_first_failure(make_project, orch, warehouse, tmp_path):
    files = {
        "models/a_broken.sql": "{{ config(materialized='table') }}\nselect nope from range(3)",
        **{
            f"models/z{i}.sql": f"{{{{ config(materialized='table') }}}}\nselect {i} as x"
            for i in range(5)
        },
    }
    project = make_project(tmp_path, files)
    run = orch("build", "--project-dir", project, "--threads", "1", "--fail-fast")
    assert run.exit_code == 1, run.output
    # one thread, a_broken first in the order: nothing else starts after it failed
    assert run.stdout.count("fail-fast: an earlier step failed") == 5
    assert "1 failed, 5 skipped" in run.stdout
    assert warehouse(project).relations() == {}
    # without --fail-fast every independent model builds
    run = orch("build", "--project-dir", project, "--threads", "1")
    assert run.exit_code == 1
    assert set(warehouse(project).relations()) == {f"z{i}" for i in range(5)}


def test_dag_order_and_parallel_threads(make_project, orch, tmp_path):
    slow = "{{ config(materialized='table') }}\nselect count(*) as n from range(25000000) t(x)"
    files = {f"models/p{i}.sql": slow for i in range(4)}
    files["models/top.sql"] = (
        "{{ config(materialized='table') }}\n"
        "select * from p0 union all select * from p1 union all select * from p2 "
        "union all select * from p3"
    )
    files["models/leaf.sql"] = "select * from top"
    project = make_project(tmp_path, files)
    run = orch("build", "--project-dir", project, "--threads", "4", "--log-format", "json")
    assert run.exit_code == 0, run.output
    evs = events(run.stdout)
    start = {
        e["asset"]: datetime.fromisoformat(e["at"]) for e in evs if e["event"] == "StepStarted"
    }
    end = {
        e["asset"]: datetime.fromisoformat(e["at"]) for e in evs if e["event"] == "StepMaterialized"
    }
    assert set(end) == {"p0", "p1", "p2", "p3", "top", "leaf"}
    # DAG order: top starts after all its parents finished, leaf after top
    assert start["top"] >= max(end[f"p{i}"] for i in range(4))
    assert start["leaf"] >= end["top"]
    # parallel: the four independent models all started before the first of them finished
    assert max(start[f"p{i}"] for i in range(4)) < min(end[f"p{i}"] for i in range(4))
    assert {e["materialized"] for e in evs if e["event"] == "StepStarted"} == {"table", "view"}


def test_single_thread_runs_one_at_a_time(make_project, orch, tmp_path):
    files = {f"models/m{i}.sql": "select 1 as x" for i in range(4)}
    project = make_project(tmp_path, files)
    run = orch("run", "--project-dir", project, "--threads", "1", "--log-format", "json")
    assert run.exit_code == 0
    kinds = [(e["event"], e.get("asset")) for e in events(run.stdout) if "Step" in e["event"]]
    starts_and_ends = [k for k in kinds if k[0] in ("StepStarted", "StepMaterialized")]
    # strictly alternating: started m, materialized m, started n, ...
    for i in range(0, len(starts_and_ends), 2):
        assert starts_and_ends[i][0] == "StepStarted"
        assert starts_and_ends[i + 1] == ("StepMaterialized", starts_and_ends[i][1])


def test_failure_keeps_the_previous_table(make_project, orch, warehouse, tmp_path):
    project = make_project(
        tmp_path,
        {
            "models/m.sql": "{{ config(materialized='table') }}\nselect x as id from range(5) t(x)",
            "models/inc.sql": "{{ config(materialized='incremental', unique_key='id') }}\n"
            "select x as id, 'v1' as v from range(3) t(x)",
        },
    )
    assert orch("run", "--project-dir", project).exit_code == 0
    wh = warehouse(project)
    # fails at run time, half way through producing rows
    (project / "models" / "m.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "select case when x = 3 then error('boom at 3') else x end as id, 'new' as extra "
        "from range(1000000) t(x)"
    )
    (project / "models" / "inc.sql").write_text(
        "{{ config(materialized='incremental', unique_key='id') }}\n"
        "select case when x = 2 then error('boom') else x end as id, 'v2' as v "
        "from range(3) t(x)"
    )
    for extra in ((), ("--full-refresh",)):
        run = orch("run", "--project-dir", project, *extra)
        assert run.exit_code == 1, run.output
        assert "boom at 3" in run.stdout
        assert wh.relations() == {"m": "BASE TABLE", "inc": "BASE TABLE"}  # no __orch_tmp_ left
        assert wh.rows("select id from analytics.m order by id") == [(i,) for i in range(5)]
        assert wh.types("m") == {"id": "BIGINT"}
        assert wh.rows("select id, v from analytics.inc order by id") == [
            (0, "v1"),
            (1, "v1"),
            (2, "v1"),
        ]


def test_leftover_temporary_relations_are_dropped(make_project, orch, warehouse, tmp_path):
    project = make_project(tmp_path, {"models/m.sql": "{{ config(materialized='table') }}\n"
                                      "select 1 as x"})  # fmt: skip
    assert orch("run", "--project-dir", project).exit_code == 0
    con = duckdb.connect(str(project / "warehouse.duckdb"))
    con.execute("create table analytics.__orch_tmp_m_deadbeef as select 1 as x")
    con.execute("create table analytics.__orch_stage_m as select 1 as x")
    con.execute("create table analytics.keep_me as select 1 as x")
    con.close()
    assert orch("run", "--project-dir", project).exit_code == 0
    assert warehouse(project).relations() == {"m": "BASE TABLE", "keep_me": "BASE TABLE"}


def bookkeeping_order(make_project, orch, tmp_path, blocking: bool) -> list[tuple[str, str]]:
    """The order of steps and checks in a --threads 3 build of six tables, a view and a table
    reading all seven, with two checks on each of the seven (blocking or not)."""
    files = {
        f"models/p{i}.sql": f"{{{{ config(materialized='table') }}}}\nselect {i} as id"
        for i in range(6)
    }
    files["models/v.sql"] = "select id from p0"
    files["models/top.sql"] = (
        "{{ config(materialized='table') }}\n"
        + " union all ".join(f"select id from p{i}" for i in range(6))
        + " union all select id from v"
    )
    check = "{%s: {config: {blocking: true}}}" if blocking else "%s"
    columns = "\n".join(
        f"  - name: {name}\n    columns:\n      - name: id\n        checks: "
        f"[{check % 'not_null'}, {check % 'unique'}]"
        for name in [*(f"p{i}" for i in range(6)), "v"]
    )
    files["models/schema.yml"] = "models:\n" + columns + "\n"
    project = make_project(tmp_path, files)
    run = orch("build", "--project-dir", project, "--threads", "3", "--log-format", "json")
    assert run.exit_code == 0, run.output
    return [
        (e["event"], e.get("asset"))
        for e in events(run.stdout)
        if e["event"] in ("StepStarted", "StepMaterialized", "CheckEvaluated")
    ]


def test_downstream_starts_once_its_upstream_is_recorded(make_project, orch, tmp_path):
    """With several threads a finished step's bookkeeping (data version, events) runs beside the
    next steps' statements; what is downstream starts once it is recorded, and all 14 checks run
    (non-blocking checks do not hold it back)."""
    order = bookkeeping_order(make_project, orch, tmp_path, blocking=False)
    before = order[: order.index(("StepStarted", "top"))]
    for parent in [*(f"p{i}" for i in range(6)), "v"]:
        assert ("StepMaterialized", parent) in before
        assert order.count(("CheckEvaluated", parent)) == 2, parent
    assert order.index(("StepStarted", "v")) > order.index(("StepMaterialized", "p0"))


def test_downstream_waits_for_blocking_checks(make_project, orch, tmp_path):
    order = bookkeeping_order(make_project, orch, tmp_path, blocking=True)
    before = order[: order.index(("StepStarted", "top"))]
    for parent in [*(f"p{i}" for i in range(6)), "v"]:
        assert ("StepMaterialized", parent) in before
        assert before.count(("CheckEvaluated", parent)) == 2, parent
