"""``orch runs`` and ``orch runs show``: the recorded history of runs, read from the state.

Library code: it returns records and JSON-ready dicts; :mod:`orch.cli.history_commands` prints.
Reads go through :class:`~orch.state.StateReader` (a run whose process died reads
``interrupted``): :meth:`recent_runs` for the list, :meth:`run_materializations` and
:meth:`run_check_results` for one run (one query each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orch.config import RunOptions
from orch.errors import SelectionError, did_you_mean
from orch.state import StateReader
from orch.state.records import (
    CheckResultRecord,
    CodeVersion,
    GitState,
    HookRunRecord,
    MaterializationRecord,
    OpStepRecord,
    RunRecord,
)

JSON_SCHEMA_VERSION = 1
# How far back a run id prefix is looked for (and closest ids are taken from).
PREFIX_SEARCH_RUNS = 5000


@dataclass(frozen=True)
class RunDetail:
    """One run with its step attempts and its check results."""

    run: RunRecord
    steps: list[MaterializationRecord]
    checks: list[CheckResultRecord]
    op_steps: list[OpStepRecord] = field(default_factory=list)  # an op job's steps
    hooks: list[HookRunRecord] = field(default_factory=list)  # every hook that ran, in order
    git: GitState | None = None  # the project's git state when the run started
    op_code: dict[str, CodeVersion] = field(default_factory=dict)  # op step key -> code it ran


def _open(options: RunOptions) -> StateReader:
    from orch.load.project import load_project
    from orch.run.workflow import open_state

    project = load_project(options)
    return open_state(project.root, readonly=True, target=project.target)


def list_runs(options: RunOptions, limit: int = 20) -> list[RunRecord]:
    """The newest ``limit`` runs of the project's state, newest first.

    With ``--target`` only that target's runs; else the runs of every target the state holds.
    """
    from orch.load.project import load_project
    from orch.run.workflow import open_state

    project = load_project(options)
    target = project.target_name if options.target else None
    with open_state(project.root, readonly=True, target=project.target) as state:
        return state.recent_runs(limit, target=target)


def find_run(state: StateReader, run_id: str) -> RunRecord:
    """The run with this id, or the one run whose id starts with it.

    Raises SelectionError naming the id and the closest recorded ids when none matches, and
    the candidates when the prefix matches several.
    """
    exact = state.get_run(run_id)
    if exact is not None:
        return exact
    runs = state.recent_runs(PREFIX_SEARCH_RUNS)
    matches = [r for r in runs if r.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(f"'{r.run_id[:12]}'" for r in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise SelectionError(
            f"run id prefix '{run_id}' matches {len(matches)} runs: {shown}{more}",
            hint="Give more characters of the run id (see 'orch runs')",
        )
    if not runs:
        raise SelectionError(
            f"unknown run '{run_id}': no run is recorded yet",
            hint="Run 'orch build' first; 'orch runs' lists the recorded runs",
        )
    width = max(8, len(run_id))
    close = did_you_mean(run_id, [r.run_id[:width] for r in runs])
    if close:
        hint = "Did you mean " + " or ".join(f"'{c}'" for c in close) + "? (see 'orch runs')"
    else:
        newest = ", ".join(f"'{r.run_id[:8]}'" for r in runs[:3])
        hint = f"The newest runs are {newest} (see 'orch runs')"
    raise SelectionError(f"unknown run '{run_id}'", hint=hint)


def show_run(options: RunOptions, run_id: str) -> RunDetail:
    """One run (by id or unique id prefix) with its steps and check results."""
    with _open(options) as state:
        run = find_run(state, run_id)
        return RunDetail(
            run,
            state.run_materializations(run.run_id),
            state.run_check_results(run.run_id),
            state.run_op_steps(run.run_id) if run.command == "job" else [],
            state.run_hook_runs(run.run_id),
            state.git_states([run.run_id]).get(run.run_id),
            op_code_of_run(state, run.run_id) if run.command == "job" else {},
        )


def op_code_of_run(state: StateReader, run_id: str) -> dict[str, CodeVersion]:
    """op step key -> the code each op step of a run ran (steps whose code was recorded)."""
    fingerprints = state.op_step_code(run_id)
    code = state.code_versions(list(fingerprints.values()))
    return {step: code[fp] for step, fp in fingerprints.items() if fp in code}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def run_json(run: RunRecord) -> dict[str, Any]:
    """One run as ``orch runs --output json`` prints it."""
    return {
        "run_id": run.run_id,
        "command": run.command,
        "status": run.status,
        "target": run.target,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "duration_s": run.duration_s,
        "steps": {
            "success": run.counts.get("success", 0),
            "failed": run.counts.get("failed", 0),
            "skipped": run.counts.get("skipped", 0),
        },
        "selection": run.selection,
        "args": run.args,
    }


def runs_json(runs: list[RunRecord]) -> dict[str, Any]:
    """``{"schema_version": 1, "runs": [...]}``."""
    return {"schema_version": JSON_SCHEMA_VERSION, "runs": [run_json(r) for r in runs]}


def run_detail_json(detail: RunDetail) -> dict[str, Any]:
    """``orch runs show --output json``: the run, its steps and its check results."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "run": run_json(detail.run),
        "steps": [
            {
                "asset": m.asset,
                "partition": m.partition_key,
                "status": m.status,
                "materialized": m.materialized,
                "started_at": _time(m.started_at),
                "duration_s": m.duration_s,
                "rows": m.rows,
                "error": m.error,
            }
            for m in detail.steps
        ],
        "op_steps": [
            {
                "step": o.step_key,
                "op": o.op,
                "status": o.status,
                "attempts": o.attempts,
                "started_at": _time(o.started_at),
                "duration_s": o.duration_s,
                "outputs": o.outputs,
                "metadata": o.metadata,
                "error": o.error,
                "path": o.path,
                "attempt_errors": list(o.attempt_errors),
                "reused_from": o.reused_from,
                "code_fingerprint": (
                    detail.op_code[o.step_key].fingerprint if o.step_key in detail.op_code else None
                ),
            }
            for o in detail.op_steps
        ],
        "checks": [
            {
                "check": c.check,
                "asset": c.asset,
                "partition": c.partition_key,
                "status": c.status,
                "severity": c.severity,
                "failing_rows": c.failing_rows,
                "duration_s": c.duration_s,
                "message": c.message,
            }
            for c in detail.checks
        ],
        "hooks": [
            {
                "phase": h.phase,
                "index": h.index,
                "name": h.name,
                "step": h.step,
                "status": h.status,
                "error": h.error,
                "duration_s": h.duration_s,
            }
            for h in detail.hooks
        ],
        "git": None
        if detail.git is None
        else {"commit": detail.git.commit, "dirty": detail.git.dirty},
    }
