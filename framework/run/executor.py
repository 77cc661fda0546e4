"""Walk a Plan with a bounded thread pool, in DAG order.

A failed step marks everything downstream of it skipped and the run goes on elsewhere
(``fail_fast`` stops starting new steps instead). Ctrl-C interrupts the running statements through
the adapter; their transactions roll back, nothing half-written stays, and the state records only
what committed. Every step emits typed events; the executor itself writes nothing else.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orch import redaction
from orch.adapters.base import Adapter
from orch.errors import BlockingCheckFailedError, OrchError, WarehouseError
from orch.events import (
    EventSink,
    LogEmitted,
    StepFailed,
    StepMaterialized,
    StepQueued,
    StepSkipped,
    StepStarted,
    emit_all,
    utcnow,
)
from orch.manifest import Manifest, Node
from orch.names import Relation
from orch.run import version
from orch.run.freshness import effective_parents, sources_read
from orch.run.materialize import (
    MaterializeResult,
    StepContext,
    StepFunction,
    materialize,
    partition_window,
)
from orch.run.plan import Plan, Step
from orch.run.python import PythonRuntime

log = logging.getLogger(__name__)

SUCCESS, FAILED, SKIPPED, BLOCKED = "success", "failed", "skipped", "blocked"
WRITING, FINISHING, CHECKING = "writing", "finishing", "checking"  # what a running step does


@dataclass
class StepOutcome:
    """How a step ended; ``blocked``: a blocking check failed (on staged data, which was then not
    published; or, for a view, right after the step), so what is downstream does not run."""

    status: str
    error: str | None = None
    cause: str | None = None  # for blocked: the check that failed


@dataclass
class RunSummary:
    """Counts and outcome of an executed plan."""

    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    interrupted: bool = False
    failed_checks: list[str] = field(default_factory=list)  # error-severity check failures
    failed_hooks: list[str] = field(default_factory=list)  # on-run-start/-end hooks that failed
    duration_s: float = 0.0

    def count(self, status: str) -> int:
        """How many steps ended with ``status``."""
        return sum(1 for o in self.outcomes.values() if o.status == status)

    @property
    def status(self) -> str:
        """success, failed or interrupted."""
        if self.interrupted:
            return "interrupted"
        if (
            self.failed_checks
            or self.failed_hooks
            or any(o.status in (FAILED, BLOCKED) for o in self.outcomes.values())
        ):
            return "failed"  # an error-severity check failing fails the run, blocking or not
        return "success"

    def counts(self) -> dict[str, int]:
        """Steps per status."""
        out: dict[str, int] = {}
        for o in self.outcomes.values():
            out[o.status] = out.get(o.status, 0) + 1
        return out


# The upstream partition keys one partition of an asset reads (None: all of the upstream).
PartitionMapper = Callable[[Node, str, Node], "list[str] | None"]


class StepHook(ABC):
    """What a run does around its steps besides writing them (the checks of ``orch build``).

    The executor hands it to the materializations as their ``audit`` (write-audit-publish: the
    new data of a step it :meth:`wants_staging` for is staged and :meth:`audit`-ed before it is
    published), calls :meth:`after_step` once a step's data committed, and the workflow calls
    :meth:`finish` with the run's summary.
    """

    def wants_staging(self, node: Node) -> bool:
        """Whether ``node``'s new data must be staged and audited before it is published."""
        return False

    def audit(self, node: Node, staged: Relation, partition: str | None) -> str | None:
        """Audit the staged new data of ``node``; the name of a failing blocking check, or None."""
        return None

    def before_step(self, step: Step, node: Node) -> str | None:
        """Run before ``step`` starts; the name of a failed test (a unit test of the step's
        asset, a test of a source it reads) skips it (and downstream)."""
        return None

    def skip_reason(self, failed: str) -> str:
        """Why a step is skipped when :meth:`before_step` returned ``failed``."""
        return f"'{failed}' failed"

    @abstractmethod
    def after_step(self, step: Step, node: Node) -> str | None:
        """Run once ``step`` committed; the name of a failing blocking check (stops downstream)."""

    def may_stop_downstream(self, step: Step, node: Node) -> bool:
        """Whether :meth:`after_step` of ``step`` could stop what is downstream. When it cannot,
        the executor lets the children start while it runs (a hook that cannot tell says yes)."""
        return True

    def finish(self, summary: RunSummary) -> None:
        """Run once every step has an outcome (e.g. report what could not run as skipped)."""
        return None


