"""Run-status sensors: call a function once for each finished run of some status (and jobs).

``@run_status_sensor(status="failure", jobs=["nightly"])`` and ``@run_failure_sensor`` make a
:class:`~orch.automation.schedules.SensorDefinition` of kind ``run_status``, evaluated by
``orch daemon`` like any sensor. Its cursor (in the state store) is the newest finished run it
has handled: ``(finished_at, run ids finished at that instant)``, so each finished run is handled
once, also across daemon restarts (the cursor is stored only after an evaluation succeeded; a
function that raises is retried at the next evaluation, from the old cursor). The first
evaluation starts from "now": runs that finished before the sensor existed are not replayed.
A run-status sensor needs no job; with ``job=`` its function may return RunRequests for it.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch.automation.schedules import (
    RunRequest,
    SensorContext,
    SensorDefinition,
    SkipReason,
    _location_of,
    parse_time,
)
from orch.errors import ConfigError
from orch.state import RunRecord, StateReader

STATUSES = ("success", "failed", "interrupted")
_ALIASES = {"failure": "failed", "failed": "failed", "success": "success"}
_ALIASES["interrupted"] = "interrupted"  # dagster's names (FAILURE) and orch's (failed) alike
RECENT = 500  # finished runs looked at per evaluation


@dataclass
class RunStatusContext:
    """What a run-status sensor's function receives: the finished run and the sensor's name."""

    sensor: str
    run: RunRecord
    project_root: Path | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("orch.sensor"))
    state: StateReader | None = None  # the daemon's writable store (an alert records in it)

    @property
    def job(self) -> str:
        """The job the run ran (``orch job run NAME``), else its command (``build``...)."""
        return str(self.run.args.get("job") or self.run.command)

    @property
    def status(self) -> str:
        """``success``, ``failed`` or ``interrupted``."""
        return self.run.status


def run_status_sensor(
    *,
    status: str,
    jobs: Iterable[str] | None = None,
    job: str = "",
    name: str | None = None,
    minimum_interval_seconds: float = 30.0,
    description: str = "",
    enabled: bool = True,
) -> Callable[[Callable[[RunStatusContext], Any]], SensorDefinition]:
    """Decorate ``fn(context)``, called once per finished run with ``status`` (``success``,
    ``failure``/``failed``, ``interrupted``) of ``jobs`` (default: every run). ``enabled=False``
    keeps it off until switched on (``orch ui``).

    Raises ConfigError for an unknown status.
    """
    wanted = _ALIASES.get(status)
    if wanted is None:
        raise ConfigError(
            f"run_status_sensor: unknown status '{status}'",
            hint="Use 'success', 'failure' or 'interrupted'",
        )
    only = sorted(jobs) if jobs is not None else None

    def decorate(fn: Callable[[RunStatusContext], Any]) -> SensorDefinition:
        sensor_name = name or fn.__name__
        return SensorDefinition(
            name=sensor_name,
            job=job,
            fn=lambda context: evaluate_run_status(context, fn, wanted, only),
            minimum_interval_seconds=minimum_interval_seconds,
            kind="run_status",
            description=description
            or (inspect.getdoc(fn) or "").split("\n")[0]
            or f"after each {wanted} run" + (f" of {', '.join(only)}" if only else ""),
            options={"status": wanted, "jobs": only},
            location=_location_of(fn),
            enabled=enabled,
        )

    return decorate


def run_failure_sensor(
    fn: Callable[[RunStatusContext], Any] | None = None,
    *,
    jobs: Iterable[str] | None = None,
    name: str | None = None,
    minimum_interval_seconds: float = 30.0,
    enabled: bool = True,
) -> Any:
    """``@run_status_sensor(status="failure")``: called once per failed run (of ``jobs``)."""
    decorate = run_status_sensor(
        status="failure", jobs=jobs, name=name, minimum_interval_seconds=minimum_interval_seconds,
        enabled=enabled,
    )  # fmt: skip
    return decorate(fn) if fn is not None else decorate


def evaluate_run_status(
    context: SensorContext,
    fn: Callable[[RunStatusContext], Any],
    status: str,
    jobs: list[str] | None,
) -> list[RunRequest] | SkipReason:
    """Call ``fn`` for each matching run finished after the cursor, oldest first."""
    if context.state is None:
        return SkipReason("no state store")
    finished = [
        r
        for r in context.state.recent_runs(RECENT, target=context.target)
        if r.finished_at is not None and r.status in STATUSES and r.command != "daemon"
    ]
    finished.sort(key=lambda r: (r.finished_at, r.run_id))
    if context.cursor is None:  # the first evaluation: from now on
        context.cursor = _cursor(finished, None)
        return SkipReason("started watching finished runs")
    data = json.loads(context.cursor)
    after = parse_time(data["after"]) if data.get("after") else None
    seen = set(data.get("seen") or [])
    new = [
        r
        for r in finished
        if after is None
        or r.finished_at > after  # type: ignore[operator]
        or (r.finished_at == after and r.run_id not in seen)
    ]
    requests: list[RunRequest] = []
    handled = 0
    for run in new:
        ctx = RunStatusContext(context.sensor, run, context.project_root, state=context.state)
        if run.status != status or (jobs is not None and ctx.job not in jobs):
            continue
        out = fn(ctx)
        handled += 1
        if isinstance(out, RunRequest):
            requests.append(out)
        elif isinstance(out, list):
            requests.extend(o for o in out if isinstance(o, RunRequest))
    context.cursor = _cursor(finished, context.cursor) if new else context.cursor
    if requests:
        return requests
    return SkipReason(f"handled {handled} {status} run(s)" if handled else f"no new {status} run")


def _cursor(finished: list[RunRecord], old: str | None) -> str | None:
    if not finished:
        return old or json.dumps({"after": None, "seen": []})
    newest = finished[-1].finished_at
    assert newest is not None
    same = sorted(r.run_id for r in finished if r.finished_at == newest)
    return json.dumps({"after": newest.isoformat(), "seen": same})


# --------------------------------------------------------------------------- multi-asset sensors


def multi_asset_sensor(
    name: str,
    *,
    job: str,
    assets: Iterable[str],
    require: str = "all",
    minimum_interval_seconds: float = 30.0,
    vars: dict[str, Any] | None = None,
    description: str = "",
) -> SensorDefinition:
    """A sensor launching ``job`` when ``all`` (or ``any``) of ``assets`` were materialized
    since its last launch. Raises ConfigError for another ``require`` or no assets."""
    watched = sorted(set(assets))
    if require not in ("all", "any") or not watched:
        raise ConfigError(
            f"multi_asset_sensor '{name}': "
            + (f"require='{require}' is not 'all' or 'any'" if watched else "no assets given"),
            hint="Pass assets=[...] and require='all' (every one updated) or 'any'",
        )
    options = {"assets": watched, "require": require, "vars": dict(vars or {})}
    return SensorDefinition(
        name=name,
        job=job,
        fn=lambda context: evaluate_multi_asset(context, watched, require, dict(vars or {})),
        minimum_interval_seconds=minimum_interval_seconds,
        kind="asset",
        description=description or f"when {require} of {', '.join(watched)} updated",
        options=options,
    )


def evaluate_multi_asset(
    context: SensorContext, assets: list[str], require: str, vars: dict[str, Any]
) -> RunRequest | SkipReason:
    """A run request when all/any ``assets`` have a materialization newer than the cursor."""
    if context.state is None:
        return SkipReason("no state store")
    latest = context.state.latest_materializations(assets, target=context.target)
    newest = {a: max((r.id for (x, _), r in latest.items() if x == a), default=0) for a in assets}
    seen = json.loads(context.cursor) if context.cursor else {}
    updated = [a for a in assets if newest[a] > int(seen.get(a, 0))]
    ready = bool(updated) and (require == "any" or len(updated) == len(assets))
    if not ready:
        waiting = [a for a in assets if a not in updated]
        return SkipReason(
            "no asset updated" if not updated else f"waiting for {', '.join(waiting)}"
        )
    context.cursor = json.dumps(newest, sort_keys=True)
    key = ",".join(f"{a}:{newest[a]}" for a in assets)
    return RunRequest(run_key=key, vars={**vars, "updated_assets": updated})
