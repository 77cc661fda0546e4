"""``orch backfill``: every partition of a range for a selection, in parallel, resumably.

:func:`plan_backfill` decides what a backfill runs (resuming the newest unfinished backfill with
the same selection and range: partitions its runs completed with the current code are skipped)
and estimates its time from recorded durations; :func:`run_backfill` runs that plan through the
same workflow as ``orch build``. Library code: the CLI only prints what these return.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orch.compiler.artifacts import CompileResult
from orch.config import RunOptions
from orch.errors import PartitionError
from orch.events import EventSink
from orch.run.partition_plan import PartitionExpander, PartitionRequest
from orch.run.plan import Plan, Step
from orch.run.workflow import RunResult, compile_for, open_state, run_command
from orch.state import StateReader


@dataclass(frozen=True)
class BackfillPlan:
    """What a backfill will run, and what is known about it before it runs."""

    compiled: CompileResult
    options: RunOptions
    plan: Plan
    identity: dict[str, Any]
    backfill_id: str
    done_runs: frozenset[str]  # earlier runs of the backfill this one resumes
    estimate_s: float | None  # from recorded durations, None when nothing is known
    unknown: int  # partitions without a recorded duration
    threads: int

    @property
    def partition_steps(self) -> list[Step]:
        """The steps of single partitions (unpartitioned assets in the selection run once)."""
        return [s for s in self.plan.order if s.partition is not None]


def plan_backfill(options: RunOptions, compiled: CompileResult | None = None) -> BackfillPlan:
    """The backfill of the options' selection and ``--start``/``--end`` (nothing runs).

    Raises PartitionError when the selection holds no partitioned asset.
    """
    compiled = compiled or compile_for(options)
    project, manifest = compiled.project, compiled.manifest
    target = project.target_name
    identity = backfill_identity(options)
    with open_state(project.root, readonly=True, target=project.target) as state:
        backfill_id, done_runs = resume_point(state, target, identity)
        request = PartitionRequest.from_options(options, backfill=True, done_runs=done_runs)
        planned = run_command(
            RunOptions(**{**options.__dict__, "dry_run": True}), "backfill",
            compiled=compiled, partitions=PartitionExpander(manifest, target, request),
        )  # fmt: skip
        steps = [s for s in planned.plan.order if s.partition is not None]
        threads = options.threads or project.target.threads
        estimate, unknown = estimate_seconds(steps, state, target, threads)
    partitioned = {s.asset for s in steps} | {
        n for n in planned.plan.up_to_date if manifest.nodes[n].config.partitioned_by
    }
    if not partitioned:
        raise PartitionError(
            "the selection holds no partitioned asset",
            hint="Select partitioned models with -s (see 'orch ls -s config.partitioned_by:*')",
        )
    return BackfillPlan(
        compiled, options, planned.plan, identity, backfill_id, done_runs, estimate, unknown,
        threads,
    )  # fmt: skip


def run_backfill(
    backfill: BackfillPlan,
    *,
    sinks: Iterable[EventSink] = (),
    confirmed: bool = False,
    run_id: str | None = None,
) -> RunResult:
    """Run a planned backfill (above ``backfill_confirm_above`` partitions: if ``confirmed``)."""
    project = backfill.compiled.project
    limit = project.config.backfill_confirm_above
    count = len(backfill.partition_steps)
    if count > limit and not confirmed:
        raise PartitionError(
            f"this backfill runs {count} partitions, above backfill_confirm_above ({limit})",
            hint="Pass --yes to run it (or --dry-run to see it), or narrow --start/--end",
        )
    request = PartitionRequest.from_options(
        backfill.options, backfill=True, done_runs=backfill.done_runs
    )
    return run_command(
        backfill.options, "backfill", sinks=sinks, compiled=backfill.compiled,
        partitions=PartitionExpander(backfill.compiled.manifest, project.target_name, request),
        run_args={"backfill": backfill.identity, "backfill_id": backfill.backfill_id},
        run_id=run_id,
    )  # fmt: skip


def backfill_identity(options: RunOptions) -> dict[str, Any]:
    """What makes two backfill commands "the same backfill" (and the second a resume)."""
    return {
        "select": sorted(options.select),
        "exclude": sorted(options.exclude),
        "start": options.start,
        "end": options.end,
        "partition": options.partition,
    }


def resume_point(
    state: StateReader, target: str, identity: dict[str, Any]
) -> tuple[str, frozenset[str]]:
    """``(backfill id, runs of it)``: the unfinished backfill to resume, or a new id.

    The newest backfill run with the same identity that did not succeed (failed, interrupted,
    or killed and still marked running) is resumed: partitions its runs completed are skipped.
    """
    runs = state.recent_runs(500, target=target)
    same = [r for r in runs if r.command == "backfill" and r.args.get("backfill") == identity]
    if not same or same[0].status == "success":
        return uuid.uuid4().hex, frozenset()
    backfill_id = str(same[0].args.get("backfill_id", ""))
    chain = frozenset(r.run_id for r in same if r.args.get("backfill_id") == backfill_id)
    return backfill_id, chain


def estimate_seconds(
    steps: Iterable[Any], state: StateReader | None, target: str, threads: int
) -> tuple[float | None, int]:
    """Estimated wall time of partition steps from recorded durations; and how many had none.

    Each step costs its asset's mean recorded partition duration (a step whose asset has no
    record yet counts as unknown); the sum is divided by ``threads``.
    """
    means: dict[str, float | None] = {}
    total, unknown = 0.0, 0
    for step in steps:
        if step.asset not in means:
            records = state.partitions_of(step.asset, target=target) if state else {}
            durations = [r.duration_s for r in records.values() if r.duration_s is not None]
            means[step.asset] = sum(durations) / len(durations) if durations else None
        mean = means[step.asset]
        if mean is None:
            unknown += 1
        else:
            total += mean
    return (total / max(1, threads) if total or not unknown else None), unknown
