"""The compiler's side of the helper process (orch.compiler.helper): which models it compiles,
when they are sent, and the compiler it runs.

The helper compiles the models it parsed and three in four of those parsed here; a model is sent
once all its parents are compiled here, with its plan made here (kept for
:meth:`ManifestCompiler.compile_model`), and its result is taken in DAG order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orch.compiler.graph import SELF
from orch.compiler.helper import CompileHelper, slim_node
from orch.compiler.helper import wanted as helper_wanted
from orch.compiler.model_sql import SqlCompiler
from orch.compiler.settings import ModelSettings, target_dialect
from orch.errors import UserError
from orch.load.cache import ResultCache
from orch.load.parsing import ParsedModel
from orch.load.project import Project
from orch.load.rendering import Renderer
from sqlglot import exp

if TYPE_CHECKING:
    from orch.compiler.manifest_compiler import ManifestCompiler, ModelPlan


class HelperFeed:
    """Feeds a :class:`CompileHelper` the models it compiles for ``compiler``."""

    def __init__(self, compiler: ManifestCompiler, helper: CompileHelper) -> None:
        self.compiler = compiler
        self.helper = helper
        self.plans: dict[str, ModelPlan] = {}  # planned for the helper, not compiled yet
        self._remote: set[str] = set()  # sent to the helper
        self._waiting: dict[str, int] = {}  # the helper's models -> parents not compiled yet
        self._ready: list[str] = []  # the helper's models whose parents are all compiled
        self._shipped: set[str] = set()  # parsed here, compiled by the helper

    def start(self) -> None:
        """Count, for each model the helper compiles, the parents it waits for: the models it
        parsed, and three in four of those parsed here (shipped with their text)."""
        graph = self.compiler.graph
        owned = self.helper.owned
        here = [n for n in graph.order if n in self.compiler.parsed and n not in owned]
        self._shipped = set(here) - set(here[::4])
        for name in graph.order:
            if name in owned or name in self._shipped:
                left = len(graph.dag.parents(name))
                if left:
                    self._waiting[name] = left
                else:
                    self._ready.append(name)

    def node_done(self, name: str) -> None:
        """``name`` is compiled here: its children waiting for it wait for one parent less."""
        for child in self.compiler.graph.dag.children(name):
            left = self._waiting.get(child)
            if left == 1:
                del self._waiting[child]
                self._ready.append(child)
            elif left is not None:
                self._waiting[child] = left - 1

    def feed(self) -> None:
        """Send the helper every model of its that is ready, unless a batch is outstanding.

        A model is sent with its plan made here (kept for :meth:`compile_model`) when its SQL
        work needs nothing but its upstream relations and columns; the others (a user error in
        the plan, partition filters, file scans, rendering at run time) stay for this process.
        """
        helper = self.helper
        compiler = self.compiler
        helper.poll()
        if helper.busy or not self._ready:
            return
        items = []
        for name in self._ready:
            model = compiler.parsed[name]
            if model.recording.uses_warehouse:
                continue
            try:
                plan = compiler.plan(model)
                upstream = {r.asset for rs in plan.refs.values() for r in rs if r.asset != SELF}
                if plan.filters or any(
                    a not in compiler.nodes or compiler.scan(model, a) is not None for a in upstream
                ):
                    continue
            except UserError:
                continue  # compile_model meets it again in its turn, and reports it
            self.plans[name] = plan
            self._remote.add(name)
            new = {a: slim_node(compiler.nodes[a]) for a in sorted(upstream - helper.sent)}
            shipped = _without_trees(model) if name in self._shipped else None
            items.append((name, plan.relation, plan.refs, new, shipped))
        self._ready = []
        if items:
            helper.send(items)

    def result(self, name: str) -> dict[str, Any] | None:
        """``name``'s compiled SQL when it was sent to the helper (waiting for it), else None:
        compile it here (also when the helper could not)."""
        if name not in self._remote:
            return None
        self._remote.discard(name)
        return self.helper.result(name)


def _without_trees(model: ParsedModel) -> ParsedModel:
    """``model`` without its parsed trees (what is sent to the helper: it parses the text)."""
    inc = model.incremental
    return replace(
        model,
        full=replace(model.full, query=None),
        incremental=replace(inc, query=None) if inc is not None else None,
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
