"""The daemon: evaluate due schedule ticks and sensors in a loop, launch their runs, record ticks.

Exactly once per tick, across restarts — the protocol, per schedule tick or sensor evaluation:

1. Evaluate (the schedule function, or the sensor with its stored cursor). An exception is a
   ``failed`` tick carrying the traceback; a skip is a ``skipped`` tick. Either way the daemon
   goes on.
2. Claim each run request's **run key** (``<schedule>:<tick time>`` for a schedule; the sensor's
   key, or ``<evaluation time>#<i>`` when it gave none) with a fresh run id, atomically
   (:meth:`~orch.state.StateStore.record_run_key`). A key whose run already exists is never run
   again; a key claimed by a run that never started (the daemon died first) is launched with the
   claimed id.
3. Launch the runs (bounded concurrency; runs on one target also serialize on its run lock — a
   run that finds the lock held, e.g. by a manual ``orch build``, waits in the queue).
4. When the tick's runs have finished, record the tick (``success``/``failed``, run ids, error),
   then advance the schedule's cursor (its last handled tick) or store the sensor's new cursor.
   Until then that schedule/sensor is not evaluated again (no overlapping runs of one schedule).

A restart therefore re-evaluates exactly the ticks whose record is missing: their run keys say
whether the run already happened. Ticks that fell due while the daemon was down are caught up per
schedule: ``catchup: latest`` runs the newest and records the others as skipped, ``all`` runs each
in order. A schedule never evaluated before starts with the newest tick at or before now.

Assets' automation conditions (``eager``, ``on_cron``...) are evaluated on every iteration by
:mod:`orch.automation.condition_ticks`, with the same exactly-once protocol; their runs are builds
of the requested assets rather than jobs.

The clock and the sleeper are injectable (tests simulate days in milliseconds); SIGTERM stops
evaluating, lets running runs finish, records them and releases the daemon lock.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from orch.automation.condition_ticks import OBSERVE_EVERY_S, ConditionTicker, build_requested
from orch.automation.condition_ticks import ORIGIN as CONDITIONS
from orch.automation.evaluate import MAX_ASSETS_PER_RUN
from orch.automation.jobs import run_job
from orch.automation.schedules import (
    Automation,
    Evaluation,
    RunRequest,
    ScheduleDefinition,
    SensorContext,
    SensorDefinition,
    evaluate_schedule,
    evaluate_sensor,
    iso,
    load_automation,
    schedule_cursor_name,
)
from orch.automation.toggles import apply_switches
from orch.config import RunOptions
from orch.errors import LockHeldError, OrchError
from orch.load.project import Project, load_project
from orch.run.ops.workflow import run_op_job
from orch.run.workflow import open_state
from orch.state import LockOwner, RunLock, StateStore, lock_is_stale, pid_alive

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleeper = Callable[[float], None]
MAX_SKIP_RECORDS = 100


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- launching


@dataclass(frozen=True)
class LaunchRequest:
    """One run to launch for a schedule tick or a sensor evaluation."""

    origin: str  # the schedule or sensor
    tick_time: datetime
    run_key: str
    run_id: str
    job: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    partition: str | None = None
    partition_mode: str | None = None  # None: the job's own ``partitions``
    select: tuple[str, ...] = ()  # automation conditions: a build of these assets (no job)
    partitions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # ...limited so


@dataclass(frozen=True)
class LaunchResult:
    """How a launched run ended; ``retry`` means it could not start yet (the target was locked)."""

    run_id: str
    status: Literal["success", "failed", "retry"]
    error: str | None = None


RunFunction = Callable[[LaunchRequest], LaunchResult]


class Launcher(ABC):
    """Starts runs and reports their ends."""

    @abstractmethod
    def start(self, request: LaunchRequest) -> LaunchResult | None:
        """Start a run; a synchronous launcher returns its result, an asynchronous one None."""

    def poll(self) -> list[tuple[LaunchRequest, LaunchResult]]:
        """Runs that ended since the last poll."""
        return []

    def active(self) -> int:
        """Runs started and not yet collected."""
        return 0

    def close(self) -> None:
        """Release workers (after every run was collected)."""
        return None


class InlineLauncher(Launcher):
    """Runs each job in the calling thread (``orch schedule tick``, deterministic tests)."""

    def __init__(self, run: RunFunction) -> None:
        self.run = run

    def start(self, request: LaunchRequest) -> LaunchResult | None:
        """Run to completion and return the result."""
        return self.run(request)


class ThreadLauncher(Launcher):
    """Runs jobs in a pool of worker threads in the daemon's process."""

    def __init__(self, run: RunFunction, max_workers: int = 1) -> None:
        self.run = run
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="orch-run")
        self.futures: dict[Future[LaunchResult], LaunchRequest] = {}

    def start(self, request: LaunchRequest) -> LaunchResult | None:
        """Submit the run to the pool."""
        self.futures[self.pool.submit(self.run, request)] = request
        return None

    def poll(self) -> list[tuple[LaunchRequest, LaunchResult]]:
        """Collect finished futures."""
        done = [f for f in self.futures if f.done()]
        return [(self.futures.pop(f), f.result()) for f in done]

    def active(self) -> int:
        """Futures not yet collected."""
        return len(self.futures)

    def close(self) -> None:
        """Shut the pool down."""
        self.pool.shutdown(wait=True)


