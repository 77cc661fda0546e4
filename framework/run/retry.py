"""``orch retry``: run again what failed or was skipped in the last build, run or seed.

The last run of ``build``/``run``/``seed`` on the target recorded its options
(:func:`~orch.run.workflow.recorded_args`). The retry plans that run again with the same options
(nothing runs), leaves out every step (asset, partition) the last run materialized, and runs
exactly the rest: the steps that failed and those skipped after them (or never reached, when
the run was interrupted). A retry records its steps (``retry_steps``), so retrying a retry runs
what is left of those. Library code: the CLI prints what :func:`plan_retry` and
:func:`run_retry` return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orch.compiler.artifacts import CompileResult
from orch.config import RunOptions
from orch.errors import SelectionError
from orch.events import EventSink
from orch.manifest import Manifest, Node
from orch.run.freshness import FreshnessMap
from orch.run.partition_plan import PartitionExpander, PartitionRequest
from orch.run.workflow import Command, RunResult, compile_for, open_state, run_command
from orch.state.records import RunRecord

RETRIED_COMMANDS = ("build", "run", "seed", "snapshot")
RETRY = "retry"


@dataclass(frozen=True)
class RetryPlan:
    """The run being retried, its options, and the steps to run: (asset, partition key)."""

    last_run: RunRecord
    options: RunOptions
    compiled: CompileResult
    steps: tuple[tuple[str, str | None], ...] = ()

    @property
    def command(self) -> Command:
        """The command of the run being retried."""
        return self.last_run.command  # type: ignore[return-value]

    @property
    def assets(self) -> set[str]:
        """The assets of the steps to run."""
        return {asset for asset, _ in self.steps}


@dataclass
class _RetryPartitions(PartitionExpander):
    """Expands each partitioned asset into exactly its retried keys."""

    retried: Mapping[str, list[str]] = field(default_factory=dict)

    def expand(
        self, node: Node, freshness: FreshnessMap, scheduled: Mapping[str, set[str]]
    ) -> list[tuple[str, str]]:
        """The retried keys of ``node``."""
        return [(key, RETRY) for key in self.retried.get(node.name, [])]


def options_of(run: RunRecord, base: RunOptions) -> RunOptions:
    """The options the run recorded, on the project folders of ``base``."""
    args: dict[str, Any] = run.args
    return RunOptions(
        project_dir=base.project_dir,
        profiles_dir=base.profiles_dir,
        target=base.target,  # the run was found on this target
        vars=dict(args.get("vars") or {}),
        select=tuple(args.get("select") or ()),
        exclude=tuple(args.get("exclude") or ()),
        full_refresh=bool(args.get("full_refresh", False)),
        threads=args.get("threads"),
        fail_fast=bool(args.get("fail_fast", False)),
        partition=args.get("partition"),
        start=args.get("start"),
        end=args.get("end"),
        changed_only=bool(args.get("changed", False)),
    )


def plan_retry(options: RunOptions) -> RetryPlan:
    """What ``orch retry`` runs: the last build/run/seed's steps it did not materialize.

    Raises SelectionError when no build, run or seed is recorded on the target.
    """
    from orch.load.project import load_project

    project = load_project(options)
    with open_state(project.root, readonly=True, target=project.target) as state:
        runs = state.recent_runs(500, target=project.target_name)
        last = next((r for r in runs if r.command in RETRIED_COMMANDS), None)
        if last is None:
            raise SelectionError(
                f"nothing to retry: no build, run or seed is recorded on target "
                f"'{project.target_name}'",
                hint="Run 'orch build' first; 'orch runs' lists the recorded runs"
                + (
                    ". An op job re-runs what failed with 'orch job run NAME --from-failure RUN_ID'"
                    if any(r.command == "job" for r in runs)
                    else ""
                ),
            )
        done = {m.key for m in state.run_materializations(last.run_id) if m.status == "success"}
    retried = options_of(last, options)
    compiled = compile_for(retried)
    if last.status == "success":
        return RetryPlan(last, retried, compiled)
    if "retry_steps" in last.args:  # a retry ran only these
        candidates = [(str(a), None if k is None else str(k)) for a, k in last.args["retry_steps"]]
    else:
        planned = run_command(
            RunOptions(**{**retried.__dict__, "dry_run": True}), last.command,  # type: ignore[arg-type]
            compiled=compiled,
        )  # fmt: skip
        candidates = [(s.asset, s.partition) for s in planned.plan.order]
    steps = tuple(step for step in candidates if step not in done)
    return RetryPlan(last, retried, compiled, steps)


def run_retry(
    retry: RetryPlan, *, sinks: Iterable[EventSink] = (), run_id: str | None = None
) -> RunResult | None:
    """Run the steps of a retry (None: nothing to retry) with the last run's options.

    ``run_id`` names the new run (``orch ui`` watches it before it starts; default: a new id).
    """
    if not retry.steps:
        return None
    manifest = retry.compiled.manifest
    keys: dict[str, list[str]] = {}
    for asset, key in retry.steps:
        if key is not None:
            keys.setdefault(asset, []).append(key)
    request = PartitionRequest.from_options(retry.options)
    partitions = _RetryPartitions(
        manifest, retry.compiled.project.target_name, request, retried=keys
    )

    def only_retried(_: Manifest, __: set[str]) -> set[str]:
        return retry.assets

    return run_command(
        RunOptions(**{**retry.options.__dict__, "changed_only": False}), retry.command,
        sinks=sinks, compiled=retry.compiled, extra_steps=only_retried,
        partitions=partitions, run_id=run_id,
        run_args={"retry_of": retry.last_run.run_id, "retry_steps": [list(s) for s in retry.steps]},
    )  # fmt: skip
