"""Running hooks: SQL around each step and at the start and end of a run (dbt's semantics).

The one implementation of hooks. The compiler renders them (:mod:`orch.compiler.hooks`); here
they run, through the adapter only:

- A step with hooks runs as dbt's materializations run them::

      pre-hooks with transaction: false       (before BEGIN)
      BEGIN
        pre-hooks (transaction: true, the default)
        the materialization
        post-hooks (transaction: true)
      COMMIT
      post-hooks with transaction: false      (after COMMIT)

  A failing hook fails the step; inside the transaction everything the step wrote is rolled back
  (the previous table stays), so a post-hook that fills the table never leaves it half done.
  On warehouses whose DDL commits by itself (Snowflake) the rollback covers DML only, as in dbt.
- ``on-run-start`` hooks run before the first step, each in its own statement; the first failure
  stops the rest, and the run's steps are skipped (dbt ≥ 1.8). ``on-run-end`` hooks run after the
  last step, whatever happened (also after a failing on-run-start); a failure fails the run.

:class:`HookRunner` is the interface: :meth:`HookRunner.around` wraps a step function,
:meth:`HookRunner.run_start` / :meth:`HookRunner.run_end` run the project's hooks. Its outcomes are
plain :class:`HookOutcome` values, so other kinds of hooks (Python callbacks on success or failure)
can be added beside the SQL ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch import redaction
from orch.assets import HookContext, HookDefinition
from orch.errors import ModelFailedError, OrchError
from orch.events import EventSink, HookRan, LogEmitted
from orch.manifest import INVOCATION_MARKER, HookSql, Manifest, Node
from orch.run.python import find_asset

if TYPE_CHECKING:
    from orch.adapters.base import Adapter
    from orch.load.project import Project
    from orch.run.materialize import MaterializeResult, StepContext, StepFunction

ON_RUN_START, ON_RUN_END = "on-run-start", "on-run-end"


class HookFailedError(ModelFailedError):
    """A hook's SQL failed: the step (or the run, for on-run hooks) fails."""


@dataclass(frozen=True)
class HookOutcome:
    """How one hook ended: ``success`` or ``error`` (with the warehouse's message)."""

    phase: str  # pre-hook, post-hook, on-run-start, on-run-end
    index: int
    origin: str
    status: str
    message: str = ""
    duration_s: float = 0.0


@dataclass
class HookRunner:
    """Runs the hooks of one run on its adapter; ``outcomes`` lists every on-run hook's result."""

    adapter: Adapter
    run_id: str
    sink: EventSink | None = None
    outcomes: list[HookOutcome] = field(default_factory=list)
    # success/failure hooks of steps: a failure here never changes a step's or the run's status
    step_outcomes: list[HookOutcome] = field(default_factory=list)
    # renders a hook that queries the warehouse while rendering, with the model it wraps (None:
    # an on-run hook) and the run's results so far; its statements run as it renders
    # (orch.run.live_render)
    render: Callable[[HookSql, Node | None, list[dict[str, Any]]], str] | None = None
    # the run's results as run_results.json lists them, for on-run-end's ``results``
    results: Callable[[], list[dict[str, Any]]] | None = None

    def sql(self, hook: HookSql, node: Node | None = None) -> str:
        """The hook's SQL for this run (``invocation_id`` is the run's id)."""
        text = hook.sql
        if hook.rendered_at_run_time:
            if self.render is None:
                raise HookFailedError(
                    f"the hook in {hook.origin} queries the warehouse while rendering, "
                    "which this command cannot do"
                )
            text = self.render(hook, node, self.results() if self.results else [])
        return text.replace(INVOCATION_MARKER, self.run_id)

    # ------------------------------------------------------------------ steps

    def around(self, step: StepFunction) -> StepFunction:
        """``step`` with each node's pre- and post-hooks around it (see the module docstring),
        then a Python asset's success or failure hooks (``@asset(hooks=[...])``)."""
        with_sql = self._sql_around(step)

        def run(node: Node, ctx: StepContext) -> MaterializeResult:
            callbacks = _asset_hooks(node, ctx)
            if not callbacks:
                return with_sql(node, ctx)
            partition = ctx.window.key if ctx.window is not None else None
            try:
                result = with_sql(node, ctx)
            except Exception as err:
                text = err.format_message() if isinstance(err, OrchError) else str(err)
                failed = HookContext(
                    node.name, kind="asset", run_id=self.run_id, status="failure", error=err,
                    error_message=redaction.scrub(text), partition=partition,
                    emit=self._emitter(node.name),
                )  # fmt: skip
                self.step_outcomes += run_step_hooks(callbacks, failed, self.sink)
                raise
            succeeded = HookContext(
                node.name, kind="asset", run_id=self.run_id, status="success",
                partition=partition, emit=self._emitter(node.name),
            )  # fmt: skip
            self.step_outcomes += run_step_hooks(callbacks, succeeded, self.sink)
            return result

        return run

    def _emitter(self, step: str) -> Any:
        sink, run_id = self.sink, self.run_id

        def emit(level: str, text: str) -> None:
            if sink is not None:
                sink.emit(LogEmitted(run_id, step, level, text))

        return emit

    def _sql_around(self, step: StepFunction) -> StepFunction:
        def run(node: Node, ctx: StepContext) -> MaterializeResult:
            if not node.pre_hook and not node.post_hook:
                return step(node, ctx)
            self._model_hooks(node, "pre-hook", node.pre_hook, transaction=False)
            with ctx.adapter.transaction():
                self._model_hooks(node, "pre-hook", node.pre_hook, transaction=True)
                result = step(node, ctx)
                self._model_hooks(node, "post-hook", node.post_hook, transaction=True)
            self._model_hooks(node, "post-hook", node.post_hook, transaction=False)
            return result

        return run

    def _model_hooks(
        self, node: Node, phase: str, hooks: list[HookSql], *, transaction: bool
    ) -> None:
        for i, hook in enumerate(hooks):
            if hook.transaction != transaction or not (hook.sql or hook.rendered_at_run_time):
                continue
            t0 = time.perf_counter()
            try:
                text = self.sql(hook, node)
                if text.strip():
                    self.adapter.execute(text)
            except Exception as err:  # the warehouse refused it: the step fails, saying which
                self._step_hook_ran(phase, i, hook, node.name, "error", str(err), t0)
                raise HookFailedError(
                    f"{phase} {i + 1} of '{node.name}' failed: {err}",
                    hint=f"The hook is declared in {hook.origin}",
                ) from err
            self._step_hook_ran(phase, i, hook, node.name, "success", "", t0)

    def _step_hook_ran(
        self, phase: str, index: int, hook: HookSql, step: str, status: str, text: str, t0: float
    ) -> None:
        """A model hook's outcome as a HookRan event (recorded in the state store)."""
        if self.sink is not None:
            self.sink.emit(
                HookRan(self.run_id, phase, index, hook.origin, status,
                        time.perf_counter() - t0, redaction.scrub(text), step=step)
            )  # fmt: skip

    # ------------------------------------------------------------------ the run

    def run_start(self, manifest: Manifest) -> bool:
        """Run ``on-run-start``; False when one failed (the run's steps must then be skipped)."""
        return self._run_hooks(ON_RUN_START, manifest.on_run_start)

    def run_end(self, manifest: Manifest) -> bool:
        """Run ``on-run-end``; False when one failed (the run fails)."""
        return self._run_hooks(ON_RUN_END, manifest.on_run_end)

    def _run_hooks(self, phase: str, hooks: list[HookSql]) -> bool:
        for i, hook in enumerate(hooks):
            if not (hook.sql or hook.rendered_at_run_time):
                continue
            t0 = time.perf_counter()
            try:
                text = self.sql(hook)
                if text.strip():
                    self.adapter.execute(text)
            except Exception as err:  # noqa: BLE001 - reported as the hook's outcome
                self._record(HookOutcome(phase, i, hook.origin, "error", str(err),
                                         time.perf_counter() - t0))  # fmt: skip
                return False
            self._record(
                HookOutcome(phase, i, hook.origin, "success", "", time.perf_counter() - t0)
            )
        return True

    def _record(self, outcome: HookOutcome) -> None:
        self.outcomes.append(outcome)
        if self.sink is not None:
            self.sink.emit(
                HookRan(self.run_id, outcome.phase, outcome.index, outcome.origin, outcome.status,
                        outcome.duration_s, outcome.message)
            )  # fmt: skip

    @property
    def failed(self) -> list[HookOutcome]:
        """The on-run hooks that failed."""
        return [o for o in self.outcomes if o.status == "error"]