class SubprocessLauncher(Launcher):
    """Runs each job as ``orch job run NAME --run-id ID ...`` in a child process."""

    def __init__(self, options: RunOptions, log_dir: Path) -> None:
        self.options = options
        self.log_dir = log_dir
        self.children: dict[str, tuple[subprocess.Popen[bytes], LaunchRequest, Path]] = {}

    def command(self, request: LaunchRequest) -> list[str]:
        """The child's command line."""
        o = self.options
        cmd = [sys.executable, "-c", "from orch.cli import main; main()", "job", "run",
               request.job, "--project-dir", str(o.project_dir), "--run-id", request.run_id,
               "--at", request.tick_time.isoformat()]  # fmt: skip
        if request.select:  # automation conditions: `orch automation run` builds the assets
            cmd[3:6] = ["automation", "run", *(a for s in request.select for a in ("-s", s))]
            if request.partitions:
                cmd += [
                    "--partitions",
                    json.dumps({a: list(k) for a, k in request.partitions.items()}),
                ]
        if o.profiles_dir:
            cmd += ["--profiles-dir", str(o.profiles_dir)]
        if o.target:
            cmd += ["--target", o.target]
        merged = {**dict(request.vars), **o.vars}
        if merged:
            cmd += ["--vars", json.dumps(merged, default=str)]
        if request.partition:
            cmd += ["--partition", request.partition]
        elif request.partition_mode:
            cmd += ["--partition-mode", request.partition_mode]
        return cmd

    def start(self, request: LaunchRequest) -> LaunchResult | None:
        """Spawn the child; its output goes to ``logs/daemon/<run id>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{request.run_id}.log"
        with path.open("wb") as out:
            child = subprocess.Popen(self.command(request), stdout=out, stderr=subprocess.STDOUT)
        self.children[request.run_id] = (child, request, path)
        return None

    def poll(self) -> list[tuple[LaunchRequest, LaunchResult]]:
        """Collect children that exited: 0 success, 'is locked by' retry, else failed."""
        out = []
        for run_id, (child, request, path) in list(self.children.items()):
            code = child.poll()
            if code is None:
                continue
            del self.children[run_id]
            text = path.read_text(encoding="utf-8", errors="replace")
            if code == 0:
                out.append((request, LaunchResult(run_id, "success")))
            elif code == 2 and "is locked by" in text:
                out.append((request, LaunchResult(run_id, "retry", text.strip()[-500:])))
            else:
                tail = "\n".join(text.strip().splitlines()[-20:])
                out.append((request, LaunchResult(run_id, "failed", f"exit code {code}\n{tail}")))
        return out

    def active(self) -> int:
        """Children still running (or not yet collected)."""
        return len(self.children)


def make_run_function(options: RunOptions, automation: Automation) -> RunFunction:
    """The in-process run: :func:`orch.automation.jobs.run_job`, its outcome as a LaunchResult."""

    def run_ops(request: LaunchRequest) -> LaunchResult:
        project = load_project(options)
        result = run_op_job(
            project, automation.op_jobs[request.job], options=options,
            run_config=dict(request.vars or {}) or None, run_id=request.run_id,
        )  # fmt: skip
        if result.success:
            return LaunchResult(request.run_id, "success")
        failed = [f"{k}: {e.strip().splitlines()[0]}" for k, e in result.failures.items()]
        detail = "; ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        return LaunchResult(request.run_id, "failed", f"run {result.status}: {detail}".rstrip())

    def run(request: LaunchRequest) -> LaunchResult:
        try:
            if request.select:
                result = build_requested(
                    options, request.select, request.partitions, run_id=request.run_id,
                    at=iso(request.tick_time),
                )  # fmt: skip
            elif request.job in automation.op_jobs:
                return run_ops(request)
            else:
                result = run_job(
                    options,
                    request.job,
                    automation.jobs[request.job],
                    extra_vars=request.vars,
                    partition=request.partition,
                    partition_mode=request.partition_mode,
                    at=request.tick_time,
                    run_id=request.run_id,
                )
        except LockHeldError as err:
            return LaunchResult(request.run_id, "retry", err.format_message())
        except OrchError as err:
            return LaunchResult(request.run_id, "failed", err.format_message())
        except Exception:  # a bug in a run must not stop the daemon: record it on the tick
            return LaunchResult(request.run_id, "failed", traceback.format_exc())
        summary = result.summary
        if summary is None or summary.status == "success":
            return LaunchResult(request.run_id, "success")
        failed = [
            f"{step}: {(o.error or o.cause or o.status).strip().splitlines()[0]}"
            for step, o in summary.outcomes.items()
            if o.status in ("failed", "blocked")
        ]
        detail = "; ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        return LaunchResult(request.run_id, "failed", f"run {summary.status}: {detail}".rstrip())

    return run


# --------------------------------------------------------------------------- the daemon


@dataclass
class OpenTick:
    """A tick whose runs are queued or running; recorded when they all ended."""

    name: str
    kind: Literal["schedule", "sensor", "conditions"]
    tick_time: datetime
    run_ids: list[str]
    pending: set[str]
    errors: list[str] = field(default_factory=list)
    cursor: str | None = None
    before: str | None = None  # the sensor's cursor before the evaluation
    note: str | None = None


class DaemonRunningError(LockHeldError):
    """Another daemon (or ``orch schedule tick``) holds this project's daemon lock."""


