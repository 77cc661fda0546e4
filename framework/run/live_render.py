"""Render models that query the warehouse while rendering, right before they run (dbt's way).

A model whose template calls ``run_query``, a ``statement`` block, ``load_result``,
``adapter.get_columns_in_relation``, ``adapter.get_relation``, ``load_relation`` or reads
``execute`` is marked ``rendered_at_run_time`` by the load (where ``execute`` is False, as in
dbt's parse: its dependencies come from that render). The run stage renders it again with
``execute`` True, through the adapter, just before its step runs — in DAG order, so its
upstream relations exist — and the step materializes that SQL. ``ref``/``source``/``this`` then
render as the real relations (an ephemeral upstream is refused at compile time). Column lineage
of such a model is unknown in the manifest (nothing was queried when it was compiled).
"""

from __future__ import annotations

import collections.abc
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch.adapters import get_adapter
from orch.adapters.base import Adapter
from orch.compiler.lineage import column_lineage, output_columns
from orch.compiler.models import make_renderer, prepend_ctes
from orch.errors import ModelFailedError, OrchError
from orch.load.introspection import GRAPH_KEYS, LiveWarehouse, RelationValue
from orch.load.project import Project
from orch.load.rendering import LiveBinding, Renderer
from orch.manifest import CheckNode, ColumnInfo, ColumnRef, HookSql, Manifest, Node
from orch.names import Relation
from orch.sql import expand_and_qualify, parse_query, qualify_tables, table_references, transpile
from sqlglot import exp

StepFunction = Callable[[Node, Any], Any]


class AdapterWarehouse:
    """:class:`orch.load.introspection.Warehouse` through the adapter interface."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self._database: str | None = None
        self._database_known = False

    def database(self, database: str | None) -> str | None:
        """``database``, or the connection's current one when None (``this.database``)."""
        return self._db(database)

    def _db(self, database: str | None) -> str | None:
        if database:
            return database
        if not self._database_known:
            self._database = self.adapter.current_database()
            self._database_known = True
        return self._database

    def columns(self, database: str | None, schema: str, name: str) -> list[tuple[str, str]]:
        """The relation's (column name, type) pairs."""
        relation = Relation(database or None, schema, name)
        return [(c.name, c.data_type) for c in self.adapter.columns(relation)]

    def relation_type(self, database: str | None, schema: str, name: str) -> str | None:
        """'table', 'view' or None."""
        return self.adapter.relation_type(Relation(database or None, schema, name))

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The query's column names and rows."""
        return self.adapter.fetch_table(sql)

    def execute(self, sql: str) -> None:
        """Run a statement."""
        self.adapter.execute(sql)

    def render(self, database: str | None, schema: str, name: str) -> str:
        """``"db"."schema"."name"``, with the current database when none is given (as dbt)."""
        return self.adapter.render(Relation(self._db(database), schema, name))


class ProjectGraph(collections.abc.Mapping[str, Any]):
    """dbt's ``graph`` at run time: the flat graph of the project (``graph.nodes``,
    ``graph.sources``, ``graph.exposures``...: each node as ``manifest.json`` writes it), made
    on first use — most run-time renders never read it."""

    def __init__(self, project: Project, manifest: Manifest) -> None:
        self._project = project
        self._manifest = manifest
        self._graph: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._graph is None:
            from orch.compiler.dbt_artifacts import dbt_manifest

            written = dbt_manifest(self._manifest, self._project)
            self._graph = {key: written.get(key, {}) for key in GRAPH_KEYS}
        return self._graph

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def node(self, unique_id: str) -> Any:
        """The node of the graph with this unique_id (what its id says when there is none);
        the graph is made only when the template reads the node."""
        return _LazyNode(self, unique_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


# what every dbt RunResult has, when orch's result for that node does not say it
_RESULT_DEFAULTS: dict[str, Any] = {
    "failures": None, "message": None, "adapter_response": {}, "timing": [],
    "thread_id": "Thread-1", "execution_time": 0.0,
}  # fmt: skip


class _LazyNode(collections.abc.Mapping[str, Any]):
    """dbt's ``model`` at run time (``model.config.materialized``, ``model.unique_id``...): the
    node of :class:`ProjectGraph`, looked up on first use."""

    def __init__(self, graph: ProjectGraph, unique_id: str) -> None:
        self._graph = graph
        self._unique_id = unique_id

    def _node(self) -> dict[str, Any]:
        found: dict[str, Any] | None = self._graph["nodes"].get(self._unique_id)
        if found is None:  # not one of dbt's nodes: what its id says
            kind, _, rest = self._unique_id.partition(".")
            return {"unique_id": self._unique_id, "resource_type": kind,
                    "name": rest.split(".")[1] if "." in rest else rest}  # fmt: skip
        return found

    def __getitem__(self, key: str) -> Any:
        return self._node()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._node())

    def __len__(self) -> int:
        return len(self._node())


