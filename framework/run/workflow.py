"""The run workflow shared by the CLI, the daemon and the test helpers.

compile → select → plan (against the state) → open the adapter → take the target's lock → clean up
what a killed run left → execute → record. Library code: it returns results, never prints or exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orch.adapters import get_adapter
from orch.adapters.base import STAGING_PREFIX, TEMP_PREFIX, Adapter
from orch.compiler import compile_or_reuse
from orch.compiler.artifacts import CompileResult, write_artifacts
from orch.compiler.workspace import write_contracts
from orch.config import DuckDBTargetConfig, RunOptions, TargetConfig
from orch.events import EventSink, FanOut, LogEmitted, RunFinished, RunStarted, StepSkipped
from orch.manifest import Manifest
from orch.run.checks import CheckHook, TestRun, run_tests
from orch.run.executor import (
    SKIPPED,
    SUCCESS,
    Executor,
    PartitionMapper,
    RunSummary,
    StepHook,
    StepOutcome,
)
from orch.run.foreign_state import owner_versions
from orch.run.freshness import effective_parents
from orch.run.hooks import HookRunner, live_hook_renderer
from orch.run.materialize import StepFunction, materialize
from orch.run.observe import observe_sources, sources_upstream
from orch.run.partition_plan import PartitionExpander, PartitionRequest
from orch.run.plan import Plan, build_plan
from orch.run.provenance import code_lookup, git_state, provenance_excludes
from orch.run.python import PythonRuntime, remove_owned_files
from orch.run.reporting import JsonLinesReporter, RunResultsWriter, run_results_of
from orch.run.version import known_versions
from orch.selection import Selection
from orch.state import LockOwner, SQLiteStateStore, StateRecorder, StateStore
from orch.state.kind import open_state_store

if TYPE_CHECKING:
    from orch.load.project import Project

Command = Literal["build", "run", "seed", "backfill", "snapshot"]
# Makes a run's step hook from the open adapter, the run id and the run's event sink.
HookFactory = Callable[[Adapter, str, EventSink], StepHook | None]

UNIT_ONLY_TARGET = DuckDBTargetConfig(type="duckdb", path=":memory:")
RESOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "build": ("model", "seed"),
    "run": ("model",),
    "seed": ("seed",),
    "snapshot": ("model",),  # only the dbt snapshots among them (orch snapshot)
}


@dataclass
class RunResult:
    """What a command did: the plan, the executed summary (None for a dry run), the exit code."""

    compiled: CompileResult
    plan: Plan
    summary: RunSummary | None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest(self) -> Manifest:
        """The compiled manifest."""
        return self.compiled.manifest

    @property
    def exit_code(self) -> int:
        """0 success (or dry run), 1 a step failed, 130 interrupted."""
        if self.summary is None:
            return 0
        return {"success": 0, "failed": 1, "interrupted": 130}[self.summary.status]


def open_state(
    project_root: Path, *, readonly: bool = False, target: TargetConfig | None = None
) -> StateStore:
    """The project's state store: SQLite under ``.orch/``, or the warehouse's ``_orch`` schema.

    Given the ``target``, its ``state`` setting decides (default: the warehouse for Snowflake).
    """
    if target is not None:
        return open_state_store(project_root, target, readonly=readonly)
    return SQLiteStateStore.for_project(project_root, readonly=readonly)


def compile_for(options: RunOptions) -> CompileResult:
    """Compile what the selection needs (scoped when it can) and write artifacts for a full load."""
    names = Selection.from_options(options).names_needed()
    result = compile_or_reuse(options, names)
    if not result.scoped:
        write_artifacts(result)
    return result


def selected_assets(manifest: Manifest, options: RunOptions, command: str) -> set[str]:
    """The selection, limited to the kinds of asset ``command`` builds."""
    kinds = RESOURCE_TYPES.get(command, ("model", "seed"))
    assets = Selection.from_options(options).evaluate(manifest).assets
    chosen = {n for n in assets if manifest.nodes[n].resource_type in kinds}
    if command in ("run", "snapshot"):  # as in dbt: `run` builds no snapshot, `snapshot` only them
        wanted = command == "snapshot"
        chosen = {n for n in chosen if (manifest.nodes[n].materialized == "snapshot") == wanted}
    return chosen


def run_command(
    options: RunOptions,
    command: Command,
    *,
    sinks: Iterable[EventSink] = (),
    compiled: CompileResult | None = None,
    hook_factory: HookFactory | None = None,
    partitions: PartitionExpander | None = None,
    extra_steps: Callable[[Manifest, set[str]], set[str]] | None = None,
    run_id: str | None = None,
    run_args: dict[str, Any] | None = None,
    take_lock: bool = True,
) -> RunResult:
    """Run ``build``/``run``/``seed`` for the options' selection and return what happened.

    Partitioned assets expand into partitions with ``partitions`` (by default the partitions
    missing or stale within the options' ``--partition``/``--start``/``--end``); ``run_args``
    are recorded with the run (a backfill's identity, for resuming it). ``hook_factory`` makes
    the run's step hook from the open adapter, the run id and the event sink (by default
    ``build`` runs the checks of what it builds: :class:`~orch.run.checks.CheckHook`).
    ``take_lock=False``: the caller holds the target's run lock (a run across workspace members
    takes every member's lock first, :mod:`orch.run.workspace`).
    """
    compiled = compiled or compile_for(options)
    manifest = compiled.manifest
    project = compiled.project
    if partitions is None:
        request = PartitionRequest.from_options(options)
        partitions = PartitionExpander(manifest, project.target_name, request)
    selected = selected_assets(manifest, options, command)
    if extra_steps is not None:
        selected = extra_steps(manifest, selected)
    state = open_state(project.root, readonly=options.dry_run, target=project.target)
    # another member's model read here: what its owner last built (a dry run sees it too)
    owners = owner_versions(project, manifest, sources_upstream(manifest, selected))
    try:
        plan = build_plan(
            manifest,
            selected,
            state,
            target=project.target_name,
            changed_only=options.changed_only,
            partitions=partitions,
            prune=not (options.rebuild_downstream or options.full_refresh),
            observed=owners,
        )
        if options.dry_run:
            return RunResult(compiled, plan, None)
        run_id = run_id or uuid.uuid4().hex  # the daemon passes the id it claimed
        # The run lock first: a second build on the target then names the holder (pid, start
        # time) instead of failing on the warehouse file the first one has open.
        lock = (
            state.acquire_lock(project.target_name, LockOwner(command, run_id))
            if take_lock
            else contextlib.nullcontext()
        )
        with lock:
            adapter = get_adapter(project.target, project.root)
            sources = sources_upstream(manifest, selected) if command == "build" else []
            if _uses_warehouse(manifest, plan, bool(sources), hook_factory):
                adapter.open()
            try:
                if sources:  # observed before planning: a changed source makes readers stale
                    seen = observe_sources(
                        manifest, adapter, state, target=project.target_name, sources=sources,
                        known=owners, strict=project.flavor != "dbt",
                    )  # fmt: skip
                    if options.changed_only and any(o.changed for o in seen):
                        plan = build_plan(
                            manifest, selected, state, target=project.target_name,
                            changed_only=True, partitions=partitions,
                            prune=not (options.rebuild_downstream or options.full_refresh),
                        )  # fmt: skip
                summary = _execute(
                    options, command, compiled, plan, adapter, state, run_id, sinks,
                    hook_factory, run_args=run_args,
                    partition_mapper=partitions.upstream_partitions,
                )  # fmt: skip
            finally:
                adapter.close()
        if project.foreign is not None:  # a workspace member: what its public contracts shipped
            asset_of = {step.step_id: step.asset for step in plan.order}
            built = {asset_of.get(s, s) for s, o in summary.outcomes.items() if o.status == SUCCESS}
            write_contracts(project, manifest, built)
        return RunResult(compiled, plan, summary, run_id)
    finally:
        state.close()


def _execute(
    options: RunOptions,
    command: str,
    compiled: CompileResult,
    plan: Plan,
    adapter: Adapter,
    state: StateStore,
    run_id: str,
    sinks: Iterable[EventSink],
    hook_factory: HookFactory | None,
    *,
    run_args: dict[str, Any] | None = None,
    partition_mapper: PartitionMapper | None = None,
) -> RunSummary:
    project, manifest = compiled.project, compiled.manifest
    with recorded_events(compiled, state, command, options, sinks) as fan:
        selection = " ".join(options.select)
        fan.emit(
            RunStarted(
                run_id, command, project.target_name, selection, len(plan), pid=os.getpid(),
                args={**recorded_args(options), **(run_args or {})},
            )
        )  # fmt: skip
        cleanup_temporary_relations(adapter, manifest, plan)
        python = PythonRuntime.from_project(project, fan, run_id)
        if options.full_refresh and not (options.partition or options.start or options.end):
            assets = sorted({s.asset for s in plan.order})
            for asset, files in remove_owned_files(manifest, assets, python).items():
                fan.emit(
                    LogEmitted(
                        run_id, asset, "info", f"full refresh: removed {len(files)} old file(s)"
                    )
                )
        parents = {p for s in plan.order for p in manifest.parents.get(s.asset, [])}
        parents |= {p for s in plan.order for p in effective_parents(manifest, s.asset)}
        latest = state.latest_materializations(sorted(parents), target=project.target_name)
        known = {key: rec.run_id for key, rec in latest.items()}
        versions = known_versions(latest, state.latest_observations(target=project.target_name))
        python.stored_metadata.update({key: dict(rec.metadata) for key, rec in latest.items()})
        hook = hook_factory(adapter, run_id, fan) if hook_factory else None
        if hook is None and command == "build":  # checks run inside build
            hook = CheckHook.for_build(manifest, plan, adapter, run_id, fan, options, project)
            if hook.left_standing:
                fan.emit(_standing_note(run_id, hook.left_standing, state, project.target_name))
            if hook.own or hook.waiting or hook.unit:  # checks to run
                adapter.open()
        hooks = HookRunner(adapter, run_id, fan,
                           render=live_hook_renderer(project, manifest, command, adapter,
                                                     [s.asset for s in plan.order]),
                           results=run_results_of(fan))  # fmt: skip
        step_function: StepFunction = materialize
        if any(manifest.nodes[s.asset].rendered_at_run_time for s in plan.order
               if s.asset in manifest.nodes):  # fmt: skip
            # imported here: it needs sqlglot and Jinja, which a run of compiled SQL never loads
            from orch.run.live_render import LiveRenderer

            step_function = LiveRenderer(project, manifest, command).wrap(materialize)
        executor = Executor(
            plan,
            manifest,
            adapter,
            fan,
            step_function=hooks.around(step_function),
            run_id=run_id,
            project_root=str(project.root),
            threads=options.threads or project.target.threads,
            fail_fast=options.fail_fast,
            full_refresh=options.full_refresh,
            known_runs=known,
            known_versions=versions,
            hook=hook,
            python=python,
            partition_mapper=partition_mapper,
        )
        if isinstance(hook, CheckHook):  # Python checks get the run's resources
            hook.evaluator.resources = python.resource
        with interrupt_on_sigterm():
            try:
                if hooks.run_start(manifest):
                    summary = executor.run()
                else:  # dbt: a failing on-run-start hook skips every node of the run
                    summary = skip_all(plan, run_id, fan, "an on-run-start hook failed")
                if hook is not None:  # checks that could not run are reported as skipped
                    hook.finish(summary)
                hooks.run_end(manifest)
            finally:  # resources are torn down on success, failure, Ctrl-C and SIGTERM
                python.close()
        summary.failed_hooks = [f"{o.phase} {o.index + 1}" for o in hooks.failed]
        fan.emit(RunFinished(run_id, summary.status, summary.duration_s, summary.counts()))
    return summary


def _uses_warehouse(
    manifest: Manifest, plan: Plan, observes_sources: bool, hook_factory: HookFactory | None
) -> bool:
    """Whether a run reaches the warehouse before its checks: steps to run, sources to observe,
    run hooks, or a caller's step hook. When not (``build --changed`` with nothing to do), the
    adapter is opened only if checks are left to run (an adapter opens itself on first use
    anyway): no driver import, no database file opened."""
    if plan or observes_sources or hook_factory is not None:
        return True
    return bool(manifest.on_run_start or manifest.on_run_end)


def skip_all(plan: Plan, run_id: str, sink: EventSink, reason: str) -> RunSummary:
    """Every step of ``plan`` skipped for ``reason`` (reported as such)."""
    summary = RunSummary()
    for step in plan.order:
        summary.outcomes[step.step_id] = StepOutcome(SKIPPED, cause=reason)
        sink.emit(StepSkipped(run_id, step.step_id, step.asset, step.partition, reason))
    return summary


def recorded_args(options: RunOptions) -> dict[str, Any]:
    """The options a run records with itself: enough for ``orch retry`` to repeat them."""
    return {
        "select": list(options.select), "exclude": list(options.exclude),
        "full_refresh": options.full_refresh, "vars": dict(options.vars),
        "target": options.target, "partition": options.partition, "start": options.start,
        "end": options.end, "threads": options.threads, "fail_fast": options.fail_fast,
        "changed": options.changed_only,
    }  # fmt: skip


@contextmanager
def recorded_events(
    compiled: CompileResult,
    state: StateStore,
    command: str,
    options: RunOptions,
    sinks: Iterable[EventSink],
) -> Iterator[FanOut]:
    """The events of a run, fanned out to ``sinks`` and to what every run records.

    The state store, ``target/run_results.json`` and ``logs/orch.jsonl``: the same for builds,
    backfills and ``orch test``.
    """
    project = compiled.project
    recorder = StateRecorder(
        state,
        code_of=code_lookup(compiled.manifest),
        git=git_state(project.root, exclude=provenance_excludes(project)),
    )
    fan = FanOut([recorder, *sinks])
    fan.add(
        RunResultsWriter(
            project.target_dir / "run_results.json",
            compiled.manifest,
            {"command": command, "select": list(options.select), "target": project.target_name},
        )
    )
    log_dir = project.root / project.config.log_path
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "orch.jsonl").open("a", encoding="utf-8") as log_file:
        fan.add(JsonLinesReporter(log_file))
        yield fan


def run_checks(
    options: RunOptions,
    *,
    sinks: Iterable[EventSink] = (),
    store_failures: bool = False,
    compiled: CompileResult | None = None,
) -> TestRun | None:
    """``orch test``: the selected checks against what is in the warehouse (None: none selected).

    Checks of partitioned assets run per partition of ``--partition`` or ``--start``/``--end``
    when given, else on the whole asset; ``options.fail_fast`` stops at the first failure. The
    target's run lock is held while they read, so
    during a build the holder is named (instead of a locked warehouse file).
    """
    compiled = compiled or compile_or_reuse(options)
    manifest, project = compiled.manifest, compiled.project
    selection = Selection.from_options(options)
    checks = sorted(selection.checks_for(manifest, selection.evaluate(manifest).assets))
    if not checks:
        return None
    request = PartitionRequest.from_options(options)
    partitions_of = request.keys_of if request.restricted else None
    run_id = uuid.uuid4().hex
    with open_state(project.root, target=project.target) as state:
        with state.acquire_lock(project.target_name, LockOwner("test", run_id)):
            # unit tests run in their own in-memory DuckDB: with nothing else selected, the
            # warehouse is never reached (a Snowflake project's unit tests need no account)
            only_unit = all(manifest.checks[c].kind == "unit" for c in checks)
            target = UNIT_ONLY_TARGET if only_unit else project.target
            adapter = get_adapter(target, project.root)
            adapter.open()
            try:
                with recorded_events(compiled, state, "test", options, sinks) as fan:
                    python = PythonRuntime.from_project(project, fan, run_id)
                    try:
                        return run_tests(
                            manifest, adapter, checks, fan, project_root=project.root,
                            target=project.target_name, partitions_of=partitions_of,
                            threads=options.threads or project.target.threads,
                            store_failures=store_failures, selection=" ".join(options.select),
                            run_id=run_id, fail_fast=options.fail_fast, python=python,
                            run_hooks=not only_unit,
                            live_render=_live_check_render(project, manifest, checks),
                            hook_render=live_hook_renderer(project, manifest, "test", adapter, []),
                        )  # fmt: skip
                    finally:  # the checks' resources, torn down also after Ctrl-C
                        python.close()
            finally:
                adapter.close()


def cleanup_temporary_relations(adapter: Adapter, manifest: Manifest, plan: Plan) -> list[str]:
    """Drop temporary/staging relations a killed run left in the schemas this plan writes to."""
    schemas = set()
    for step in plan.order:
        node = manifest.nodes[step.asset]
        if node.relation is not None:
            schemas.add((node.relation.database, node.relation.schema_name))
    dropped = []
    for database, schema in sorted(schemas, key=str):
        for relation in adapter.list_relations(database, schema):
            if relation.name.startswith((TEMP_PREFIX, STAGING_PREFIX)):
                adapter.drop_relation(relation)
                dropped.append(str(relation))
    return dropped


def _standing_note(run_id: str, checks: set[str], state: StateStore, target: str) -> LogEmitted:
    """The line saying which checks a build did not re-run, with their last results."""
    last = state.latest_check_results(sorted(checks), target=target)
    counts: dict[str, int] = {}
    for record in last.values():
        counts[record.status] = counts.get(record.status, 0) + 1
    results = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return LogEmitted(
        run_id, None, "info",
        f"{len(checks)} checks not re-run: what they read is up to date"
        + (f" (last results: {results})" if results else "")
        + "; --checks all re-runs them",
    )  # fmt: skip


@contextmanager
def interrupt_on_sigterm():  # type: ignore[no-untyped-def]
    """SIGTERM stops a run like Ctrl-C (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _live_check_render(project: Project, manifest: Manifest, checks: Iterable[str]) -> Any:
    """The renderer of the checks whose template queries the warehouse, if any is selected
    (imported then only: it needs sqlglot and Jinja, which a run of compiled SQL never loads)."""
    if not any(manifest.checks[c].rendered_at_run_time for c in checks):
        return None
    from orch.run.live_render import LiveRenderer

    return LiveRenderer(project, manifest, "test").render_check
