"""Automation conditions in the daemon: each kind, its reasons, restarts, bounded runs.

Real builds into DuckDB files in tmp_path; the tick times are real times (the state records
wall-clock build times), moved forward explicitly where a condition depends on time.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from orch.automation.condition_ticks import ConditionTicker
from orch.automation.daemon import Daemon
from orch.automation.evaluate import AutomationCursor, Evaluator
from orch.config import RunOptions
from orch.run.workflow import compile_for, run_command
from orch.state import SQLiteStateStore
from orch.state.snapshot import StateSnapshot

PROJECT_YML = """\
name: shop
profile: shop
dialect: duckdb
"""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _tick(root: Path, now: datetime | None = None, lines: list[str] | None = None) -> int:
    daemon = Daemon(RunOptions(project_dir=root), launcher="inline",
                    report=(lines.append if lines is not None else None))  # fmt: skip
    try:
        return daemon.tick_once(now or _now())
    finally:
        daemon.close()


def _state(root: Path) -> SQLiteStateStore:
    return SQLiteStateStore.for_project(root)


def _cursor(root: Path) -> AutomationCursor:
    with _state(root) as s:
        return AutomationCursor.from_text(s.get_cursor(AutomationCursor.NAME))


def _automation_runs(root: Path) -> list:  # type: ignore[type-arg]
    with _state(root) as s:
        return [r for r in s.recent_runs(100) if "automation" in r.args]


def _built(root: Path) -> list[str]:
    with _state(root) as s:
        latest = s.latest_materializations(None, target="dev")
    return sorted(a for a, _ in latest)


def _build(orch, root: Path, *select: str) -> None:  # type: ignore[no-untyped-def]
    run = orch("build", "--project-dir", root, *(a for s in select for a in ("-s", s)))
    assert run.exit_code == 0, run.output


@pytest.fixture
def chain(make_project, tmp_path):  # type: ignore[no-untyped-def]
    return make_project(
        tmp_path,
        {
            "models/raw.sql": "{{ config(materialized='table') }}\nselect 1 as id\n",
            "models/stg.sql": "{{ config(materialized='table', automation='eager') }}\n"
            "select id from raw\n",
            "models/mart.sql": "{{ config(materialized='table', automation='eager') }}\n"
            "select count(*) as n from stg\n",
        },  # fmt: skip
        project_yml=PROJECT_YML,
    )


def test_eager_builds_downstream_of_an_update_in_one_run(chain, orch) -> None:  # type: ignore[no-untyped-def]
    _build(orch, chain, "raw")
    assert _tick(chain) == 0
    runs = _automation_runs(chain)
    assert len(runs) == 1  # stg and mart: one run, in dependency order
    assert _built(chain) == ["mart", "raw", "stg"]
    con = duckdb.connect(str(chain / "warehouse.duckdb"), read_only=True)
    assert con.execute("select n from analytics.mart").fetchall() == [(1,)]
    con.close()
    explain = orch("automation", "explain", "mart", "--project-dir", chain)
    assert explain.exit_code == 0
    assert "mart: eager" in explain.stdout and ": requested" in explain.stdout
    assert "✓ eager: never built" in explain.stdout

    # nothing changed: nothing requested, the tick says so
    assert _tick(chain) == 0
    assert len(_automation_runs(chain)) == 1
    explain = orch("automation", "explain", "stg", "--project-dir", chain)
    assert "✗ eager: no upstream updated since its last build" in explain.stdout
    with _state(chain) as s:
        assert s.last_tick("automation").skip_reason == "no asset requested (2 evaluated)"

    # raw rebuilt by hand: eager follows
    _build(orch, chain, "raw")
    assert _tick(chain) == 0
    assert len(_automation_runs(chain)) == 2
    explain = orch("automation", "explain", "stg", "--project-dir", chain)
    assert "✓ eager: upstream raw updated at" in explain.stdout
    ls = orch("automation", "ls", "--project-dir", chain)
    assert "stg   eager" in ls.stdout and "requested" in ls.stdout
    rows = json.loads(orch("automation", "ls", "--format", "json", "--project-dir", chain).stdout)
    assert [(r["asset"], r["condition"], r["requested"]) for r in rows["conditions"]] == [
        ("stg", "eager", True),
        ("mart", "eager", True),
    ]


def test_an_unsatisfiable_condition_is_reported_not_spun_on(chain, orch) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    for _ in range(3):
        assert _tick(chain, lines=lines) == 0
    assert _automation_runs(chain) == []  # raw was never built and nothing will build it
    said = [line for line in lines if "cannot be satisfied" in line]
    assert len(said) == 1  # reported once per daemon, not every tick
    assert said[0].endswith(
        "automation: stg cannot be satisfied: upstream raw was never built and has no automation "
        "condition: nothing will build it (run `orch build -s raw` once, or give it a condition)"
    )
    explain = orch("automation", "explain", "stg", "--project-dir", chain)
    assert "cannot be satisfied: upstream raw was never built" in explain.stdout
    ls = orch("automation", "ls", "--project-dir", chain)
    assert "cannot be satisfied" in ls.stdout
    explain = orch("automation", "explain", "mart", "--project-dir", chain)
    assert "✗ eager: waiting for upstream stg (never built)" in explain.stdout


def test_a_failing_asset_is_not_retried_every_tick(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    root = make_project(
        tmp_path,
        {"models/bad.sql": "{{ config(automation='eager') }}\nselect error('boom') as x\n"},
        project_yml=PROJECT_YML,
    )
    assert _tick(root) == 1  # requested (never built), its run failed: the tick failed
    for _ in range(2):
        assert _tick(root) == 0
    assert len(_automation_runs(root)) == 1
    explain = orch("automation", "explain", "bad", "--project-dir", root)
    assert "✗ eager: last run failed at" in explain.stdout
    assert "not retried until an upstream is materialized again" in explain.stdout


def test_on_cron_waits_for_its_upstreams_after_the_tick(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    root = make_project(
        tmp_path,
        {
            "models/raw.sql": "{{ config(materialized='table') }}\nselect 1 as id\n",
            "models/daily.sql": "{{ config(materialized='table', "
            "automation='on_cron(\"0 * * * *\")') }}\nselect * from raw\n",
        },  # fmt: skip
        project_yml=PROJECT_YML,
    )
    _build(orch, root, "raw")
    _build(orch, root, "daily")
    hour = (_now() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    # the next hourly tick passed, raw not updated since: waits
    _tick(root, hour + timedelta(minutes=5))
    assert _automation_runs(root) == []
    explain = orch("automation", "explain", "daily", "--project-dir", root)
    assert "waiting for upstreams updated since: raw" in explain.stdout
    # raw updated after the tick (its build time is now, before `hour`: so move the tick back)
    _build(orch, root, "raw")
    prev = _now().replace(minute=0, second=0, microsecond=0)
    _tick(root, _now() + timedelta(seconds=1))
    runs = _automation_runs(root)
    assert len(runs) == 1 and runs[0].status == "success"
    explain = orch("automation", "explain", "daily", "--project-dir", root)
    assert "passed and its upstreams updated since" in explain.stdout
    # once per tick
    _tick(root, _now() + timedelta(seconds=2))
    assert len(_automation_runs(root)) == 1
    explain = orch("automation", "explain", "daily", "--project-dir", root)
    assert f"already requested for the tick {prev.isoformat().replace('+00:00', 'Z')}" in (
        explain.stdout
    )


def test_on_missing_builds_missing_partitions(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    start = (_now() - timedelta(days=3)).date().isoformat()
    root = make_project(
        tmp_path,
        {
            "models/events.sql": f"""\
                {{{{ config(materialized='incremental', automation='on_missing',
                   partitioned_by={{'grain': 'daily', 'start': '{start}', 'column': 'day'}}) }}}}
                select cast({{{{ partition.start }}}} as date) as day, 1 as n
                """,
        },
        project_yml=PROJECT_YML,
    )
    out = orch("automation", "tick", "--dry-run", "--project-dir", root)
    assert out.exit_code == 0
    assert "✓ on_missing: 3 missing partitions" in out.stdout
    assert "1 run(s) would be launched\n  build -s events" in out.stdout
    assert _tick(root) == 0
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from analytics.events").fetchone() == (3,)
    con.close()
    _tick(root)
    explain = orch("automation", "explain", "events", "--project-dir", root)
    assert "✗ on_missing: nothing missing" in explain.stdout
    assert len(_automation_runs(root)) == 1


def test_max_lag_refreshes_the_lagging_upstream_too(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    root = make_project(
        tmp_path,
        {
            "models/raw.sql": "{{ config(materialized='table') }}\nselect 1 as id\n",
            "models/report.sql": "{{ config(materialized='table', automation='max_lag(2h)') }}\n"
            "select * from raw\n",
        },  # fmt: skip
        project_yml=PROJECT_YML,
    )
    _build(orch, root)
    _tick(root, _now() + timedelta(hours=1))
    explain = orch("automation", "explain", "report", "--project-dir", root)
    assert "✗ max_lag(2h): data is 1h 0m old" in explain.stdout and "due by" in explain.stdout
    assert _automation_runs(root) == []
    _tick(root, _now() + timedelta(hours=3))
    runs = _automation_runs(root)
    assert len(runs) == 1
    assert sorted(runs[0].selection.split()) == ["raw", "report"]
    explain = orch("automation", "explain", "report", "--project-dir", root)
    assert "✓ max_lag(2h): data is 3h 0m old" in explain.stdout
    assert "refreshing upstream raw with it" in explain.stdout
    explain = orch("automation", "explain", "raw", "--project-dir", root)
    assert "requested with report: max_lag(2h)" in explain.stdout


def test_a_restart_neither_double_launches_nor_loses_the_tick(chain, orch) -> None:  # type: ignore[no-untyped-def]
    _build(orch, chain, "raw")
    options = RunOptions(project_dir=chain)
    compiled = compile_for(options)
    # 1. the daemon evaluated and claimed its run, then died before launching it
    with _state(chain) as state:
        ticker = ConditionTicker(
            options, compiled.project, state, max_assets=500, report=lambda _: None
        )
        outcome = ticker.tick(_now())
    assert outcome.status == "launch" and len(outcome.launches) == 1
    claimed = outcome.launches[0].run_id
    assert _automation_runs(chain) == []
    # the restarted daemon launches that run, with the claimed id, and records the tick
    _tick(chain)
    runs = _automation_runs(chain)
    assert [r.run_id for r in runs] == [claimed]
    with _state(chain) as s:
        tick = s.last_tick("automation")
        assert tick.run_ids == (claimed,) or list(tick.run_ids) == [claimed]
        assert tick.status == "success"

    # 2. the daemon launched the run and died before recording its tick
    _build(orch, chain, "raw")
    with _state(chain) as state:
        ticker = ConditionTicker(
            options, compiled.project, state, max_assets=500, report=lambda _: None
        )
        outcome = ticker.tick(_now())
    launch = outcome.launches[0]
    run_command(
        RunOptions(project_dir=chain, select=launch.assets), "build", run_id=launch.run_id,
        run_args={"automation": "x"},
    )  # fmt: skip
    before = len(_automation_runs(chain))
    _tick(chain)  # settles the open tick: records it, launches nothing again
    assert len(_automation_runs(chain)) == before
    with _state(chain) as s:
        tick = s.last_tick("automation")
        assert list(tick.run_ids) == [launch.run_id]
        assert tick.skip_reason == "recorded after a restart: its runs had ended"
    assert _cursor(chain).open_runs == []
    # and the next tick evaluates afresh: stg and mart are up to date
    _tick(chain)
    assert len(_automation_runs(chain)) == before


def test_a_thousand_assets_updated_at_once_launch_bounded_runs(make_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = {"models/raw.sql": "{{ config(materialized='table') }}\nselect 1 as id\n"}
    for i in range(1000):
        files[f"models/m/a{i:04d}.sql"] = "select id from raw\n"
    root = make_project(
        tmp_path,
        files,
        project_yml=PROJECT_YML + "models:\n  shop:\n    m:\n      +automation: eager\n",
    )
    compiled = compile_for(RunOptions(project_dir=root))
    now = _now()
    with _state(root) as s:
        run = s.start_run("build", target="dev")
        for name in ["raw", *(f"a{i:04d}" for i in range(1000))]:
            s.record_materialization(
                run_id=run, asset=name, partition_key=None, status="success",
                started_at=now - timedelta(hours=1), finished_at=now - timedelta(hours=1),
                fingerprint=compiled.manifest.nodes[name].fingerprint, materialized="view",
            )  # fmt: skip
        s.record_materialization(
            run_id=run, asset="raw", partition_key=None, status="success", started_at=now,
            finished_at=now, fingerprint=compiled.manifest.nodes["raw"].fingerprint,
            materialized="table",
        )  # fmt: skip
        s.finish_run(run, "success")
        snapshot = StateSnapshot.read(s, "dev")
    evaluation = Evaluator(compiled.manifest, snapshot, {}, now).evaluate()
    assert len(evaluation.requested) == 1000
    assert [len(r.assets) for r in evaluation.runs] == [500, 500]  # the default bound
    one = Evaluator(compiled.manifest, snapshot, {}, now, max_assets=1000).evaluate()
    assert len(one.runs) == 1
    assert all(
        e.reasons[0].startswith("✓ eager: upstream raw updated") for e in one.assets.values()
    )


def test_the_subprocess_launcher_builds_the_requested_assets(chain, orch) -> None:  # type: ignore[no-untyped-def]
    _build(orch, chain, "raw")
    daemon = Daemon(RunOptions(project_dir=chain), launcher="subprocess")
    try:
        assert daemon.tick_once(_now()) == 0
    finally:
        daemon.close()
    runs = _automation_runs(chain)
    assert len(runs) == 1 and runs[0].status == "success"
    assert runs[0].selection == "stg mart"
    assert _built(chain) == ["mart", "raw", "stg"]


def test_automation_tick_leaves_schedules_alone(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    root = make_project(
        tmp_path,
        {"models/a.sql": "{{ config(automation='eager') }}\nselect 1 as id\n",
         "models/b.sql": "select 2 as id\n"},
        project_yml=PROJECT_YML + "jobs:\n  j: {select: b}\nschedules:\n"
        "  hourly: {job: j, cron: '@hourly'}\n",
    )  # fmt: skip
    run = orch("automation", "tick", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert _built(root) == ["a"]  # the schedule's job (b) did not run
    with _state(root) as s:
        assert s.last_tick("hourly") is None


def test_on_missing_waits_for_the_upstream_partitions(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    start = (_now() - timedelta(days=3)).date()
    part = f"{{'grain': 'daily', 'start': '{start.isoformat()}', 'column': 'day'}}"
    root = make_project(
        tmp_path,
        {
            "models/up.sql": f"{{{{ config(materialized='incremental', partitioned_by={part}) }}}}"
            "\nselect cast({{ partition.start }} as date) as day, 1 as n\n",
            "models/down.sql": f"{{{{ config(materialized='incremental', automation='on_missing',"
            f" partitioned_by={part}) }}}}\nselect day, n from up\n"
            "where day >= {{ partition.start }} and day < {{ partition.end }}\n",
        },  # fmt: skip
        project_yml=PROJECT_YML,
    )
    first = start.isoformat()
    run = orch("build", "-s", "up", "--partition", first, "--project-dir", root)
    assert run.exit_code == 0, run.output
    out = orch("automation", "tick", "--dry-run", "--project-dir", root)
    assert f"✓ on_missing: 1 missing partitions: {first}" in out.stdout  # 1 of 3 is ready
    run = orch("build", "-s", "down", "--partition", first, "--project-dir", root)
    assert run.exit_code == 0, run.output
    out = orch("automation", "tick", "--dry-run", "--project-dir", root)
    assert "✗ on_missing: 2 missing partitions: " in out.stdout
    assert "; waiting for their upstream partitions" in out.stdout
    assert "0 run(s) would be launched" in out.stdout


def test_on_missing_requests_only_the_ready_partitions(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    """Of the missing partitions, the run builds only those whose upstream partitions exist."""
    from orch.automation.daemon import LaunchRequest, SubprocessLauncher

    start = (_now() - timedelta(days=3)).date()
    part = f"{{'grain': 'daily', 'start': '{start.isoformat()}', 'column': 'day'}}"
    root = make_project(
        tmp_path,
        {
            "models/up.sql": f"{{{{ config(materialized='incremental', partitioned_by={part}) }}}}"
            "\nselect cast({{ partition.start }} as date) as day, 1 as n\n",
            "models/down.sql": f"{{{{ config(materialized='incremental', automation='on_missing',"
            f" partitioned_by={part}) }}}}\nselect day, n from up\n"
            "where day >= {{ partition.start }} and day < {{ partition.end }}\n",
        },  # fmt: skip
        project_yml=PROJECT_YML,
    )
    first, second = start.isoformat(), (start + timedelta(days=1)).isoformat()
    for key in (first, second):
        run = orch("build", "-s", "up", "--partition", key, "--project-dir", root)
        assert run.exit_code == 0, run.output
    out = orch("automation", "tick", "--dry-run", "--project-dir", root)
    assert f"down: only partitions {first}, {second}" in out.stdout
    # the daemon claims the run and dies before launching it: the cursor keeps the limit ...
    options = RunOptions(project_dir=root)
    with _state(root) as state:
        ticker = ConditionTicker(options, compile_for(options).project, state, max_assets=500,
                                 report=lambda _: None, observe_every=None)  # fmt: skip
        outcome = ticker.tick(_now())
        assert outcome.launches[0].partitions == {"down": (first, second)}
        assert ticker.tick(_now()).launches[0].partitions == {"down": (first, second)}
    # ... and the restarted daemon launches it with that limit
    assert _tick(root) == 0
    with _state(root) as s:
        assert sorted(s.partitions_of("down")) == [first, second]  # the third waits for up
        assert sorted(s.partitions_of("up")) == [first, second]  # not built by the daemon
    (run,) = _automation_runs(root)
    assert run.status == "success"
    # the subprocess launcher passes the same limit to `orch automation run`
    launcher = SubprocessLauncher(RunOptions(project_dir=root), tmp_path / "logs")
    cmd = launcher.command(LaunchRequest("automation", _now(), "k", "r", "", select=("down",),
                                         partitions={"down": (first,)}))  # fmt: skip
    assert cmd[cmd.index("--partitions") + 1] == json.dumps({"down": [first]})
    third = (start + timedelta(days=2)).isoformat()
    run = orch("build", "-s", "up", "--partition", third, "--project-dir", root)
    assert run.exit_code == 0, run.output
    child = orch("automation", "run", "-s", "down", "--run-id", "c1", "--partitions",
                 json.dumps({"down": [third]}), "--project-dir", root)  # fmt: skip
    assert child.exit_code == 0, child.output
    with _state(root) as s:
        assert sorted(s.partitions_of("down")) == [first, second, third]


def _source_chain(make_project, tmp_path, observe: str = "") -> Path:  # type: ignore[no-untyped-def]
    root = make_project(
        tmp_path,
        {
            "models/sources.yml": "version: 2\nsources:\n  - name: shop\n    schema: main\n"
            "    tables:\n      - name: orders\n        loaded_at_field: loaded_at\n"
            f"{observe}",
            "models/stg.sql": "{{ config(materialized='table', automation='eager') }}\n"
            "select id from {{ source('shop', 'orders') }}\n",
            "models/mart.sql": "{{ config(materialized='table', automation='eager') }}\n"
            "select count(*) as n from {{ ref('stg') }}\n",
        },  # fmt: skip
        project_yml=PROJECT_YML,
    )
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("create table main.orders as select 1 as id, now() as loaded_at")
    return root


def _daemon(root: Path, lines: list[str], every: float | None) -> Daemon:
    return Daemon(RunOptions(project_dir=root), launcher="inline", report=lines.append,
                  observe_every=every)  # fmt: skip


def test_the_daemon_observes_sources_on_a_schedule(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    """Late-arriving source rows: the daemon's observation notices them, eager readers rebuild."""
    root = _source_chain(make_project, tmp_path)
    _build(orch, root, "stg", "mart")
    lines: list[str] = []
    daemon = _daemon(root, lines, every=600)
    try:
        t0 = _now()
        assert daemon.tick_once(t0) == 0  # the first evaluation observes: nothing changed
        assert _automation_runs(root) == []
        with duckdb.connect(str(root / "warehouse.duckdb")) as con:
            con.execute("insert into main.orders values (2, now())")
        assert daemon.tick_once(t0 + timedelta(seconds=60)) == 0  # within the interval
        assert _automation_runs(root) == []
        assert daemon.tick_once(t0 + timedelta(seconds=601)) == 0  # observed again: changed
    finally:
        daemon.close()
    assert any("source(s) changed: shop.orders" in line for line in lines), lines
    (run,) = _automation_runs(root)
    assert run.status == "success"
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select n from analytics.mart").fetchone() == (2,)
    explain = orch("automation", "explain", "stg", "--project-dir", root)
    assert "✓ eager: source shop.orders changed" in explain.stdout


def test_a_failing_observation_in_the_daemon_names_the_source(make_project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    observe = "        observe: select max(nope) from main.orders\n"
    root = _source_chain(make_project, tmp_path, observe)
    lines: list[str] = []
    daemon = _daemon(root, lines, every=600)
    try:
        daemon.tick_once(_now())  # reported, not fatal: the conditions are still evaluated
    finally:
        daemon.close()
    assert any("observing source 'shop.orders' failed" in line for line in lines), lines
    assert any("automation:" in line and "run(s) requested" in line for line in lines), lines