class LiveRenderer:
    """Renders the run-time models of one run (one Renderer, one render at a time)."""

    def __init__(self, project: Project, manifest: Manifest, command: str) -> None:
        self.project = project
        self.manifest = manifest
        self.command = command
        self.graph = ProjectGraph(project, manifest)
        self._renderer: Renderer | None = None
        self._lock = threading.Lock()
        self._sources = {
            (n.source_name, n.source_table): n
            for n in manifest.nodes.values()
            if n.resource_type == "source"
        }

    def wrap(self, step: StepFunction) -> StepFunction:
        """``step`` that first renders a run-time model (other nodes pass through)."""

        def run(node: Node, ctx: Any) -> Any:
            if node.rendered_at_run_time:
                node = self.render(node, ctx.adapter)
                self._write_compiled(node)
            return step(node, ctx)

        return run

    def _write_compiled(self, node: Node) -> None:
        """The SQL that runs, at ``target/compiled/<path>`` (as ``orch compile`` writes it)."""
        if not node.path:
            return
        out = (self.project.target_dir / "compiled" / node.path).with_suffix(".sql")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(node.compiled_code.rstrip() + "\n", encoding="utf-8")

    def render(self, node: Node, adapter: Adapter) -> Node:
        """``node`` with its SQL rendered against the warehouse now.

        Raises ModelFailedError with the template's file:line when the render fails.
        """
        with self._lock:
            if self._renderer is None:
                self._renderer = make_renderer(self.project)
            warehouse = AdapterWarehouse(adapter)
            try:
                full = self._render(node, warehouse, incremental=False)
                inc = None
                if node.compiled_code_incremental is not None:
                    inc = self._render(node, warehouse, incremental=True)
            except OrchError as err:
                raise ModelFailedError(
                    f"rendering '{node.name}' at run time failed: {err.format_message()}"
                ) from None
        return node.model_copy(update={"compiled_code": full, "compiled_code_incremental": inc})

    def _render(self, node: Node, warehouse: AdapterWarehouse, *, incremental: bool) -> str:
        assert self._renderer is not None
        live = LiveWarehouse(warehouse, self.command, self.graph)
        binding = LiveBinding(
            warehouse=live,
            ref=lambda *args, **kwargs: self._relation(self._ref_node(node, args), live, warehouse),
            source=lambda s, t: self._relation(self._source_node(node, s, t), live, warehouse),
            this=self._relation(node, live, warehouse),
            model=self.graph.node(node.unique_id) if self.project.flavor == "dbt" else None,
        )
        text = self._renderer.render_live(
            node.raw_code,
            node.path or node.name,
            binding,
            incremental=incremental,
            node=node.name,
        )
        text = text.strip()
        project_dialect = self.manifest.project.dialect
        target = self.manifest.project.target_dialect
        if project_dialect != target:
            query = parse_query(text, project_dialect, node.path or node.name)
            text = transpile(query, target, node.path or node.name, source=project_dialect)
        return text

    def hook_renderer(
        self, adapter: Adapter
    ) -> Callable[[HookSql, Node | None, list[dict[str, Any]]], str]:
        """Renders hooks that query the warehouse, as dbt renders every hook when it runs:
        ``execute`` True, ``this`` the model's relation, ``graph``; a ``statement`` block runs
        while rendering, the text left is the hook's SQL."""

        def render(hook: HookSql, node: Node | None, results: list[dict[str, Any]]) -> str:
            with self._lock:
                if self._renderer is None:
                    self._renderer = make_renderer(self.project)
                warehouse = AdapterWarehouse(adapter)
                live = LiveWarehouse(warehouse, self.command, self.graph)
                binding = LiveBinding(
                    warehouse=live,
                    ref=lambda *a, **_: self._relation(self._ref_node(node, a), live, warehouse),
                    source=lambda s, t: self._relation(
                        self._source_node(node, s, t), live, warehouse
                    ),
                    this=self._relation(node, live, warehouse) if node is not None else None,
                    model=self.graph.node(node.unique_id) if node is not None else None,
                    # dbt's RunResult: status, execution_time, message, failures... and node
                    context={
                        "results": [
                            self._run_result(r)
                            for r in results
                            if not r["unique_id"].startswith("operation.")
                        ]
                    },
                )
                try:
                    return self._renderer.render_live(hook.raw_code, hook.origin, binding).strip()
                except OrchError as err:
                    raise ModelFailedError(
                        f"rendering the hook in {hook.origin} at run time failed: "
                        f"{err.format_message()}"
                    ) from None

        return render

    def _run_result(self, result: dict[str, Any]) -> dict[str, Any]:
        """dbt's RunResult of a node, from its run_results.json entry, with ``node``."""
        return {**_RESULT_DEFAULTS, **result, "node": self.graph.node(result["unique_id"])}

    def render_check(self, check: CheckNode, adapter: Adapter) -> str:
        """The SQL of a test whose template queries the warehouse (``rendered_at_run_time``),
        rendered now; ``this`` is the asset it tests. Raises ModelFailedError on failure."""
        attached = self.manifest.nodes.get(check.asset or "")
        with self._lock:
            if self._renderer is None:
                self._renderer = make_renderer(self.project)
            warehouse = AdapterWarehouse(adapter)
            live = LiveWarehouse(warehouse, self.command, self.graph)
            origin = check.path or check.name
            ctes: list[tuple[str, str]] = []  # ephemeral models it ref()s, inlined as dbt does

            def relation(found: Node) -> RelationValue:
                if found.relation is not None:
                    return self._relation(found, live, warehouse)
                name = f"__orch_ephemeral_{found.name}"
                if (name, found.compiled_code) not in ctes:
                    ctes.append((name, found.compiled_code))
                return RelationValue(f'"{name}"', None, "", name, type="cte")

            try:
                binding = LiveBinding(
                    warehouse=live,
                    ref=lambda *a, **_: relation(self._ref_node(attached, a)),
                    source=lambda s, t: self._relation(
                        self._source_node(attached, s, t), live, warehouse
                    ),
                    this=relation(attached) if attached is not None else None,
                )
                text = self._renderer.render_live(check.raw_code, origin, binding).strip()
            except OrchError as err:
                raise ModelFailedError(
                    f"{origin}: rendering test '{check.name}' at run time failed: "
                    f"{err.format_message()}"
                ) from None
        project_dialect = self.manifest.project.dialect
        target = self.manifest.project.target_dialect
        if ctes:  # the ephemeral models' compiled SQL is in the target's dialect already
            query = parse_query(text, project_dialect, origin)
            if project_dialect != target:
                query = parse_query(transpile(query, target, origin, source=project_dialect),
                                    target, origin)  # fmt: skip
            return prepend_ctes(query, ctes, target).sql(dialect=target)
        if project_dialect != target:
            text = transpile(parse_query(text, project_dialect, origin), target, origin,
                             source=project_dialect)  # fmt: skip
        return text

    def _ref_node(self, node: Node | None, args: tuple[Any, ...]) -> Node:
        name = str(args[-1]) if args else ""
        found = self.manifest.nodes.get(name)
        if found is None:
            who = node.name if node else ""
            raise ModelFailedError(f"'{who}': ref('{name}') names no asset of the manifest")
        return found

    def _source_node(self, node: Node | None, source: str, table: str) -> Node:
        found = self._sources.get((source, table))
        if found is None:
            who = node.name if node else ""
            raise ModelFailedError(f"'{who}': source('{source}', '{table}') is not declared")
        return found

    @staticmethod
    def _relation(node: Node, live: LiveWarehouse, warehouse: AdapterWarehouse) -> RelationValue:
        if node.relation is None:
            raise ModelFailedError(
                f"'{node.name}' is ephemeral: a model rendered at run time cannot read it"
            )
        rel = node.relation.to_relation()
        kind = "view" if node.materialized == "view" else "table"
        # dbt's relation knows its database: the target's (dbt-duckdb: the file's stem)
        return live.relation(warehouse.database(rel.database), rel.schema, rel.name, kind)


