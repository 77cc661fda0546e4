"""The daemon: exactly-once ticks across restarts, catch-up, failures, the lock, SIGTERM.

Time is simulated (:class:`FakeClock`); runs are real builds into DuckDB files in tmp_path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from orch.automation.daemon import (
    Daemon,
    InlineLauncher,
    LaunchRequest,
    LaunchResult,
    make_run_function,
)
from orch.automation.schedules import schedule_cursor_name
from orch.cli import cli
from orch.config import RunOptions
from orch.state import SQLiteStateStore

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

PROJECT_YML = """\
name: shop
profile: shop
jobs:
  events:
    select: events
  hourly_job:
    select: counter
schedules:
  events_daily:
    job: events
    cron: "@daily"
  every_hour:
    job: hourly_job
    cron: "@hourly"
    catchup: {catchup}
    enabled: {hourly}
"""

FILES = {
    "models/events.sql": """\
        {{ config(materialized='incremental',
                  partitioned_by={'grain': 'daily', 'start': '2023-12-01', 'column': 'day'}) }}
        select cast({{ partition.start }} as date) as day, 1 as n
        """,
    "models/counter.sql": "select 1 as x\n",
}


class FakeClock:
    """A controllable clock: ``sleep`` advances it instead of waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=max(seconds, 1.0))


