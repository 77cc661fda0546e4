"""Automation conditions in the daemon: one evaluation per tick, its runs, exactly once.

The protocol (the same as schedules', :mod:`orch.automation.daemon`), per evaluation at ``now``:

1. If the stored cursor still lists the runs of an earlier evaluation (the daemon stopped before
   they were recorded), settle those first: a run that exists is not launched again (its end is
   recorded), one that never started is launched with its claimed id. Nothing new is evaluated
   until that tick is closed: no double launch, no lost tick.
2. Otherwise evaluate every condition (:mod:`orch.automation.evaluate`), claim one run key per
   planned run (``automation:<tick>#<i>``), then store in ONE cursor write the new request
   times, the open runs and every asset's reasons — only then launch.
3. When the tick's runs have ended, record the tick (``orch automation ls``) and clear the open
   runs.

Before an evaluation, at most every ``observe_every`` seconds, the declared sources the
automated assets read are observed (:func:`orch.run.observe.observe_sources`, under the
target's run lock; skipped while a run holds it): a changed observation makes the readers
stale, and ``eager`` readers are requested in the same evaluation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from orch.adapters import get_adapter
from orch.automation.evaluate import (
    AutomationCursor,
    Evaluator,
    TickEvaluation,
    conditions_of,
    declares_automation,
    iso,
)
from orch.config import RunOptions
from orch.errors import LockHeldError, OrchError
from orch.load.project import Project
from orch.manifest import Manifest
from orch.run.observe import observe_sources, sources_upstream
from orch.run.partition_plan import PartitionExpander, PartitionRequest
from orch.run.workflow import RunResult, compile_for, run_command
from orch.state import LockOwner, StateStore, pid_alive
from orch.state.snapshot import StateSnapshot

ORIGIN = "automation"
OBSERVE_EVERY_S = 300.0  # `orch daemon --observe-every`


@dataclass(frozen=True)
class ConditionLaunch:
    """One run to launch for an evaluation: a build of ``assets`` under a claimed run id."""

    run_key: str
    run_id: str
    assets: tuple[str, ...]
    partitions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # on_missing's keys


@dataclass
class Outcome:
    """What one call of :meth:`ConditionTicker.tick` decided."""

    tick: datetime | None = None
    launches: list[ConditionLaunch] = field(default_factory=list)
    status: Literal["launch", "wait", "recorded", "none"] = "none"
    evaluation: TickEvaluation | None = None
    error: str | None = None


def build_requested(
    options: RunOptions,
    select: tuple[str, ...],
    partitions: Mapping[str, tuple[str, ...]],
    *,
    run_id: str,
    at: str,
) -> RunResult:
    """The run of one evaluation: a build of ``select``, the assets in ``partitions`` limited
    to those keys (on_missing requests only the missing partitions whose upstreams are ready)."""
    options = replace(options, select=select)
    compiled = compile_for(options)
    request = PartitionRequest.from_options(options, only=dict(partitions))
    expander = PartitionExpander(compiled.manifest, compiled.project.target_name, request)
    return run_command(
        options, "build", compiled=compiled, partitions=expander, run_id=run_id,
        run_args={"automation": at},
    )  # fmt: skip


def manifest_for(options: RunOptions) -> Manifest:
    """The current manifest (reused when no file changed)."""
    return compile_for(options).manifest


class ConditionTicker:
    """Evaluates a project's automation conditions for the daemon, with its cursor."""

    def __init__(
        self,
        options: RunOptions,
        project: Project,
        state: StateStore,
        *,
        max_assets: int,
        report: Callable[[str], None],
        manifest: Callable[[RunOptions], Manifest] = manifest_for,
        observe_every: float | None = OBSERVE_EVERY_S,
    ) -> None:
        self.options = options
        self.observe_every = observe_every  # seconds between source observations; None: never
        self.observed_at: datetime | None = None
        self.project = project
        self.state = state
        self.max_assets = max_assets
        self.report = report
        self._manifest = manifest
        self.enabled = declares_automation(project)

    def cursor(self) -> AutomationCursor:
        """The stored cursor."""
        return AutomationCursor.from_text(self.state.get_cursor(AutomationCursor.NAME))

    def tick(self, now: datetime, *, dry_run: bool = False) -> Outcome:
        """Settle an open tick, or evaluate at ``now`` and claim its runs (see the module)."""
        cursor = self.cursor()
        if cursor.open_runs and not dry_run:
            return self._settle(cursor)
        try:
            manifest = self._manifest(self.options)
        except OrchError as err:
            if not dry_run:
                self.state.record_tick(ORIGIN, now, "failed", (), None, err.format_message())
            return Outcome(now, status="recorded", error=err.format_message())
        if not dry_run:
            self._observe(manifest, now)
        snapshot = StateSnapshot.read(self.state, self.project.target_name)
        evaluation = Evaluator(
            manifest, snapshot, cursor.requested, now, max_assets=self.max_assets
        ).evaluate()
        for found in evaluation.unsatisfiable:
            before = cursor.last.get(found.asset)  # reported when it becomes unsatisfiable
            if not dry_run and (before is None or before.unsatisfiable != found.unsatisfiable):
                self.report(f"{iso(now)} automation: {found.asset} cannot be satisfied: "
                            f"{found.unsatisfiable}")  # fmt: skip
        if dry_run:
            return Outcome(now, status="none", evaluation=evaluation)
        launches: list[ConditionLaunch] = []
        for run in evaluation.runs:
            run_id = uuid.uuid4().hex
            if not self.state.record_run_key(ORIGIN, run.run_key, run_id):
                continue  # an evaluation at this very instant claimed it already
            launches.append(ConditionLaunch(run.run_key, run_id, run.assets, run.partitions))
        for asset in evaluation.requested:
            cursor.requested[asset] = now
        cursor.tick = now
        cursor.last = dict(evaluation.assets)
        cursor.open_runs = [
            {
                "key": launch.run_key,
                "run_id": launch.run_id,
                "assets": list(launch.assets),
                "partitions": {a: list(k) for a, k in launch.partitions.items()},
            }
            for launch in launches
        ]
        self.state.set_cursor(AutomationCursor.NAME, cursor.to_text())
        if not launches:
            unsat = len(evaluation.unsatisfiable)
            note = f"no asset requested ({len(evaluation.assets)} evaluated" + (
                f", {unsat} cannot be satisfied)" if unsat else ")"
            )
            self.state.record_tick(ORIGIN, now, "skipped", (), note, None)
            return Outcome(now, status="recorded", evaluation=evaluation)
        return Outcome(now, launches, "launch", evaluation)

    def _observe(self, manifest: Manifest, now: datetime) -> None:
        """Observe the sources the automated assets read, when ``observe_every`` has passed.

        A failing observation is reported (naming the source) and retried at the next
        interval; a run holding the target's lock postpones it to the next evaluation.
        """
        every = self.observe_every
        if every is None or (
            self.observed_at is not None and (now - self.observed_at).total_seconds() < every
        ):
            return
        sources = sources_upstream(manifest, conditions_of(manifest))
        if not sources:
            self.observed_at = now
            return
        target = self.project.target_name
        try:
            lock = self.state.acquire_lock(target, LockOwner("observe", uuid.uuid4().hex))
        except LockHeldError:
            return  # a run is writing: observe at the next evaluation
        with lock:
            self.observed_at = now
            try:
                adapter = get_adapter(self.project.target, self.project.root)
                adapter.open()
                try:
                    seen = observe_sources(
                        manifest, adapter, self.state, target=target, sources=sources
                    )
                finally:
                    adapter.close()
            except OrchError as err:
                self.report(f"{iso(now)} automation: {err.message}")
                return
        changed = [o.record.source for o in seen if o.changed]
        if changed:
            self.report(f"{iso(now)} automation: source(s) changed: {', '.join(changed)}")

    def _settle(self, cursor: AutomationCursor) -> Outcome:
        """The open runs of an earlier evaluation: relaunch the unstarted, record the ended."""
        tick = cursor.tick
        relaunch: list[ConditionLaunch] = []
        ended: list[str] = []
        errors: list[str] = []
        for item in cursor.open_runs:
            run_id = str(item["run_id"])
            run = self.state.get_run(run_id)
            if run is None:
                keys = {str(a): tuple(k) for a, k in (item.get("partitions") or {}).items()}
                relaunch.append(
                    ConditionLaunch(str(item["key"]), run_id, tuple(item["assets"]), keys)
                )
                continue
            if run.status == "running" and run.pid and pid_alive(run.pid):
                return Outcome(tick, status="wait")
            ended.append(run_id)
            if run.status != "success":
                errors.append(f"run {run_id} {run.status}")
        if relaunch:
            return Outcome(tick, relaunch, "launch")
        assert tick is not None
        note = "recorded after a restart: its runs had ended"
        status = "failed" if errors else "success"
        self.state.record_tick(ORIGIN, tick, status, ended, note, "\n".join(errors) or None)
        self.clear()
        return Outcome(tick, status="recorded")

    def clear(self) -> None:
        """The open tick's runs ended and its tick was recorded: clear them from the cursor."""
        cursor = self.cursor()
        cursor.open_runs = []
        self.state.set_cursor(AutomationCursor.NAME, cursor.to_text())


__all__ = ["ConditionLaunch", "ConditionTicker", "Outcome", "build_requested", "manifest_for"]