@dataclass
class CompileRender:
    """What ``orch compile`` could do with the models rendered at run time."""

    rendered: list[str] = field(default_factory=list)  # rendered against the warehouse
    waiting: dict[str, list[str]] = field(default_factory=dict)  # model -> upstreams to build
    no_warehouse: bool = False

    def messages(self) -> list[str]:
        """One line per model, for the console."""
        lines = [f"{name}: rendered against the warehouse (it queries it while rendering)"
                 for name in self.rendered]  # fmt: skip
        for name, missing in self.waiting.items():
            if self.no_warehouse:
                why = "the warehouse does not exist yet"
            else:
                why = f"{', '.join(missing)} not built yet"
            lines.append(
                f"{name}: queries the warehouse while rendering and {why}: its SQL is dbt's "
                f"parse-time render; build its upstreams first (orch build -s +{name} "
                f"--exclude {name}), then compile again"
            )
        return lines


def render_for_compile(project: Project, manifest: Manifest, names: set[str]) -> tuple[
    Manifest, CompileRender
]:  # fmt: skip
    """Like ``dbt compile``: the run-time models among ``names`` rendered against the warehouse
    when it exists and their upstream relations are built; else which upstreams must be built.

    A DuckDB file that does not exist is not created.
    """
    outcome = CompileRender()
    todo = [n for n in manifest.topological_names()
            if n in names and manifest.nodes[n].rendered_at_run_time]  # fmt: skip
    if not todo:
        return manifest, outcome
    path = getattr(project.target, "path", None)
    if project.target.type == "duckdb" and path != ":memory:":
        adapter_probe = get_adapter(project.target, project.root)
        file = Path(getattr(adapter_probe, "database_path", "") or "")
        if not file.exists():
            outcome.no_warehouse = True
            outcome.waiting = {n: list(manifest.nodes[n].depends_on) for n in todo}
            return manifest, outcome
    live = LiveRenderer(project, manifest, "compile")
    nodes = dict(manifest.nodes)
    with get_adapter(project.target, project.root) as adapter:
        for name in todo:
            node = nodes[name]
            missing = [
                up for up in node.depends_on
                if (u := nodes.get(up)) is not None and u.relation is not None
                and not adapter.relation_exists(u.relation.to_relation())
            ]  # fmt: skip
            if missing:
                outcome.waiting[name] = missing
                continue
            rendered = live.render(node, adapter)
            nodes[name] = with_lineage(rendered, nodes, AdapterWarehouse(adapter),
                                       manifest.project.target_dialect)  # fmt: skip
            outcome.rendered.append(name)
    return manifest.model_copy(update={"nodes": nodes}), outcome