@pytest.fixture
def project(make_project, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(catchup: str = "latest", hourly: bool = False, files: dict | None = None) -> Path:
        yml = PROJECT_YML.format(catchup=catchup, hourly=str(hourly).lower())
        return make_project(tmp_path / "p", {**FILES, **(files or {})}, project_yml=yml)

    return make


def daemon(root: Path, clock: FakeClock, **kwargs) -> Daemon:  # type: ignore[no-untyped-def]
    kwargs.setdefault("launcher", "inline")
    return Daemon(
        RunOptions(project_dir=root), clock=clock, sleep=clock.sleep, poll_interval=3600, **kwargs
    )


def state(root: Path) -> SQLiteStateStore:
    return SQLiteStateStore.for_project(root, readonly=True)


def runs_of(root: Path) -> list:  # type: ignore[type-arg]
    with state(root) as s:
        return s.recent_runs(1000)


def event_days(root: Path) -> list[str]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.sql("select day::varchar from analytics.events order by day").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- ten days


def test_daemon_runs_ten_simulated_days_with_exactly_the_expected_runs(project) -> None:
    root = project()
    clock = FakeClock(T0)
    d = daemon(root, clock)
    d.run(until=T0 + timedelta(days=10, hours=12))
    d.close()
    runs = runs_of(root)
    assert len(runs) == 11  # ticks at 2024-01-01 00:00 .. 2024-01-11 00:00
    assert {r.status for r in runs} == {"success"}
    # each tick built the day that had just closed
    assert event_days(root) == ["2023-12-31", *[f"2024-01-{d:02d}" for d in range(1, 11)]]
    with state(root) as s:
        ticks = s.ticks("events_daily", 100)
    assert [t.status for t in ticks] == ["success"] * 11
    assert sorted(t.tick_time for t in ticks) == [T0 + timedelta(days=i) for i in range(11)]
    assert all(len(t.run_ids) == 1 for t in ticks)
    # the loop slept until each next tick instead of spinning
    assert len(clock.sleeps) < 300


# --------------------------------------------------------------------------- catch-up


@pytest.mark.parametrize(
    ("catchup", "runs", "skipped"), [("latest", 1, 2), ("all", 3, 0)], ids=["latest", "all"]
)
def test_ticks_missed_while_down_follow_the_catchup_policy(
    project, catchup: str, runs: int, skipped: int
) -> None:
    root = project(catchup=catchup, hourly=True)
    clock = FakeClock(T0 + timedelta(minutes=10))
    first = daemon(root, clock)
    first.tick_once()  # handles the 00:00 ticks of both schedules
    first.close()
    before = len(runs_of(root))
    clock.now = T0 + timedelta(hours=3, minutes=30)  # down across 01:00, 02:00, 03:00
    second = daemon(root, clock)
    second.tick_once()
    second.close()
    with state(root) as s:
        ticks = sorted(s.ticks("every_hour", 100), key=lambda t: t.tick_time)
    after = ticks[1:]
    assert [t.tick_time.hour for t in after] == [1, 2, 3]
    assert sum(t.status == "success" for t in after) == runs
    assert sum(t.status == "skipped" for t in after) == skipped
    assert after[-1].status == "success"  # the latest tick always runs
    if catchup == "latest":
        assert "missed (daemon down or busy); catchup latest runs 2024-01-01T03:00:00Z only" in (
            after[0].skip_reason or ""
        )
    assert len(runs_of(root)) - before == runs
    with state(root) as s:  # the cursor moved to the last handled tick
        assert s.get_cursor(schedule_cursor_name("every_hour")) == ticks[-1].tick_time.isoformat()


# --------------------------------------------------------------------------- crash windows


class Killed(BaseException):
    """Simulates the daemon process dying (not an Exception: nothing catches it)."""


class KillingLauncher(InlineLauncher):
    """Runs the job, then 'dies' before the daemon records the tick (or before the run starts)."""

    def __init__(self, run, before_run: bool = False) -> None:  # type: ignore[no-untyped-def]
        super().__init__(run)
        self.before_run = before_run

    def start(self, request: LaunchRequest) -> LaunchResult | None:
        if not self.before_run:
            self.run(request)
        raise Killed


@pytest.mark.parametrize("before_run", [False, True], ids=["after-run", "before-run"])
def test_daemon_killed_between_launch_and_tick_record_never_duplicates_the_run(
    project, before_run: bool
) -> None:
    root = project()
    clock = FakeClock(T0 + timedelta(minutes=5))
    first = daemon(root, clock)
    first.launcher = KillingLauncher(make_run_function(first.options, first.automation), before_run)
    with pytest.raises(Killed):
        first.tick_once()
    first.state.close()
    with state(root) as s:
        assert s.ticks("events_daily") == []  # killed before the tick was recorded
        claimed = s.run_for_key("events_daily", "events_daily:2024-01-01T00:00:00Z")
    assert claimed is not None
    assert len(runs_of(root)) == (0 if before_run else 1)

    second = daemon(root, clock)  # the restart
    second.tick_once()
    second.tick_once()
    second.close()
    runs = runs_of(root)
    assert [r.run_id for r in runs] == [claimed]  # exactly one run, with the claimed id
    assert runs[0].status == "success"
    with state(root) as s:
        ticks = s.ticks("events_daily")
    assert len(ticks) == 1
    assert ticks[0].status == "success"
    assert ticks[0].run_ids == (claimed,)
    if not before_run:
        assert "run key was already used" in (ticks[0].skip_reason or "")
    assert event_days(root) == ["2023-12-31"]


# --------------------------------------------------------------------------- failures


SENSOR_RAISES = """\
from orch import sensor, RunRequest

CALLS = []


@sensor(job="hourly_job", minimum_interval_seconds=600)
def flaky(context):
    n = int(context.cursor or 0)
    context.cursor = str(n + 1)
    CALLS.append(n)
    if len(CALLS) == 1:
        raise ValueError("the upstream API is down")
    yield RunRequest(run_key=f"k{n}")
"""


def test_a_raising_sensor_records_a_failed_tick_and_the_daemon_goes_on(project) -> None:
    root = project(files={"sensors/flaky.py": SENSOR_RAISES})
    clock = FakeClock(T0 + timedelta(minutes=1))
    d = daemon(root, clock)
    d.run(until=T0 + timedelta(minutes=25))
    d.close()
    with state(root) as s:
        ticks = sorted(s.ticks("flaky"), key=lambda t: t.tick_time)
        daily = s.ticks("events_daily")
        cursor = s.get_cursor("flaky")
    assert ticks[0].status == "failed"
    assert "ValueError: the upstream API is down" in (ticks[0].error or "")
    assert 'sensors/flaky.py", line 12, in flaky' in (ticks[0].error or "")
    # the failed evaluation did not store its cursor: the next one starts from the same place
    assert [t.status for t in ticks[1:]] == ["success", "success"]
    assert ticks[1].tick_time - ticks[0].tick_time >= timedelta(seconds=600)
    assert cursor == "2"
    assert [t.status for t in daily] == ["success"]  # the schedule ran regardless


FAILING_SCHEDULE = """\
from orch import schedule

@schedule(cron="@hourly", job="hourly_job", name="hourly_fn")
def hourly_fn(context):
    # vars computed from the tick time: the 01:00 tick breaks the model
    return {"fail": context.scheduled_time.hour == 1}
"""

FLAKY_MODEL = """\
{{ config(materialized='table') }}
{% if var('fail', false) %}
select error('boom at one') as x
{% else %}
select 1 as x
{% endif %}
"""


def test_a_tick_whose_run_fails_is_recorded_and_the_next_tick_still_runs(project) -> None:
    root = project(files={"sensors/hourly.py": FAILING_SCHEDULE, "models/counter.sql": FLAKY_MODEL})
    clock = FakeClock(T0 + timedelta(minutes=1))
    d = daemon(root, clock)
    d.run(until=T0 + timedelta(hours=2, minutes=30))
    d.close()
    with state(root) as s:
        ticks = sorted(s.ticks("hourly_fn"), key=lambda t: t.tick_time)
        statuses = [(t.tick_time.hour, t.status) for t in ticks]
        failed_run = s.get_run(ticks[1].run_ids[0])
    assert statuses == [(0, "success"), (1, "failed"), (2, "success")]
    assert "boom at one" in (ticks[1].error or "")
    assert failed_run is not None and failed_run.status == "failed"


# --------------------------------------------------------------------------- lock, SIGTERM


def _wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_second_daemon_refuses_and_sigterm_stops_the_first(project) -> None:
    root = project()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", "from orch.cli import main; main()", "daemon",
         "--project-dir", str(root), "--poll-interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:

        def held() -> bool:
            with state(root) as s:
                return s.lock_holder("daemon:shop") is not None

        _wait_for(held)
        result = CliRunner().invoke(cli, ["daemon", "--project-dir", str(root)])
        assert result.exit_code == 2
        assert f"another `orch daemon` is running for project 'shop' (pid {child.pid}" in (
            result.output
        )
        assert "Stop it first (kill -TERM" in result.output
        tick = CliRunner().invoke(cli, ["schedule", "tick", "--project-dir", str(root)])
        assert tick.exit_code == 2
        assert "another `orch daemon` is running" in tick.output
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, out.decode()
    text = out.decode()
    assert "SIGTERM: finishing the running runs, then stopping" in text
    assert "orch daemon: stopped" in text
    with state(root) as s:
        assert s.lock_holder("daemon:shop") is None
        assert s.ticks("events_daily")[0].status == "success"  # the first tick ran meanwhile


def test_stop_drains_a_running_run_before_returning(project) -> None:
    root = project()
    started = threading.Event()
    clock = FakeClock(T0 + timedelta(minutes=1))
    d = daemon(root, clock, launcher="thread")
    real_run = make_run_function(d.options, d.automation)

    def slow_run(request: LaunchRequest) -> LaunchResult:
        started.set()
        time.sleep(0.3)
        return real_run(request)

    d.launcher.run = slow_run  # type: ignore[attr-defined]

    def sleep(seconds: float) -> None:  # SIGTERM arrives while the run is running
        started.wait(5)
        d.stop()

    d.sleep = sleep
    d.run()
    d.close()
    with state(root) as s:
        ticks = s.ticks("events_daily")
    assert [t.status for t in ticks] == ["success"]  # recorded after the run finished
    assert runs_of(root)[0].status == "success"


def test_subprocess_launcher_runs_the_job_in_a_child_with_the_claimed_run_id(project) -> None:
    root = project()
    clock = FakeClock(T0 + timedelta(hours=1))
    d = daemon(root, clock, launcher="subprocess")
    assert d.tick_once() == 0
    d.close()
    with state(root) as s:
        tick = s.ticks("events_daily")[0]
    assert tick.status == "success"
    (run,) = runs_of(root)
    assert tick.run_ids == (run.run_id,)
    assert run.pid != os.getpid()
    assert (root / "logs" / "daemon" / f"{run.run_id}.log").exists()
    assert event_days(root) == ["2023-12-31"]  # --at passed the tick time to the child
