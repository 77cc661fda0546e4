"""Graphs, jobs and graph assets: tracing ``@graph`` functions into nodes and edges."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, overload

from orch.assets import ASSET_ATTR, AssetSpec, HookDefinition, hook_list
from orch.dag import DAG
from orch.errors import (
    CycleError,
    DuplicateNameError,
    Location,
    ProjectError,
    UnsupportedFeatureError,
    suggestion,
)
from orch.ops.definition import (
    RESULT,
    OpDefinition,
    OutputDef,
    RetryPolicy,
    _current_builder,
    _def_location,
    _trace,
    _user_location,
)

# --------------------------------------------------------------------------- graph tracing


class Source(NamedTuple):
    """Where a node's input comes from: ``kind`` is ``output`` (a node's output), ``collect``
    (every mapped value of a node's output, as a list), ``input`` (a graph input; ``node`` holds
    its name) or ``asset`` (an asset of the project; ``node`` holds its name)."""

    kind: str
    node: str
    output: str = RESULT


@dataclass
class Node:
    """One op invocation in a graph."""

    name: str
    op: OpDefinition
    inputs: dict[str, Source]
    location: Location
    mapped_by: Source | None = None  # the dynamic output this node runs once per value of

    @property
    def upstream(self) -> list[str]:
        """Names of the nodes this one reads from."""
        return [s.node for s in self.inputs.values() if s.kind in ("output", "collect")]


class OutputHandle:
    """A not-yet-computed output of a node (what calling an op inside a graph returns)."""

    __slots__ = ("_builder", "_node", "_output", "_mapped_by")

    def __init__(self, builder: _Builder, node: str, output: str, mapped_by: Source | None) -> None:
        self._builder = builder
        self._node = node
        self._output = output
        self._mapped_by = mapped_by

    def collect(self) -> _CollectHandle:
        """All values of this mapped (or dynamic) output, as one list input downstream."""
        if self._mapped_by is None and not isinstance(self, DynamicHandle):
            raise self._misuse("collect() is only for a mapped or dynamic output")
        return _CollectHandle(self._node, self._output)

    def _misuse(self, what: str) -> ProjectError:
        return ProjectError(
            f"graph '{self._builder.name}': the output '{self._output}' of op '{self._node}' "
            f"{what}",
            location=_user_location(3),
            hint="Inside a graph, ops are only called and their outputs passed to other ops; "
            "use the value inside an op",
        )

    def __bool__(self) -> bool:
        raise self._misuse("has no value while the graph is defined (it cannot be tested)")

    def __iter__(self) -> Iterator[Any]:
        raise self._misuse("has no value while the graph is defined (it cannot be iterated)")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._misuse(f"has no value while the graph is defined (no attribute '{name}')")

    def __repr__(self) -> str:
        return f"<output {self._node}.{self._output}>"


class DynamicHandle(OutputHandle):
    """A dynamic output: ``.map(fn)`` calls ops once per value, ``.collect()`` lists them."""

    __slots__ = ()

    def map(self, fn: Callable[[OutputHandle], Any]) -> Any:
        """Trace ``fn`` with one mapped value: the ops it calls run once per mapping key."""
        if self._mapped_by is not None:
            raise self._misuse("is dynamic inside a mapped branch; nested mapping is not supported")
        mapped = OutputHandle(
            self._builder, self._node, self._output, Source("output", self._node, self._output)
        )
        return fn(mapped)


@dataclass(frozen=True)
class _CollectHandle:
    node: str
    output: str


class _GraphInput:
    """A graph's parameter while the graph is traced on its own."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Builder:
    """Records the nodes of one graph while its function is traced."""

    def __init__(self, name: str, prefix: str = "", parent: _Builder | None = None) -> None:
        self.name = name
        self.prefix = prefix
        self.parent = parent
        self.nodes: dict[str, Node] = parent.nodes if parent else {}
        self.counts: dict[str, int] = parent.counts if parent else {}

    def _node_name(self, base: str) -> str:
        full = f"{self.prefix}{base}"
        n = self.counts.get(full, 0) + 1
        self.counts[full] = n
        return full if n == 1 else f"{full}_{n}"

    def add(
        self,
        definition: OpDefinition,
        alias: str | None,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
    ) -> Any:
        where = _user_location(3)
        name = self._node_name(alias or definition.name)
        ins = [n for n in definition.ins if definition.ins[n].asset is None]
        if len(args) > len(ins):
            raise ProjectError(
                f"graph '{self.name}': op '{definition.name}' takes {len(ins)} input(s) "
                f"({', '.join(ins) or 'none'}) but was called with {len(args)}",
                location=where,
            )
        given = dict(zip(ins, args, strict=False))
        for key, value in kwargs.items():
            if key not in definition.ins:
                raise ProjectError(
                    f"graph '{self.name}': op '{definition.name}' has no input '{key}'",
                    location=where,
                    hint=suggestion(key, definition.ins)
                    or f"Its inputs are: {', '.join(definition.ins) or 'none'}",
                )
            if key in given:
                raise ProjectError(
                    f"graph '{self.name}': input '{key}' of op '{definition.name}' is given twice",
                    location=where,
                )
            given[key] = value
        sources: dict[str, Source] = {}
        mapped: Source | None = None
        for iname, idef in definition.ins.items():
            if idef.asset is not None:
                sources[iname] = Source("asset", idef.asset)
                continue
            if iname not in given:
                if idef.has_default:
                    continue
                raise ProjectError(
                    f"graph '{self.name}': input '{iname}' of op '{definition.name}' is not "
                    "connected",
                    location=where,
                    hint=f"Pass it the output of another op: {definition.name}({iname}=...), "
                    "or give the parameter a default",
                )
            source, m = self._source_of(given[iname], iname, definition.name, where)
            if m is not None:
                if mapped is not None and m != mapped:
                    raise UnsupportedFeatureError(
                        f"graph '{self.name}': op '{definition.name}' reads two different "
                        "mapped outputs; a step maps over one dynamic output",
                        location=where,
                    )
                mapped = m
            sources[iname] = source
        if mapped is not None and definition.dynamic_outputs:
            raise UnsupportedFeatureError(
                f"graph '{self.name}': op '{definition.name}' has a dynamic output inside a "
                "mapped branch; nested mapping is not supported",
                location=where,
                hint="Collect the first mapping before fanning out again",
            )
        self.nodes[name] = Node(name, definition, sources, where, mapped)
        handles = [
            (DynamicHandle if o.dynamic else OutputHandle)(self, name, o.name, mapped)
            for o in definition.outs.values()
        ]
        if not handles:
            return None
        if definition.single_result:
            return handles[0]
        return _outputs_tuple(definition.outs)(*handles)

    def _source_of(
        self, value: Any, iname: str, op_name: str, where: Location
    ) -> tuple[Source, Source | None]:
        if isinstance(value, OutputHandle):
            if value._builder.nodes is not self.nodes:
                raise ProjectError(
                    f"graph '{self.name}': input '{iname}' of op '{op_name}' is an output of "
                    "another graph",
                    location=where,
                )
            return Source("output", value._node, value._output), value._mapped_by
        if isinstance(value, _CollectHandle):
            return Source("collect", value.node, value.output), None
        if isinstance(value, _GraphInput):
            return Source("input", value.name), None
        if isinstance(value, _BoundInput):
            return value.source, value.mapped_by
        raise ProjectError(
            f"graph '{self.name}': input '{iname}' of op '{op_name}' is given a "
            f"{type(value).__name__} value, not an op's output",
            location=where,
            hint="A graph only calls ops (and graphs) and passes their outputs on; compute "
            "plain values inside an op, or pass settings as op config",
        )


