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
from typing import Any
from zoneinfo import ZoneInfo

from orch.config import JobConfig, RunOptions
from orch.errors import PartitionError
from orch.events import EventSink
from orch.manifest import Manifest
from orch.partitions import StaticKeys, TimeWindows, definition_of, floor, format_key
from orch.run.workflow import RunResult, compile_for, run_command, selected_assets

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
    args = {"job": name}  # recorded with the run: `orch ui` filters runs by job
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
            options, "build", sinks=sinks, compiled=compiled, run_id=run_id, run_args=args
        )
    mode = partition_mode or job.partitions or "none"
    if mode not in MODES:  # the job names an explicit key
        return run_command(
            replace(options, partition=mode), "build", sinks=sinks, run_id=run_id, run_args=args
        )
    compiled = compile_for(options)
    selected = selected_assets(compiled.manifest, options, "build")
    key = partition_for(compiled.manifest, selected, mode, at or datetime.now(timezone.utc))
    options = replace(options, partition=key)
    return run_command(
        options, "build", sinks=sinks, compiled=compiled, run_id=run_id, run_args=args
    )
