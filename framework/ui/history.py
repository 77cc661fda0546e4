"""Runs for ``orch ui``: the run list with filters, and one run as a list of events.

A run launched from the page is watched through the events its worker wrote; any other run (a
CLI build, the daemon's) is described from the state store by the same kinds of events
(``StepMaterialized``, ``StepFailed``, ``CheckEvaluated``), so the run page has one code path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from orch.errors import SelectionError
from orch.state import StateReader
from orch.state.records import CheckResultRecord, MaterializationRecord, RunRecord
from orch.ui.runs import LiveRun, RunManager

RUN_STATUSES = ("running", "success", "failed", "interrupted")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else None


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SelectionError(
            f"'since' is not an ISO 8601 time: '{text}'", hint="For example 2024-03-01T00:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def run_row(run: RunRecord, live: LiveRun | None = None) -> dict[str, Any]:
    """One row of the run list."""
    return {
        "run": run.run_id,
        "command": run.command,
        "selection": run.selection,
        "job": run.args.get("job"),
        "retry_of": run.args.get("retry_of"),
        "status": run.status,
        "started": _iso(run.started_at),
        "finished": _iso(run.finished_at),
        "duration": None if run.duration_s is None else round(run.duration_s, 3),
        "counts": run.counts,
        "partition": run.args.get("partition"),
        "launched_here": live is not None,
    }


def run_list(
    open_reader: Callable[[], StateReader],
    target: str,
    manager: RunManager,
    *,
    limit: int = 100,
    status: str | None = None,
    asset: str | None = None,
    job: str | None = None,
    since: str | None = None,
    command: str | None = None,
) -> list[dict[str, Any]]:
    """The newest runs first, filtered by status, asset built, job, start time and command."""
    if status is not None and status not in RUN_STATUSES:
        raise SelectionError(
            f"unknown run status '{status}'", hint=f"One of: {', '.join(RUN_STATUSES)}"
        )
    after = _since(since) if since else None
    with open_reader() as reader:
        runs = reader.recent_runs(max(limit * 5, 500), target=target)
        with_asset = (
            {m.run_id for m in reader.materialization_history(asset, 5000, target=target)}
            if asset
            else None
        )
    out = []
    for run in runs:
        if status and run.status != status:
            continue
        if job and run.args.get("job") != job:
            continue
        if command and run.command != command:
            continue
        if after and run.started_at < after:
            continue
        if with_asset is not None and run.run_id not in with_asset:
            continue
        out.append(run_row(run, manager.get(run.run_id)))
        if len(out) >= limit:
            break
    known = {r["run"] for r in out}
    for live in manager.runs.values():  # a launch refused before it recorded a run
        if live.run_id not in known and live.finished and not status and not asset and not job:
            failed = next((e for e in live.events if e.get("event") == "LaunchFailed"), None)
            if failed:
                out.insert(0, {"run": live.run_id, "command": live.kind, "selection": live.label,
                               "status": "refused", "started": _iso(live.started_at),
                               "error": failed.get("error"), "counts": {},
                               "launched_here": True})  # fmt: skip
    return out


def materialization_event(m: MaterializationRecord) -> dict[str, Any]:
    """A recorded materialization as the event the run page reads."""
    step = m.asset if m.partition_key is None else f"{m.asset}[{m.partition_key}]"
    base = {"run_id": m.run_id, "step_id": step, "asset": m.asset, "partition": m.partition_key,
            "duration_s": m.duration_s, "started_at": _iso(m.started_at),
            "at": _iso(m.finished_at)}  # fmt: skip
    if m.status == "success":
        return {"event": "StepMaterialized", **base, "rows": m.rows, "metadata": m.metadata,
                "materialized": m.materialized}  # fmt: skip
    return {"event": "StepFailed", **base, "error": m.error or m.status}


def check_event(c: CheckResultRecord) -> dict[str, Any]:
    """A recorded check result as the event the run page reads."""
    return {"event": "CheckEvaluated", "run_id": c.run_id, "check": c.check, "asset": c.asset,
            "partition": c.partition_key, "status": c.status, "severity": c.severity,
            "failing_rows": c.failing_rows, "duration_s": c.duration_s, "message": c.message,
            "sample": list(c.sample), "at": _iso(c.at)}  # fmt: skip


def run_detail(
    open_reader: Callable[[], StateReader], manager: RunManager, run_id: str
) -> dict[str, Any] | None:
    """One run: its record and its events (live ones while it runs here), or None."""
    live = manager.get(run_id)
    with open_reader() as reader:
        run = reader.get_run(run_id)
        mats = reader.run_materializations(run_id) if run else []
        checks = reader.run_check_results(run_id) if run else []
    if run is None and live is None:
        return None
    events: list[dict[str, Any]]
    if live is not None:
        events = live.since(0)
    else:
        events = [materialization_event(m) for m in mats] + [check_event(c) for c in checks]
        events.sort(key=lambda e: str(e.get("at") or ""))
    return {
        "run": run_row(run, live) if run else None,
        "run_id": run_id,
        "live": live is not None and not live.finished,
        "launched_here": live is not None,
        "label": live.label if live else None,
        "cancelled": live.cancelled if live else False,
        "events": events,
    }