def live_hook_renderer(
    project: Project, manifest: Manifest, command: str, adapter: Adapter, assets: list[str]
) -> Callable[[HookSql, Node | None, list[dict[str, Any]]], str] | None:
    """What renders this run's hooks that query the warehouse (those of ``assets`` and the
    on-run hooks), or None when it has none — the Jinja and sqlglot it needs stay unloaded."""
    hooks = [*manifest.on_run_start, *manifest.on_run_end]
    for name in assets:
        node = manifest.nodes.get(name)
        if node is not None:
            hooks += [*node.pre_hook, *node.post_hook]
    if not any(h.rendered_at_run_time for h in hooks):
        return None
    from orch.run.live_render import LiveRenderer

    return LiveRenderer(project, manifest, command).hook_renderer(adapter)


# --------------------------------------------------------------------------- success/failure hooks


def _asset_hooks(node: Node, ctx: StepContext) -> list[HookDefinition]:
    """The ``hooks=`` of a Python asset (none for SQL models, or when the file fails to load:
    the step itself then fails saying why)."""
    if node.python is None:
        return []
    try:
        spec, _ = find_asset(node.python.module_path, Path(ctx.project_root), node.name)
    except Exception:  # noqa: BLE001 - the step reports the import error itself
        return []
    return list(spec.hooks)


def run_step_hooks(
    hooks: list[HookDefinition], context: HookContext, sink: EventSink | None
) -> list[HookOutcome]:
    """Call the hooks of ``context.status`` in order; each one's outcome, also as a HookRan
    event (phase ``success-hook``/``failure-hook``). A hook that raises is recorded as an error
    and the next hook still runs."""
    on = "success" if context.status == "success" else "failure"
    outcomes = []
    for i, hook in enumerate(h for h in hooks if h.on == on):
        t0 = time.perf_counter()
        origin = f"{hook.name} of {context.step}"
        try:
            hook(context)
        except Exception as err:  # noqa: BLE001 - recorded as the hook's failure
            text = redaction.scrub(f"{type(err).__name__}: {err}")
            outcome = HookOutcome(f"{on}-hook", i, origin, "error", text, time.perf_counter() - t0)
        else:
            outcome = HookOutcome(f"{on}-hook", i, origin, "success", "", time.perf_counter() - t0)
        outcomes.append(outcome)
        if sink is not None:
            sink.emit(
                HookRan(context.run_id, outcome.phase, outcome.index, outcome.origin,
                        outcome.status, outcome.duration_s, outcome.message, step=context.step)
            )  # fmt: skip
    return outcomes
