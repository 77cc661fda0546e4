"""Jobs: named selections (``jobs:`` in ``orch_project.yml``) run with build semantics.

``orch job run NAME``, a schedule tick and a sensor's run request all end in :func:`run_job`:
the job's selection, vars merged (project < job < schedule < run request < command line), and —
for a job over partitioned assets — the partition a tick targets, then
:func:`orch.run.workflow.run_command` with ``build``.

Which partition: an explicit key (``--partition``, a RunRequest's ``partition``, or a key in the
job's ``partitions:``) wins; otherwise the mode (a schedule's ``partition:``, or the job's
``partitions: latest|current``) picks the window of the finest time grain among the job's
partitioned assets that ``last_closed`` at the tick time (``latest`` is a synonym), the window
containing it (``current``), or no restriction (``none``/unset: the planner decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from orch.config import JobConfig, RunOptions
from orch.errors import PartitionError
from orch.events import EventSink
from orch.load.python_files import job_location
from orch.manifest import Manifest
from orch.ops import JobDefinition
from orch.partitions import StaticKeys, TimeWindows, definition_of, floor, format_key
from orch.run.workflow import RunResult, compile_for, run_command, selected_assets
from orch.state import StateReader

GRAIN_ORDER = {"hourly": 0, "daily": 1, "weekly": 2, "monthly": 3}
MODES = {"last_closed", "latest", "current", "none"}


def job_options(
    base: RunOptions, job: JobConfig, *, extra_vars: Mapping[str, Any] | None = None
) -> RunOptions:
    """RunOptions for a job: its selection and vars (the command line's vars win).

    ``base.select`` narrows the job's selection (``orch job run NAME -s x``: what both select,
    each job term intersected with each ``-s`` term) and ``base.exclude`` adds to its exclusions.
    """
    merged = {**job.vars, **dict(extra_vars or {}), **base.vars}
    select = tuple(job.select.split())
    narrow = tuple(t for text in base.select for t in text.split())
    if narrow:
        select = tuple(f"{j},{n}" for j in select for n in narrow)
    exclude = (*(job.exclude or "").split(), *(t for text in base.exclude for t in text.split()))
    return replace(base, select=select, exclude=exclude, vars=merged)


def partitioned_assets(manifest: Manifest, selected: Iterable[str]) -> list[str]:
    """The partitioned assets among ``selected``, sorted."""
    return sorted(n for n in selected if manifest.nodes[n].config.partitioned_by is not None)


def partition_for(
    manifest: Manifest, selected: Iterable[str], mode: str, at: datetime
) -> str | None:
    """The partition key a run at ``at`` targets, in ``mode`` (see the module docstring)."""
    if mode in ("none", ""):
        return None
    windows: list[TimeWindows] = []
    for name in selected:
        config = manifest.nodes[name].config.partitioned_by
        if config is None:
            continue
        definition = definition_of(config, asset=name)
        if not isinstance(definition, StaticKeys):
            windows.append(definition)
    if not windows:
        return None
    finest = min(windows, key=lambda w: GRAIN_ORDER.get(w.grain, 99))
    if mode == "current":
        local = at.astimezone(ZoneInfo(finest.timezone)).replace(tzinfo=None)
        return format_key(finest.grain, floor(finest.grain, local))
    return finest.last_complete_key(at)


def run_job(
    base: RunOptions,
    name: str,
    job: JobConfig,
    *,
    extra_vars: Mapping[str, Any] | None = None,
    partition: str | None = None,
    partition_mode: str | None = None,
    at: datetime | None = None,
    run_id: str | None = None,
    sinks: Iterable[EventSink] = (),
) -> RunResult:
    """Run job ``name``: build its selection (one partition when the job is partitioned).

    Raises:
        PartitionError: when a partition key is given to a job that selects no partitioned asset.
    """
    options = job_options(base, job, extra_vars=extra_vars)
    key = partition or base.partition
    if key is not None:
        compiled = compile_for(options)
        selected = selected_assets(compiled.manifest, options, "build")
        if not partitioned_assets(compiled.manifest, selected):
            raise PartitionError(
                f"job '{name}' has no partitioned asset, so it takes no partition "
                f"(--partition {key})",
                hint=f"Run 'orch job run {name}' without --partition, or select partitioned "
                "assets in the job",
            )
        options = replace(options, partition=key)
        return run_command(
            options, "build", sinks=sinks, compiled=compiled, run_id=run_id, run_args={"job": name}
        )
    mode = partition_mode or job.partitions or "none"
    if mode not in MODES:  # the job names an explicit key
        return run_command(
            replace(options, partition=mode), "build", sinks=sinks, run_id=run_id,
            run_args={"job": name},
        )  # fmt: skip
    compiled = compile_for(options)
    selected = selected_assets(compiled.manifest, options, "build")
    key = partition_for(compiled.manifest, selected, mode, at or datetime.now(timezone.utc))
    options = replace(options, partition=key)
    return run_command(
        options, "build", sinks=sinks, compiled=compiled, run_id=run_id, run_args={"job": name}
    )


# --------------------------------------------------------------------------- op jobs


def op_job_summary(job: JobDefinition, root: Path | None = None) -> dict[str, Any]:
    """An op job's graph as plain data: its ops in order, inputs, edges, mapping, config."""
    ops = []
    for name, node in job.graph.nodes.items():
        policy = node.op.retry_policy or job.retry_policy
        mapped = node.mapped_by
        ops.append({
            "name": name,
            "op": node.op.name,
            "inputs": {
                i: f"asset:{s.node}" if s.kind == "asset" else f"{s.kind}:{s.node}.{s.output}"
                for i, s in node.inputs.items()
            },
            "outputs": list(node.op.outs),
            "mapped_by": f"{mapped.node}.{mapped.output}" if mapped else None,
            "config": node.op.config_class.__name__ if node.op.config_class else None,
            "retries": policy.max_retries if policy else 0,
            "description": node.op.description,
        })  # fmt: skip
    where = job_location(root, job) if root is not None else job.location
    return {
        "description": job.description,
        "order": [f"{o['name']}[*]" if o["mapped_by"] else o["name"] for o in ops],
        "ops": ops,
        "edges": [list(e) for e in job.graph.edges],
        "tags": dict(job.tags),
        "location": str(where),
    }


def op_job_overview(
    jobs: Mapping[str, JobDefinition],
    state: StateReader | None,
    root: Path | None = None,
    *,
    runs: int = 5,
    scan: int = 200,
) -> list[dict[str, Any]]:
    """Each op job with its graph, its last ``runs`` runs and the steps of the newest one.

    JSON-ready, for ``orch status`` and the docs site; runs are found among the ``scan`` newest.
    """
    recent = [r for r in state.recent_runs(scan) if r.command == "job"] if state else []
    out = []
    for name, job in sorted(jobs.items()):
        mine = [r for r in recent if r.args.get("job") == name][:runs]
        steps = state.run_op_steps(mine[0].run_id) if state and mine else []
        out.append({
            "name": name,
            **op_job_summary(job, root),
            "runs": [
                {"run_id": r.run_id, "status": r.status, "started_at": r.started_at.isoformat(),
                 "duration_s": r.duration_s, "counts": dict(r.counts)}
                for r in mine
            ],
            "last_steps": [
                {"step": s.step_key, "status": s.status, "attempts": s.attempts,
                 "duration_s": s.duration_s,
                 "outputs": {k: {"type": v.get("type"), "size": v.get("size")}
                             for k, v in s.outputs.items()},
                 "error": s.error, "path": s.path, "reused_from": s.reused_from}
                for s in steps
            ],
        })  # fmt: skip
    return out