@dataclass(frozen=True)
class _BoundInput:
    """A sub-graph's input bound to its caller's source, while the sub-graph is inlined."""

    source: Source
    mapped_by: Source | None


@functools.cache
def _outputs_tuple_for(names: tuple[str, ...]) -> Any:
    return namedtuple("Outputs", names, rename=True)  # type: ignore[misc]  # noqa: PYI024


def _outputs_tuple(outs: Mapping[str, OutputDef]) -> Any:
    return _outputs_tuple_for(tuple(outs))


# --------------------------------------------------------------------------- graph


@dataclass(eq=False)
class GraphDefinition:
    """A traced graph: its nodes (in a valid execution order), inputs and outputs."""

    name: str
    nodes: dict[str, Node]
    inputs: list[str]
    outputs: dict[str, Source]
    location: Location
    fn: Callable[..., Any] | None = None
    description: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = _current_builder()
        if builder is None or self.fn is None:
            raise ProjectError(
                f"graph '{self.name}' is called outside a graph",
                location=_user_location(),
                hint="Run it as a job: graph.to_job().execute_in_process(), or call it inside "
                "another @graph",
            )
        where = _user_location()
        bound = dict(zip(self.inputs, args, strict=False))
        bound.update(kwargs)
        missing = [i for i in self.inputs if i not in bound]
        if missing:
            raise ProjectError(
                f"graph '{builder.name}': graph '{self.name}' is called without input "
                f"'{missing[0]}'",
                location=where,
            )
        bound_args = []
        for iname in self.inputs:
            source, mapped = builder._source_of(bound[iname], iname, self.name, where)
            bound_args.append(_BoundInput(source, mapped))
        child = _Builder(builder.name, prefix=f"{builder._node_name(self.name)}.", parent=builder)
        return _trace(child, self.fn, bound_args)

    @property
    def ops(self) -> dict[str, OpDefinition]:
        """The op definitions the graph uses, by op name."""
        return {n.op.name: n.op for n in self.nodes.values()}

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(upstream node, downstream node) pairs."""
        return [(u, n.name) for n in self.nodes.values() for u in n.upstream]

    def to_job(
        self,
        name: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        retry_policy: RetryPolicy | None = None,
        io_manager: str = "objects",
    ) -> JobDefinition:
        """A job running this graph, with default run config, resources and tags."""
        if self.inputs:
            raise UnsupportedFeatureError(
                f"graph '{self.name}' has inputs ({', '.join(self.inputs)}), so it cannot be a job",
                location=self.location,
                hint="A job's graph starts from ops without inputs; read data in a first op",
            )
        return JobDefinition(
            name or self.name,
            self,
            dict(config or {}),
            dict(resources or {}),
            dict(tags or {}),
            description or self.description,
            retry_policy,
            _user_location() if name else self.location,
            io_manager,
        )

    @classmethod
    def from_dependencies(
        cls,
        name: str,
        ops: Sequence[OpDefinition],
        dependencies: Mapping[str, Mapping[str, str]],
    ) -> GraphDefinition:
        """A graph from explicit edges: ``{"node": {"input": "upstream_node[.output]"}}``.

        The order of execution comes from the edges; a cycle is an error naming it.
        """
        where = _user_location()
        by_name = {o.name: o for o in ops}
        nodes: dict[str, Node] = {}
        for o in ops:
            wired = dependencies.get(o.name, {})
            sources: dict[str, Source] = {}
            for iname, idef in o.ins.items():
                if idef.asset is not None:
                    sources[iname] = Source("asset", idef.asset)
                elif iname in wired:
                    up, _, out = wired[iname].partition(".")
                    if up not in by_name:
                        raise ProjectError(
                            f"graph '{name}': input '{iname}' of op '{o.name}' reads unknown op "
                            f"'{up}'",
                            location=where,
                            hint=suggestion(up, by_name) or "Add the op to ops=",
                        )
                    sources[iname] = Source("output", up, out or RESULT)
                elif not idef.has_default:
                    raise ProjectError(
                        f"graph '{name}': input '{iname}' of op '{o.name}' is not connected",
                        location=where,
                    )
            for iname in set(wired) - set(o.ins):
                raise ProjectError(
                    f"graph '{name}': op '{o.name}' has no input '{iname}'",
                    location=where,
                    hint=suggestion(iname, o.ins) or f"Its inputs are: {', '.join(o.ins)}",
                )
            nodes[o.name] = Node(o.name, o, sources, where)
        for unknown in set(dependencies) - set(by_name):
            raise ProjectError(
                f"graph '{name}': dependencies name unknown op '{unknown}'",
                location=where,
                hint=suggestion(unknown, by_name),
            )
        order = _topological(name, nodes, where)
        return cls(name, {n: nodes[n] for n in order}, [], {}, where)


def _topological(name: str, nodes: Mapping[str, Node], where: Location) -> list[str]:
    dag: DAG[str] = DAG({n: node.upstream for n, node in nodes.items()})
    cycle = dag.find_cycle()
    if cycle:
        raise CycleError(
            f"graph '{name}' has a cycle: {' -> '.join(cycle)}",
            location=where,
            hint="An op cannot depend on its own output, directly or through others",
        )
    return [n for n in dag.topological_order() if n in nodes]


def _outputs_of(graph_name: str, value: Any, where: Location) -> dict[str, Source]:
    if value is None:
        return {}
    if isinstance(value, OutputHandle):
        return {RESULT: Source("output", value._node, value._output)}
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            out.update({str(k): s for s in _outputs_of(graph_name, v, where).values()})
        return out
    if isinstance(value, tuple) and all(isinstance(v, OutputHandle) for v in value):
        return {f"result_{i}": Source("output", v._node, v._output) for i, v in enumerate(value)}
    raise ProjectError(
        f"graph '{graph_name}' returns a {type(value).__name__}, not op outputs",
        location=where,
        hint="Return an op's output (or a dict of them), or nothing",
    )


def _build_graph(
    fn: Callable[..., Any], name: str | None, description: str | None
) -> GraphDefinition:
    graph_name = name or fn.__name__
    where = _def_location(fn)
    params = list(inspect.signature(fn).parameters)
    builder = _Builder(graph_name)
    returned = _trace(builder, fn, [_GraphInput(p) for p in params])
    outputs = _outputs_of(graph_name, returned, where)
    _check_graph(graph_name, builder.nodes, where)
    return GraphDefinition(
        graph_name, dict(builder.nodes), params, outputs, where, fn,
        description or inspect.getdoc(fn),
    )  # fmt: skip


def _check_graph(name: str, nodes: Mapping[str, Node], where: Location) -> None:
    if not nodes:
        raise ProjectError(
            f"graph '{name}' calls no op",
            location=where,
            hint="Call @op functions inside the graph's function",
        )
    _topological(name, nodes, where)


@overload
def graph(fn: Callable[..., Any]) -> GraphDefinition: ...


@overload
def graph(
    fn: None = None, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], GraphDefinition]: ...


def graph(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> GraphDefinition | Callable[[Callable[..., Any]], GraphDefinition]:
    """Compose ops: the function calls ops (and graphs) and passes their outputs on.

    The structure is traced now; nothing runs until the graph runs as a job.
    """

    def decorate(func: Callable[..., Any]) -> GraphDefinition:
        return _build_graph(func, name, description)

    return decorate(fn) if fn is not None else decorate


# --------------------------------------------------------------------------- job


@dataclass(eq=False)
class JobDefinition:
    """A graph with its default run config, resources and tags: what ``orch job run`` runs."""

    name: str
    graph: GraphDefinition
    config: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    retry_policy: RetryPolicy | None = None  # for ops without their own
    location: Location = field(default_factory=lambda: Location("<unknown>"))
    io_manager: str = "objects"  # stores outputs under orch job run (in process: memory)
    hooks: list[HookDefinition] = field(default_factory=list)  # after every op step

    def execute_in_process(
        self,
        run_config: Mapping[str, Any] | None = None,
        *,
        resources: Mapping[str, Any] | None = None,
        assets: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        raise_on_error: bool = True,
        run_id: str | None = None,
    ) -> Any:
        """Run the job in this process, values kept in memory; returns the run's result.

        Args:
            run_config: ``{"ops": {"node": {"config": {...}}}}`` over the job's defaults.
            resources: resource objects by name (over the job's).
            assets: values of the assets ops read (``In(asset=...)``), by asset name.
            raise_on_error: raise the first step failure (as ``OpFailedError``) instead of
                returning a failed result.

        Returns:
            An :class:`orch.run.ops.OpJobResult`: ``success``, ``output_for(node, output)``,
            ``step_statuses``, ``events``.
        """
        # The run layer sits above this definition layer: it is imported when a job runs.
        engine = importlib.import_module("orch.run.ops")
        return engine.execute_in_process(
            self, run_config=run_config, resources=resources, assets=assets, tags=tags,
            raise_on_error=raise_on_error, run_id=run_id,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<job {self.name}>"


@overload
def job(fn: Callable[..., Any]) -> JobDefinition: ...


@overload
def job(
    fn: None = None,
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    retry_policy: RetryPolicy | None = None,
    io_manager: str = "objects",
    hooks: Iterable[HookDefinition] | None = None,
) -> Callable[[Callable[..., Any]], JobDefinition]: ...


def job(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    retry_policy: RetryPolicy | None = None,
    io_manager: str = "objects",
    hooks: Iterable[HookDefinition] | None = None,
) -> JobDefinition | Callable[[Callable[..., Any]], JobDefinition]:
    """A job from a graph function (``@job`` is ``@graph`` then ``to_job``).

    Args:
        config: default run config, ``{"ops": {"node": {"config": {...}}}}``.
        resources: resource objects by name (a project's ``resources:`` fill the others).
        tags: the run's tags (``--tags k=v`` adds to them).
        retry_policy: the retry policy of every op that has none of its own.
        io_manager: the IO manager storing outputs under ``orch job run`` (``objects``: pickle
            files in the run's folder); an output's ``Out(io_manager=...)`` overrides it.
        hooks: ``@success_hook`` / ``@failure_hook`` functions called after every op step
            (after the op's own hooks).
    """

    def decorate(func: Callable[..., Any]) -> JobDefinition:
        built = _build_graph(func, name, description)
        if built.inputs:
            raise UnsupportedFeatureError(
                f"job '{built.name}' has parameters ({', '.join(built.inputs)})",
                location=built.location,
                hint="A job's function takes no parameters; read data in a first op",
            )
        return JobDefinition(
            built.name, built, dict(config or {}), dict(resources or {}), dict(tags or {}),
            built.description, retry_policy, built.location, io_manager,
            hook_list(hooks, f"job '{built.name}'"),
        )  # fmt: skip

    return decorate(fn) if fn is not None else decorate


# --------------------------------------------------------------------------- graph assets


def graph_asset(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    **asset_options: Any,
) -> Any:
    """An asset computed by a graph of ops (fetch → clean → publish).

    The function's parameters are upstream assets (as for ``@asset``), passed to the graph as its
    inputs; it returns the output of the op that produces the asset's value (a data frame).
    ``asset_options`` are ``@asset``'s (``partitioned_by``, ``tags``, ...).
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        built = _build_graph(func, name, description)
        if len(built.outputs) != 1:
            raise ProjectError(
                f"graph asset '{built.name}' must return exactly one op output",
                location=built.location,
                hint="Return the output of the op that computes the asset",
            )
        wrapper_job = JobDefinition(built.name, built, location=built.location)

        @functools.wraps(func)
        def compute(**inputs: Any) -> Any:
            # The run layer sits above this definition layer: it is imported when the asset runs.
            engine = importlib.import_module("orch.run.ops")
            return engine.run_graph_asset(wrapper_job, inputs)

        compute.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
        compute.__orch_graph__ = built  # type: ignore[attr-defined]
        options = {k: v for k, v in asset_options.items() if v is not None}
        deps = list(options.pop("deps", []) or [])
        checks = list(options.pop("checks", []) or [])
        columns = dict(options.pop("columns", {}) or {})
        setattr(
            compute,
            ASSET_ATTR,
            AssetSpec(built.name, compute, deps, options, built.description, columns, checks),
        )
        return compute

    return decorate(fn) if fn is not None else decorate


# --------------------------------------------------------------------------- collecting


def definitions_in(values: Mapping[str, Any], path: Path) -> list[Any]:
    """The op, graph and job definitions among a module's values that ``path`` defines."""
    found = []
    target = str(path.resolve())
    for value in values.values():
        if isinstance(value, (OpDefinition, GraphDefinition, JobDefinition)):
            where = value.location.path
            if where and str(Path(where).resolve()) == target:
                found.append(value)
    return found


def check_unique(definitions: Sequence[tuple[Any, Location]], kind: str) -> dict[str, Any]:
    """Definitions by name; two of one kind with one name is a DuplicateNameError."""
    out: dict[str, tuple[Any, Location]] = {}
    for definition, where in definitions:
        if definition.name in out and out[definition.name][0] is not definition:
            raise DuplicateNameError(
                f"two {kind}s are named '{definition.name}': at {out[definition.name][1]} and "
                f"{where}",
                location=where,
                hint=f"Rename one (name= in @{kind}, or the function)",
            )
        out[definition.name] = (definition, where)
    return {k: v[0] for k, v in out.items()}
