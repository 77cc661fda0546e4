"""The compiler's side of the helper process (orch.compiler.helper): which models it compiles,
when they are sent, what this process does meanwhile, and the compiler the helper runs.

A model is *ready* once all its parents are compiled here (its plan, made here then, is kept for
:meth:`ManifestCompiler.compile_model`). The helper's own models (it parsed them) are sent when
ready; this process's ready models wait in a pool, in compile order. When the compile reaches a
model still being compiled there, this process compiles the first models of its pool ahead of
their turn rather than wait; when its pool is empty it takes back the last model it sent there
(if it has its tree and the helper, working in order, has not reached it). When fewer than
:attr:`HelperFeed.LOW` models are queued there, the last ones of the pool are sent (with their
text: the helper parses them again). So both processes stay busy whatever their speeds, and
the results are used in compile order: the manifest is the serial compile's.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orch.compiler.graph import SELF
from orch.compiler.helper import CompileHelper, Item, slim_node
from orch.compiler.helper import wanted as helper_wanted
from orch.compiler.model_sql import SqlCompiler
from orch.compiler.settings import ModelSettings, target_dialect
from orch.errors import UserError
from orch.load.cache import ResultCache
from orch.load.parsing import PARSE_ERROR, ParsedModel
from orch.load.project import Project
from orch.load.rendering import Renderer
from sqlglot import exp

if TYPE_CHECKING:
    from orch.compiler.manifest_compiler import ManifestCompiler, ModelPlan


class HelperFeed:
    """Feeds a :class:`CompileHelper` the models it compiles for ``compiler``, and keeps this
    process busy meanwhile (see the module docstring)."""

    LOW = 4  # fewer models queued there than this: send it some of this process's own

    def __init__(self, compiler: ManifestCompiler, helper: CompileHelper) -> None:
        self.compiler = compiler
        self.helper = helper
        self.plans: dict[str, ModelPlan] = {}  # planned ahead of their turn, not compiled yet
        self._index = {name: i for i, name in enumerate(compiler.graph.order)}
        self._waiting: dict[str, int] = {}  # models -> parents not compiled yet
        self._to_send: list[str] = []  # the helper's models whose parents are all compiled
        self._pool: list[tuple[int, str]] = []  # this process's ready models, in order
        self._done: dict[str, dict[str, Any]] = {}  # compiled here ahead of their turn
        self._shipped: set[str] = set()  # parsed here, sent there (this process has the tree)

    def start(self) -> None:
        """Count, for each model, the parents it waits for."""
        graph = self.compiler.graph
        for name in graph.order:
            if name in self.compiler.parsed:
                left = len(graph.dag.parents(name))
                if left:
                    self._waiting[name] = left
                else:
                    self._make_ready(name)

    def _make_ready(self, name: str) -> None:
        if name in self.helper.owned:
            self._to_send.append(name)
        else:
            bisect.insort(self._pool, (self._index[name], name))

    def node_done(self, name: str) -> None:
        """``name`` is compiled here: its children waiting for it wait for one parent less."""
        for child in self.compiler.graph.dag.children(name):
            left = self._waiting.get(child)
            if left == 1:
                del self._waiting[child]
                self._make_ready(child)
            elif left is not None:
                self._waiting[child] = left - 1

    def feed(self) -> None:
        """Send the helper its models that are ready, and some of this process's own when few
        are queued there (the last in order: this process reaches them last)."""
        helper = self.helper
        if helper.closed:
            return
        helper.poll()
        items = [item for name in self._to_send if (item := self._item(name, None)) is not None]
        self._to_send = []
        while len(helper.outstanding) + len(items) < self.LOW and self._pool:
            _, name = self._pool.pop()
            item = self._item(name, _without_trees(self.compiler.parsed[name]))
            if item is not None:
                self._shipped.add(name)
                items.append(item)
        if items:
            helper.send(items)

    def _item(self, name: str, shipped: ParsedModel | None) -> Item | None:
        """What the helper needs to compile ``name``, or None when it stays for this process:
        its SQL work needs more than its upstream relations and columns (partition filters,
        file scans, rendering at run time), or its plan is a user error."""
        plan = self._plan(name)
        if plan is None:
            return None
        compiler = self.compiler
        model = compiler.parsed[name]
        upstream = {r.asset for rs in plan.refs.values() for r in rs if r.asset != SELF}
        if plan.filters or any(compiler.scan(model, a) is not None for a in upstream):
            return None
        sent = self.helper.sent
        new = {a: slim_node(compiler.nodes[a]) for a in sorted(upstream - sent)}
        return (self._index[name], name, plan.relation, plan.refs, new, shipped)

    def _plan(self, name: str) -> ModelPlan | None:
        """``name``'s plan, made ahead of its turn (its parents are compiled), or None."""
        plan = self.plans.get(name)
        if plan is not None:
            return plan
        compiler = self.compiler
        model = compiler.parsed[name]
        if model.recording.uses_warehouse or PARSE_ERROR in model.extra:
            return None
        try:
            plan = compiler.plan(model)
            upstream = {r.asset for rs in plan.refs.values() for r in rs if r.asset != SELF}
            if any(a not in compiler.nodes for a in upstream):
                return None
        except UserError:
            return None  # compile_model meets it again in its turn, and reports it
        self.plans[name] = plan
        return plan

    def result(self, name: str) -> dict[str, Any] | None:
        """``name``'s compiled SQL when it was compiled ahead of its turn (here or there),
        else None: compile it here now.

        While the helper compiles it, this process compiles its own ready models (the first
        in order: it needs them next), or takes back from the helper the last model sent there
        that it has the tree of; it waits only when there is neither.
        """
        done = self._done.pop(name, None)
        if done is not None:
            return done
        helper = self.helper
        self._drop_from_pool(name)
        while name in helper.outstanding and not helper.closed:
            helper.poll()
            if name not in helper.outstanding:
                break
            if self._pool:
                _, other = self._pool.pop(0)
                self._compile_ahead(other)
                continue
            stolen = self._last_shipped(name)
            if stolen is None:
                break
            helper.cancel(stolen)
            self._compile_ahead(stolen)
        return helper.result(name)

    def _drop_from_pool(self, name: str) -> None:
        i = bisect.bisect_left(self._pool, (self._index[name], name))
        if i < len(self._pool) and self._pool[i][1] == name:
            del self._pool[i]

    def _last_shipped(self, waited: str) -> str | None:
        """The last in order of the models sent to the helper that this process parsed, if it
        comes after ``waited`` (the helper, working in order, has not started it)."""
        candidates = [n for n in self.helper.outstanding if n in self._shipped and n != waited]
        if not candidates:
            return None
        last = max(candidates, key=self._index.__getitem__)
        return last if self._index[last] > self._index[waited] else None

    def _compile_ahead(self, name: str) -> None:
        """Compile ``name``'s SQL here before its turn; on any error leave it for its turn
        (which reports it), with its tree dropped (the turn parses the text again)."""
        plan = self._plan(name)
        if plan is None:
            return
        compiler = self.compiler
        model = compiler.parsed[name]
        try:
            self._done[name] = compiler._compile_sql(model, plan.relation, plan.refs, plan.filters)
        except Exception:  # noqa: BLE001 - reported in its turn
            model.full.query = model.full.tables = None
            if model.incremental is not None:
                model.incremental.query = model.incremental.tables = None


def _without_trees(model: ParsedModel) -> ParsedModel:
    """``model`` without its parsed trees (what is sent to the helper: it parses the text)."""
    inc = model.incremental
    return replace(
        model,
        full=replace(model.full, query=None, tables=None),
        incremental=replace(inc, query=None, tables=None) if inc is not None else None,
    )


class HelperCompiler(SqlCompiler):
    """The compiler in the helper process (orch.compiler.helper): it is sent only models that
    read no files, and upstream nodes slimmed to their relations and columns."""

    def scan(self, model: ParsedModel, asset: str) -> exp.Expr | None:
        return None


def start_helper(
    project: Project, renderer: Renderer, cache: ResultCache, names: set[str] | None
) -> CompileHelper | None:
    """A helper process for a big cold compile of everything, else None."""
    if names is not None or not helper_wanted(project, cache):
        return None
    dialect = target_dialect(project)

    def factory(parsed: dict[str, ParsedModel]) -> HelperCompiler:
        return HelperCompiler(project, ModelSettings(project, dialect), dialect)

    return CompileHelper(project, renderer, factory)