@dataclass(frozen=True)
class _Written:
    """A step whose data committed, waiting for its bookkeeping (version, events, checks)."""

    step: Step
    node: Node
    result: MaterializeResult
    started_at: datetime
    duration: float  # seconds spent writing


@dataclass(frozen=True)
class _Released:
    """A step recorded and none of whose checks can stop downstream: its children may start
    while its checks run."""

    step: Step
    node: Node


class Executor:
    """Runs the steps of one plan; create one per run."""

    def __init__(
        self,
        plan: Plan,
        manifest: Manifest,
        adapter: Adapter,
        sink: EventSink,
        *,
        run_id: str,
        project_root: str,
        threads: int = 1,
        fail_fast: bool = False,
        full_refresh: bool = False,
        known_runs: dict[tuple[str, str | None], str] | None = None,
        known_versions: dict[tuple[str, str | None], version.DataVersion | None] | None = None,
        step_function: StepFunction = materialize,
        hook: StepHook | None = None,
        python: PythonRuntime | None = None,
        partition_mapper: PartitionMapper | None = None,
    ) -> None:
        self.plan = plan
        self.manifest = manifest
        self.adapter = adapter
        self.sink = sink
        self.run_id = run_id
        self.project_root = project_root
        self.threads = max(1, threads)
        self.fail_fast = fail_fast
        self.full_refresh = full_refresh
        self.step_function = step_function
        self.hook = hook
        self.python = python  # resources, vars and the event sink of Python assets
        # partition -> the upstream partitions it reads (recorded as its upstream), when known
        self.partition_mapper = partition_mapper
        self._known_runs: dict[str, dict[str | None, str]] = {}
        for (asset, partition), run in (known_runs or {}).items():
            self._known_runs.setdefault(asset, {})[partition] = run
        # (asset, partition) -> its latest data version; sources: their latest observation
        self._known_versions = dict(known_versions or {})
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._children: dict[str, list[str]] = {sid: [] for sid in plan.steps}
        for step in plan.order:
            for up in step.upstream:
                if up in self._children:
                    self._children[up].append(step.step_id)

    def stop(self) -> None:
        """Ask the run to stop: running statements are interrupted, nothing new starts."""
        self._stopping.set()
        self.adapter.interrupt()

    def _wait_interrupted(self, future: Future[Any]) -> Any:
        """A running step's outcome after :meth:`stop`. A statement that began just after the
        interrupt (the step was between two statements) would run on: interrupt again until the
        step returns."""
        while True:
            try:
                return future.result(timeout=0.5)
            except FuturesTimeout:
                self.adapter.interrupt()

    # ------------------------------------------------------------------ scheduling

    def run(self) -> RunSummary:
        """Execute the plan; returns when every step has an outcome.

        With more than one thread, a step holds one of the ``threads`` slots only while it writes
        its data; what follows the commit (its data version, its events, its checks) runs on a
        second pool of as many threads, so the next ready step's statement starts meanwhile
        (issue 21: the build's bookkeeping off its critical path). What is downstream of a step
        waits until it is recorded (it records the data version it read), and for its checks too
        when one of them can stop it (:meth:`StepHook.may_stop_downstream`). With one thread, one
        step at a time, start to finish.
        """
        started = time.perf_counter()
        summary = RunSummary()
        remaining = {
            sid: sum(1 for u in s.upstream if u in self.plan.steps)
            for sid, s in self.plan.steps.items()
        }
        ready = deque(sid for sid in self.plan.steps if remaining[sid] == 0)
        emit_all(
            self.sink,
            [StepQueued(self.run_id, s.step_id, s.asset, s.partition) for s in self.plan.order],
        )
        # step id, and what it is doing: writing (holds a slot), finishing or checking
        running: dict[Future[Any], tuple[str, str]] = {}
        writing = 0
        with (
            ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="orch-step") as pool,
            ThreadPoolExecutor(
                max_workers=self.threads, thread_name_prefix="orch-finish"
            ) as finishers,
        ):
            try:
                while ready or running:
                    while ready and writing < self.threads and not self._stopping.is_set():
                        sid = ready.popleft()
                        if sid in summary.outcomes:
                            continue
                        work = self._run_step if self.threads > 1 else self._run_whole_step
                        running[pool.submit(work, self.plan.steps[sid])] = (sid, WRITING)
                        writing += 1
                    if not running:
                        break
                    done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        sid, doing = running.pop(future)
                        writing -= doing == WRITING
                        result = future.result()
                        if isinstance(result, _Written):  # committed: now its bookkeeping
                            running[finishers.submit(self._finish_step, result)] = (sid, FINISHING)
                        elif isinstance(result, _Released):  # downstream may go; checks next
                            self._record(sid, StepOutcome(SUCCESS), summary, ready, remaining)
                            running[finishers.submit(self._check_step, result)] = (sid, CHECKING)
                        elif doing != CHECKING:
                            self._record(sid, result, summary, ready, remaining)
            except KeyboardInterrupt:
                summary.interrupted = True
                self.stop()
                for future, (sid, doing) in list(running.items()):
                    result = self._wait_interrupted(future)
                    if isinstance(result, _Written):  # committed before the interrupt: recorded
                        result = self._finish_step(result)
                    if isinstance(result, _Released):
                        self._check_step(result)
                        result = StepOutcome(SUCCESS)
                    if doing != CHECKING:
                        summary.outcomes[sid] = result
                running.clear()
        reason = "interrupted" if summary.interrupted else "fail-fast: an earlier step failed"
        for step in self.plan.order:
            if step.step_id not in summary.outcomes:
                summary.outcomes[step.step_id] = StepOutcome(SKIPPED, cause=reason)
                self.sink.emit(
                    StepSkipped(self.run_id, step.step_id, step.asset, step.partition, reason)
                )
        summary.duration_s = time.perf_counter() - started
        return summary

    def _record(
        self,
        sid: str,
        outcome: StepOutcome,
        summary: RunSummary,
        ready: deque[str],
        remaining: dict[str, int],
    ) -> None:
        """Keep a step's outcome; a success readies its children, anything else skips them."""
        summary.outcomes[sid] = outcome
        if outcome.status == SUCCESS:
            for child in self._children[sid]:
                remaining[child] -= 1
                if remaining[child] == 0 and child not in summary.outcomes:
                    ready.append(child)
        else:
            self._skip_downstream(sid, outcome, summary)
            if self.fail_fast and outcome.status == FAILED:
                self._stopping.set()

    def _skip_downstream(self, sid: str, outcome: StepOutcome, summary: RunSummary) -> None:
        cause = outcome.cause if outcome.status == BLOCKED and outcome.cause else sid
        what = (
            f"blocking check '{cause}' failed"
            if outcome.status == BLOCKED
            else f"upstream '{sid}' was skipped: {outcome.cause}"
            if outcome.status == SKIPPED and outcome.cause
            else f"upstream '{sid}' failed"
        )
        stack = list(self._children[sid])
        while stack:
            child = stack.pop()
            if child in summary.outcomes:
                continue
            step = self.plan.steps[child]
            summary.outcomes[child] = StepOutcome(SKIPPED, cause=cause)
            self.sink.emit(
                StepSkipped(self.run_id, child, step.asset, step.partition, what, cause=cause)
            )
            stack.extend(self._children[child])

    # ------------------------------------------------------------------ one step

    def _run_step(self, step: Step) -> StepOutcome | _Written:
        """Write one step's data (a failure, a skip or what committed, to be finished)."""
        node = self.manifest.nodes[step.asset]
        if self._stopping.is_set():
            return StepOutcome(SKIPPED, cause="interrupted")
        failed_test = self.hook.before_step(step, node) if self.hook is not None else None
        if failed_test:  # dbt's build: a model whose unit test fails is not built
            reason = self.hook.skip_reason(failed_test) if self.hook is not None else failed_test
            self.sink.emit(
                StepSkipped(
                    self.run_id, step.step_id, step.asset, step.partition, reason, cause=failed_test
                )
            )
            return StepOutcome(SKIPPED, cause=reason)
        started_at = utcnow()
        t0 = time.perf_counter()
        self.sink.emit(
            StepStarted(self.run_id, step.step_id, step.asset, step.partition, node.materialized)
        )
        try:
            ctx = StepContext(
                adapter=self.adapter,
                manifest=self.manifest,
                project_root=self.project_root,
                full_refresh=self.full_refresh,
                run_id=self.run_id,
                window=partition_window(node, step.partition),  # the key validated once, here
                python=self.python,
                audit=self.hook,
            )
            result = self.step_function(node, ctx)
        except Exception as err:  # the per-step boundary: any failure fails this step only
            outcome = self._failed(step, node, err, time.perf_counter() - t0)
            if isinstance(err, BlockingCheckFailedError):  # write-audit-publish kept it out
                return StepOutcome(BLOCKED, error=outcome.error, cause=err.check)
            return outcome
        return _Written(step, node, result, started_at, time.perf_counter() - t0)

    def _run_whole_step(self, step: Step) -> StepOutcome:
        """Write one step's data, finish and check it, on this thread (``--threads 1``)."""
        result = self._run_step(step)
        if not isinstance(result, _Written):
            return result
        outcome = self._finish_step(result, release=False)
        assert isinstance(outcome, StepOutcome)  # never released
        return outcome

    def _finish_step(self, written: _Written, *, release: bool = True) -> StepOutcome | _Released:
        """After a step committed: its data version, its events, then its checks — or, where none
        of them can stop what is downstream (``release``), :class:`_Released` to run them later."""
        step, node, result = written.step, written.node, written.result
        t0 = time.perf_counter()
        upstream = self._upstream_of(step)
        data = self._measure(step, node, result.metadata, upstream)
        duration = written.duration + time.perf_counter() - t0  # not the wait for a finisher
        self.sink.emit(
            StepMaterialized(
                self.run_id,
                step.step_id,
                step.asset,
                step.partition,
                node.materialized,
                node.fingerprint,
                result.rows,
                duration,
                written.started_at,
                metadata=result.metadata,
                upstream=upstream,
                data_version=data.version if data is not None else None,
                versions=version.versions_of(node, data),
            )
        )
        for message in result.warnings:
            self.sink.emit(LogEmitted(self.run_id, step.asset, "warning", message))
        with self._lock:
            self._known_runs.setdefault(step.asset, {})[step.partition] = self.run_id
            self._known_versions[(step.asset, step.partition)] = data
        if self.hook is None:
            return StepOutcome(SUCCESS)
        if release and not self.hook.may_stop_downstream(step, node):
            return _Released(step, node)
        failed_check = self.hook.after_step(step, node)
        if failed_check:
            return StepOutcome(BLOCKED, cause=failed_check)
        return StepOutcome(SUCCESS)

    def _check_step(self, released: _Released) -> None:
        """The checks of a released step (none of them can stop what is downstream)."""
        assert self.hook is not None
        self.hook.after_step(released.step, released.node)

    def _measure(
        self, step: Step, node: Node, metadata: dict[str, Any], upstream: list[dict[str, Any]]
    ) -> version.DataVersion | None:
        """The data version of what a step wrote; None (and a debug line) when the warehouse
        cannot compute it: a missing version only makes freshness fall back to timestamps."""
        try:
            return version.measure(self.adapter, node, metadata, upstream, partition=step.partition)
        except OrchError as err:
            log.debug("no data version for %s: %s", step.step_id, err)
            return None

    def _upstream_of(self, step: Step) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        me = self.manifest.nodes[step.asset]
        with self._lock:
            for source in self._sources_of(step.asset):
                seen = self._known_versions.get((source, None))
                if seen is not None:
                    out.append(version.read_refs(self.manifest, me, source, None, None, seen))
            for parent in self._parents_of(step.asset):
                node = self.manifest.nodes.get(parent)
                if node is None or node.resource_type == "source":
                    continue
                runs = self._known_runs.get(parent, {})
                if (
                    self.partition_mapper is not None
                    and step.partition is not None
                    and node.config.partitioned_by is not None
                ):
                    mapped = self.partition_mapper(
                        self.manifest.nodes[step.asset], step.partition, node
                    )
                    if mapped is not None:
                        for key in mapped:
                            if key in runs:
                                out.append(self._ref(me, parent, key, runs[key]))
                        continue
                for partition, run_id in sorted(
                    self._known_runs.get(parent, {}).items(), key=lambda kv: str(kv[0])
                ):
                    out.append(self._ref(me, parent, partition, run_id))
        return out

    def _ref(self, node: Node, parent: str, partition: str | None, run_id: str) -> dict[str, Any]:
        seen = self._known_versions.get((parent, partition))
        return version.read_refs(self.manifest, node, parent, partition, run_id, seen)

    def _parents_of(self, asset: str) -> list[str]:
        """The built assets a step reads, looking through ephemeral models."""
        return effective_parents(self.manifest, asset)

    def _sources_of(self, asset: str) -> list[str]:
        """The declared sources a step reads, looking through ephemeral models."""
        return sources_read(self.manifest, asset)

    def _missing_upstream(self, step: Step) -> list[str]:
        """Hints for upstream relations absent from the warehouse (``orch run`` before seeds)."""
        hints = []
        for parent in sorted(self.manifest.parents.get(step.asset, [])):
            node = self.manifest.nodes.get(parent)
            if node is None or node.relation is None or node.materialized == "ephemeral":
                continue
            try:
                if self.adapter.relation_exists(node.relation.to_relation()):
                    continue
            except Exception:  # only a hint: never hide the real error
                continue
            how = {
                "seed": f"run `orch seed -s {parent}` (or `orch build`) first",
                "source": "load it, or fix the source's database/schema in its YAML",
            }.get(node.resource_type, f"run `orch run -s {parent}` (or `orch build`) first")
            hints.append(
                f"Hint: upstream {node.resource_type} '{parent}' "
                f"({node.relation.to_relation()}) does not exist in the warehouse: {how}."
            )
        return hints

    def _failed(self, step: Step, node: Node, err: Exception, duration: float) -> StepOutcome:
        if self._stopping.is_set():
            message = "interrupted"
        elif isinstance(err, OrchError):
            message = err.format_message()
        else:
            message = f"{type(err).__name__}: {err}"
            log.debug("step %s failed:\n%s", step.step_id, traceback.format_exc())
        if isinstance(err, WarehouseError) and not self._stopping.is_set():
            message += "".join(f"\n{hint}" for hint in self._missing_upstream(step))
        message = redaction.scrub(message)
        sql_line = excerpt = None
        if isinstance(err, WarehouseError) and not node.rendered_at_run_time:
            # (a model rendered at run time ran other SQL than the manifest's: no excerpt)
            sql_line = self.adapter.error_line(err.message)
            code = node.compiled_code_incremental or node.compiled_code
            lines = code.splitlines()
            if sql_line and 0 < sql_line <= len(lines):
                excerpt = redaction.scrub(lines[sql_line - 1].strip())
        self.sink.emit(
            StepFailed(
                self.run_id,
                step.step_id,
                step.asset,
                step.partition,
                message,
                duration,
                path=node.path,
                sql_line=sql_line,
                sql_excerpt=excerpt,
            )
        )
        return StepOutcome(FAILED, error=message)