class Daemon:
    """Evaluates schedules and sensors of one project and launches their runs.

    Args:
        options: the project, target and vars (as for ``orch build``).
        clock: returns the current time (aware); tests pass a simulated clock.
        sleep: waits a number of seconds; tests advance the simulated clock instead.
        launcher: ``"thread"`` (default), ``"subprocess"``, ``"inline"``, or a Launcher.
        max_concurrent_runs: runs launched at once (runs on one target serialize on its lock).
        poll_interval: the longest sleep between two evaluations, in seconds.
        report: receives one line per tick and run (the CLI prints them).
        max_assets_per_run: the most assets one run of automation conditions builds.
        conditions_only: evaluate the assets' automation conditions, not schedules or sensors
            (``orch automation tick``).
        observe_every: seconds between two observations of the sources automated assets read
            (None: never; the first evaluation observes).
    """

    def __init__(
        self,
        options: RunOptions,
        *,
        clock: Clock = system_clock,
        sleep: Sleeper | None = None,
        launcher: str | Launcher = "thread",
        max_concurrent_runs: int = 1,
        poll_interval: float = 30.0,
        report: Callable[[str], None] | None = None,
        project: Project | None = None,
        max_assets_per_run: int = MAX_ASSETS_PER_RUN,
        conditions_only: bool = False,
        observe_every: float | None = OBSERVE_EVERY_S,
    ) -> None:
        self.options = options
        self.project = project or load_project(options)
        self.declared = load_automation(self.project)
        self.automation = self.declared
        self.clock = clock
        self._wake = threading.Event()
        self.sleep = sleep or self._wake.wait
        self.max_concurrent_runs = max(1, max_concurrent_runs)
        self.poll_interval = poll_interval
        self.report = report or (lambda line: log.info("%s", line))
        run = make_run_function(options, self.automation)
        if isinstance(launcher, Launcher):
            self.launcher = launcher
        elif launcher == "inline":
            self.launcher = InlineLauncher(run)
        elif launcher == "subprocess":
            self.launcher = SubprocessLauncher(options, self.project.root / "logs" / "daemon")
        else:
            self.launcher = ThreadLauncher(run, self.max_concurrent_runs)
        self.state: StateStore = open_state(self.project.root, target=self.project.target)
        self.automation = apply_switches(self.declared, self.state)
        self.stopping = False
        self.failed_ticks = 0
        self._queue: deque[LaunchRequest] = deque()
        self._open: dict[str, OpenTick] = {}
        self._last_eval: dict[str, datetime] = {}
        self._next_due: dict[str, datetime] = {}  # schedule -> its next tick, once nothing is due
        self.conditions_only = conditions_only
        self.conditions = ConditionTicker(
            options, self.project, self.state, max_assets=max_assets_per_run, report=self.report,
            observe_every=observe_every,
        )  # fmt: skip

    # ------------------------------------------------------------------ lifecycle

    @property
    def lock_name(self) -> str:
        """The state-store lock one daemon per project holds."""
        return f"daemon:{self.project.name}"

    def acquire(self, command: str = "daemon") -> RunLock:
        """Take the project's daemon lock, or raise DaemonRunningError naming the holder."""
        try:
            return self.state.acquire_lock(self.lock_name, LockOwner(command))
        except LockHeldError:
            held = self.state.lock_holder(self.lock_name)
            if held is None:  # released in between: try once more
                return self.state.acquire_lock(self.lock_name, LockOwner(command))
            since = held.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            raise DaemonRunningError(
                f"another `orch {held.command}` is running for project '{self.project.name}' "
                f"(pid {held.pid} on host {held.host}, since {since})",
                hint=f"Stop it first (kill -TERM {held.pid}); one daemon per project",
            ) from None

    def run(self, *, until: datetime | None = None, max_iterations: int | None = None) -> int:
        """Loop until stopped (SIGTERM, :meth:`stop`), ``until`` or ``max_iterations``.

        Returns the number of iterations. Running runs finish and are recorded before it returns.
        """
        iterations = 0
        with self.acquire(), self._sigterm_stops():
            try:
                while not self.stopping:
                    now = self.clock()
                    if until is not None and now >= until:
                        break
                    self.iterate(now)
                    iterations += 1
                    if max_iterations is not None and iterations >= max_iterations:
                        break
                    if self.stopping:
                        break
                    self.sleep(self._sleep_seconds(self.clock(), until))
            finally:
                self.drain()
        return iterations

    def tick_once(self, now: datetime | None = None) -> int:
        """One evaluation of every schedule and sensor, runs included; returns failed ticks."""
        before = self.failed_ticks
        with self.acquire("schedule tick"):
            try:
                self.iterate(now or self.clock())
            finally:
                self.drain()
        return self.failed_ticks - before

    def stop(self) -> None:
        """Stop evaluating; the loop drains the running runs and returns."""
        self.stopping = True
        self._wake.set()

    def drain(self) -> None:
        """Wait for the runs that are running, and record their ticks."""
        while self.launcher.active():
            self._collect()
            if self.launcher.active():
                time.sleep(0.05)
        self._collect()
        self.launcher.close()

    def close(self) -> None:
        """Release the state store."""
        self.state.close()

    @contextmanager
    def _sigterm_stops(self) -> Iterator[None]:
        """SIGTERM (from the main thread's point of view) drains and stops the loop."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum: int, frame: Any) -> None:
            self.report("SIGTERM: finishing the running runs, then stopping")
            self.stop()

        previous = signal.signal(signal.SIGTERM, handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _sleep_seconds(self, now: datetime, until: datetime | None) -> float:
        """Until the next due tick or sensor evaluation, at most ``poll_interval``."""
        wake = now + timedelta(seconds=self.poll_interval)
        if self.launcher.active() or self._queue:
            wake = min(wake, now + timedelta(seconds=min(1.0, self.poll_interval)))
        for defn in self.automation.schedules.values():
            if defn.enabled and defn.name not in self._open:
                nxt = self._next_due.get(defn.name)
                if nxt is None:
                    cursor = self.state.get_cursor(schedule_cursor_name(defn.name))
                    nxt = defn.next_tick(datetime.fromisoformat(cursor) if cursor else now)
                wake = min(wake, nxt)
        for sn in self.automation.sensors.values():
            if sn.enabled and sn.name not in self._open and sn.name in self._last_eval:
                due = self._last_eval[sn.name] + timedelta(seconds=sn.minimum_interval_seconds)
                wake = min(wake, due)
        if until is not None:
            wake = min(wake, until)
        return max(0.0, (wake - now).total_seconds())

    # ------------------------------------------------------------------ one iteration

    def iterate(self, now: datetime) -> None:
        """Collect ended runs, evaluate what is due at ``now``, start queued runs."""
        self._collect()
        self._start_queued()
        if self.stopping:
            return
        if self.conditions.enabled:
            self._evaluate_conditions(now)
        if self.conditions_only:
            self._start_queued()
            return
        # switches from `orch ui` apply from the next iteration on
        self.automation = apply_switches(self.declared, self.state)
        for sn in self.automation.sensors.values():
            if sn.enabled:
                self._evaluate_sensor(sn, now)
        schedules = [defn for defn in self.automation.schedules.values() if defn.enabled]
        while schedules and not self.stopping:
            opened = [defn for defn in schedules if self._evaluate_schedule(defn, now)]
            self._start_queued()
            self._collect()
            # a synchronous launcher closed those ticks already: go on with their next due ticks
            schedules = [defn for defn in opened if defn.name not in self._open]
        self._start_queued()

    def _collect(self) -> None:
        for request, result in self.launcher.poll():
            self._finished(request, result)

    def _start_queued(self) -> None:
        while self._queue and self.launcher.active() < self.max_concurrent_runs:
            request = self._queue.popleft()
            what = (
                f"build of {len(request.select)} assets" if request.select else f"job {request.job}"
            )
            self.report(f"{iso(request.tick_time)} {request.origin}: run {request.run_id} "
                        f"of {what} started")  # fmt: skip
            result = self.launcher.start(request)
            if result is not None:
                if result.status == "retry":
                    self._queue.appendleft(request)
                    self.report(f"{request.origin}: run waits for the lock: {result.error}")
                    return
                self._finished(request, result)

    def _finished(self, request: LaunchRequest, result: LaunchResult) -> None:
        if result.status == "retry":
            self._queue.appendleft(request)
            return
        self.report(
            f"{iso(request.tick_time)} {request.origin}: run {result.run_id} {result.status}"
            + (f": {result.error.splitlines()[0]}" if result.error else "")
        )
        tick = self._open.get(request.origin)
        if tick is None:  # pragma: no cover - every launch belongs to an open tick
            return
        tick.pending.discard(result.run_id)
        if result.status != "success":
            tick.errors.append(f"run {result.run_id}: {result.error or 'failed'}")
        if not tick.pending:
            del self._open[request.origin]
            status = "failed" if tick.errors else "success"
            self._record(tick.name, tick.tick_time, status, tick.run_ids,
                         skip_reason=tick.note, error="\n".join(tick.errors) or None)  # fmt: skip
            self._advance(tick.name, tick.kind, tick.tick_time, tick.cursor, tick.before)

    def _record(
        self,
        name: str,
        tick_time: datetime,
        status: str,
        run_ids: list[str] | tuple[str, ...] = (),
        *,
        skip_reason: str | None = None,
        error: str | None = None,
    ) -> None:
        self.state.record_tick(name, tick_time, status, run_ids, skip_reason, error)
        self.failed_ticks += status == "failed"
        if status != "success":
            lines = (error or "").strip().splitlines()
            why = skip_reason if status == "skipped" else (lines[-1] if lines else "")
            self.report(f"{iso(tick_time)} {name}: tick {status}: {why}")

    def _advance(
        self, name: str, kind: str, tick_time: datetime, cursor: str | None, old: Any = None
    ) -> None:
        if kind == "conditions":
            self.conditions.clear()
        elif kind == "schedule":
            self.state.set_cursor(schedule_cursor_name(name), tick_time.isoformat())
        elif cursor != old:
            self.state.set_cursor(name, cursor)

    # ------------------------------------------------------------------ schedules

    def _evaluate_schedule(self, defn: ScheduleDefinition, now: datetime) -> bool:
        """Handle the due ticks of a schedule until one queues runs (then True)."""
        if defn.name in self._open:
            return False
        cached = self._next_due.get(defn.name)
        if cached is not None and now < cached:
            return False  # nothing due: no state read, no cron arithmetic
        stored = self.state.get_cursor(schedule_cursor_name(defn.name))
        if stored is None:
            due = [defn.latest_tick(now)]
        else:
            due = defn.ticks_between(datetime.fromisoformat(stored), now)
        if not due:
            self._next_due[defn.name] = defn.next_tick(datetime.fromisoformat(str(stored)))
            return False
        self._next_due.pop(defn.name, None)
        if defn.catchup == "latest" and len(due) > 1:
            missed, due = due[:-1], due[-1:]
            reason = f"missed (daemon down or busy); catchup latest runs {iso(due[0])} only"
            for t in missed[-MAX_SKIP_RECORDS:]:
                self.state.record_tick(defn.name, t, "skipped", (), reason)
            self.report(f"{defn.name}: {len(missed)} missed ticks skipped (catchup latest)")
            self._advance(defn.name, "schedule", missed[-1], None)
        for t in due:
            if self._open_schedule_tick(defn, t):
                return True  # one open tick per schedule: the next ones wait for it
        return False

    def _open_schedule_tick(self, defn: ScheduleDefinition, tick: datetime) -> bool:
        """Handle one tick; True when runs were queued (the tick is recorded when they end)."""
        key = f"{defn.name}:{iso(tick)}"
        claimed = self.state.run_for_key(defn.name, key)
        if claimed is not None:
            found = self._reconcile(defn.name, "schedule", tick, claimed, None)
            if found == "wait":
                return True  # its run is still running elsewhere: look again later
            if found == "recorded":
                return False
        evaluation = evaluate_schedule(defn, tick, self.project.root, project=self.project)
        if evaluation.error is not None or not evaluation.requests:
            self._record(defn.name, tick, evaluation.status,
                         skip_reason=evaluation.skip_reason, error=evaluation.error)  # fmt: skip
            self._advance(defn.name, "schedule", tick, None)
            return False
        request = evaluation.requests[0]
        run_id = claimed or uuid.uuid4().hex
        if claimed is None and not self.state.record_run_key(defn.name, key, run_id):
            return False  # claimed concurrently: handled on the next iteration
        launch = LaunchRequest(
            origin=defn.name,
            tick_time=tick,
            run_key=key,
            run_id=run_id,
            job=request.job or defn.job,
            vars={**dict(defn.vars), **dict(request.vars)},
            partition=request.partition,
            partition_mode=None if request.partition else defn.partition,
        )
        self._open[defn.name] = OpenTick(defn.name, "schedule", tick, [run_id], {run_id})
        self._queue.append(launch)
        return True

    def _reconcile(
        self, name: str, kind: str, tick: datetime, run_id: str, cursor: str | None
    ) -> Literal["recorded", "wait", "launch"]:
        """A run key claimed before a restart: record the tick if its run happened."""
        run = self.state.get_run(run_id)
        if run is None:
            return "launch"  # claimed, never started: launch it with the claimed id
        if run.status == "running" and run.pid and pid_alive(run.pid):
            if self._run_lock_live(run.target):
                return "wait"  # still running in another process (a subprocess launch)
        status = "success" if run.status == "success" else "failed"
        error = None if status == "success" else f"run {run_id} {run.status}"
        note = "recorded after a restart: the run key was already used"
        self._record(name, tick, status, [run_id], skip_reason=note, error=error)
        self._advance(name, kind, tick, cursor)
        return "recorded"

    def _run_lock_live(self, target: str) -> bool:
        held = self.state.lock_holder(target)
        return held is not None and lock_is_stale(held, now=self.clock(), stale_after=600) is None

    # ------------------------------------------------------------------ automation conditions

    def _evaluate_conditions(self, now: datetime) -> None:
        """One evaluation of the assets' automation conditions (orch.automation.condition_ticks)."""
        if CONDITIONS in self._open:
            return
        outcome = self.conditions.tick(now)
        if outcome.status != "launch" or outcome.tick is None:
            return
        ids = [launch.run_id for launch in outcome.launches]
        self._open[CONDITIONS] = OpenTick(CONDITIONS, "conditions", outcome.tick, ids, set(ids))
        for launch in outcome.launches:
            self._queue.append(
                LaunchRequest(
                    origin=CONDITIONS,
                    tick_time=outcome.tick,
                    run_key=launch.run_key,
                    run_id=launch.run_id,
                    job="",
                    select=launch.assets,
                    partitions=launch.partitions,
                )  # fmt: skip
            )
        self.report(f"{iso(outcome.tick)} automation: {len(ids)} run(s) requested for "
                    f"{sum(len(x.assets) for x in outcome.launches)} assets")  # fmt: skip

    # ------------------------------------------------------------------ sensors

    def _evaluate_sensor(self, defn: SensorDefinition, now: datetime) -> None:
        if defn.name in self._open:
            return
        last = self._last_eval.get(defn.name)
        if last is None:
            tick = self.state.last_tick(defn.name)
            last = tick.tick_time if tick else None
        if last is not None and (now - last).total_seconds() < defn.minimum_interval_seconds:
            return
        self._last_eval[defn.name] = now
        evaluation, before = self.evaluate_sensor(defn, now)
        if evaluation.error is not None:
            self._record(defn.name, now, "failed", error=evaluation.error)
            return
        launches: list[LaunchRequest] = []
        used: list[str] = []
        for i, request in enumerate(evaluation.requests):
            key = request.run_key if request.run_key is not None else f"{iso(now)}#{i}"
            claimed = self.state.run_for_key(defn.name, key)
            if claimed is not None and self.state.get_run(claimed) is not None:
                used.append(key)
                continue
            run_id = claimed or uuid.uuid4().hex
            if claimed is None and not self.state.record_run_key(defn.name, key, run_id):
                used.append(key)
                continue
            launches.append(self._sensor_launch(defn, now, key, run_id, request))
        note = f"run keys already used: {', '.join(used)}" if used else None
        if not launches:
            reason = evaluation.skip_reason or note or "no run requested"
            self._record(defn.name, now, "skipped", skip_reason=reason)
            self._advance(defn.name, "sensor", now, evaluation.cursor, before)
            return
        ids = [launch.run_id for launch in launches]
        self._open[defn.name] = OpenTick(
            defn.name, "sensor", now, ids, set(ids), cursor=evaluation.cursor, before=before,
            note=note,
        )  # fmt: skip
        self._queue.extend(launches)

    def _sensor_launch(
        self, defn: SensorDefinition, now: datetime, key: str, run_id: str, request: RunRequest
    ) -> LaunchRequest:
        return LaunchRequest(
            origin=defn.name,
            tick_time=now,
            run_key=key,
            run_id=run_id,
            job=request.job or defn.job,
            vars=dict(request.vars),
            partition=request.partition,
        )

    def evaluate_sensor(
        self, defn: SensorDefinition, now: datetime
    ) -> tuple[Evaluation, str | None]:
        """Evaluate a sensor with its stored cursor (nothing launched or stored)."""
        cursor = self.state.get_cursor(defn.name)
        context = SensorContext(
            sensor=defn.name,
            now=now,
            project_root=self.project.root,
            cursor=cursor,
            state=self.state,
            target=self.project.target_name,
            last_tick=self.state.last_tick(defn.name),
        )
        return evaluate_sensor(defn, context, project=self.project), cursor