def with_lineage(
    node: Node, nodes: dict[str, Node], warehouse: AdapterWarehouse, dialect: str
) -> Node:
    """``node`` with the output columns and column lineage of its run-time SQL (the upstream
    columns as the warehouse reports them); unchanged when the SQL cannot be resolved."""
    path = node.path or node.name
    query = parse_query(node.compiled_code, dialect, path)
    owners = {}
    for other in nodes.values():
        if other.relation is not None and other.name != node.name:
            rel = other.relation.to_relation()
            owners[(rel.schema.lower(), rel.name.lower())] = (other.name, rel)
    assets: list[str] = []
    mapping: dict[str, exp.Table] = {}
    schema: dict[str, dict[str, str]] = {}
    for ref in table_references(query, node.compiled_code):
        found = owners.get(((ref.db or "").lower(), ref.name.lower()))
        if found is None:
            continue
        asset, rel = found
        if asset not in assets:
            assets.append(asset)
        alias = f"__asset_{assets.index(asset)}"
        mapping[ref.dotted] = exp.Table(this=exp.to_identifier(alias))
        schema[alias] = dict(warehouse.columns(rel.database, rel.schema, rel.name))
    qualified = expand_and_qualify(qualify_tables(query, mapping), schema, dialect)
    if qualified is None or output_columns(qualified) is None:
        return node

    def asset_of(table: exp.Table) -> str | None:
        if table.name.startswith("__asset_"):
            index = int(table.name[len("__asset_") :])
            return assets[index] if index < len(assets) else None
        return None

    lineage = column_lineage(qualified, asset_of)
    columns = {
        c: node.columns.get(c) or ColumnInfo(name=c) for c in output_columns(qualified) or []
    }
    return node.model_copy(update={
        "columns": columns,
        "column_lineage": {c: [ColumnRef(asset=a, column=k) for a, k in pairs]
                           for c, pairs in lineage.items()},
    })  # fmt: skip
