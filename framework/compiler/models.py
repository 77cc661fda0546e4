"""Compile a project for a target: relations, target-dialect SQL, column lineage, fingerprints.

``compile_project`` is the whole front half of orch: load → parse → resolve → compile → manifest.
When the target speaks the project's dialect, compiled SQL is the user's rendered SQL with only the
table names replaced (their formatting and comments survive, so warehouse error lines make sense);
otherwise sqlglot transpiles it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orch
from orch import redaction
from orch.compiler import hooks
from orch.compiler import python as python_models
from orch.compiler.artifacts import CompiledFilesWriter, CompileResult, project_key
from orch.compiler.check_specs import (
    SingularCheck,
    collect_specs,
    generic_test_uses,
    parse_singular_checks,
)
from orch.compiler.checks import compile_checks
from orch.compiler.dbt_python import compile_dbt_python, load_dbt_python
from orch.compiler.deprecation import mark_deprecations
from orch.compiler.disabled import drop_disabled, drop_unmatched_properties
from orch.compiler.graph import SELF, AssetGraph, ResolvedRef, resolve_graph
from orch.compiler.helper import CompileHelper, slim_node
from orch.compiler.helper import wanted as helper_wanted
from orch.compiler.lineage import (
    column_lineage,
    column_versions,
    forget_positions,
    output_columns,
    resolvable_as_written,
)
from orch.compiler.settings import (
    ModelSettings,
    check_relation_owners,
    declared_columns,
    external_fingerprint,
    fingerprint_of,
    relations_may_collide,
    settings_fingerprint,
    shadows_unloaded_asset,
    source_freshness,
    unenforced_constraints,
)
from orch.compiler.snapshots import snapshot_config, snapshot_relation
from orch.compiler.unit_tests import UnitTestCompiler, overrides_renderer
from orch.config import (
    ModelConfig,
    RunOptions,
)
from orch.dag import DAG
from orch.errors import (
    ConfigError,
    ErrorGroup,
    Location,
    PartitionError,
    ProjectError,
    UserError,
    decoding_error,
    raise_collected,
    suggestion,
)
from orch.load import dbt
from orch.load.cache import ResultCache, content_key
from orch.load.dbt_packages import render_scopes
from orch.load.dbt_python import DbtPythonModel
from orch.load.dbt_seeds import infer_seed_types
from orch.load.dbt_versions import node_id_name
from orch.load.parsing import MARKER, ParsedModel, Variant
from orch.load.project import Project, load_project
from orch.load.rendering import (
    THIS_MARKER,
    Renderer,
    TargetInfo,
    read_docs_blocks,
    resolve_doc_calls,
)
from orch.manifest import (
    CheckNode,
    ColumnInfo,
    ColumnRef,
    Manifest,
    Node,
    ProjectInfo,
    RelationInfo,
)
from orch.names import Relation
from orch.partitions import TimeWindows, definition_of, filtered_relation
from orch.selection import load_selectors
from orch.sql import (
    TableRef,
    expand_and_qualify,
    normalize_names,
    parse_query,
    qualify_tables,
    replace_spans,
    sql_text,
    transpile,
    written_columns,
)
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

log = logging.getLogger(__name__)

CACHE_FILE = "orch_cache.json"
COMPILED_KEYS = frozenset(
    {"compiled", "compiled_incremental", "columns", "lineage", "versions", "reads"}
)


def target_dialect(project: Project) -> str:
    """The sqlglot dialect of the target (a third-party target may set ``dialect``)."""
    return str(getattr(project.target, "dialect", None) or project.target.type)


def make_renderer(project: Project) -> Renderer:
    """The Jinja renderer for a project and its target, with macros and docs blocks."""
    t = project.target
    database = t.database
    path = getattr(t, "path", None)
    if database is None and project.flavor == "dbt" and t.type == "duckdb" and path:
        # dbt-duckdb's target.database: the file's stem (what current_database() returns)
        database = "memory" if path == ":memory:" else Path(str(path)).stem
    info = TargetInfo(
        name=project.target_name,
        type=t.type,
        schema=t.schema_,
        database=database,
        dialect=target_dialect(project),
        threads=t.threads,
    )
    renderer = Renderer(
        project_name=project.name,
        target=info,
        variables=project.variables,
        macro_files=project.macro_files,
        docs=read_docs_blocks(project.docs_files),
        packages=render_scopes(project.packages, project.package_variables),
        dispatch=project.dispatch,
        lenient_undefined=project.flavor == "dbt",
        versions=project.model_versions,
    )
    raise_collected(list(renderer.macro_errors))
    return renderer


def compile_project(
    options: RunOptions,
    names: set[str] | None = None,
    *,
    project: Project | None = None,
    write_files: bool = False,
) -> CompileResult:
    """Load, parse, resolve and compile; ``names`` limits parsing to those models' ancestry.

    Raises UserError with every problem found; writes nothing — except, with ``write_files``,
    the compiled SQL files into a staging folder that only :func:`write_artifacts` swaps in.
    """
    project = project or load_project(options)
    key = project_key(project)
    if names is not None and not names <= set(project.models) | set(project.seeds):
        names = None  # a name that is no model file: load everything for the right error
    if names is not None and relations_may_collide(project, names):
        names = None  # another file may write the same relation: compile all to find out
    renderer = make_renderer(project)
    cache = ResultCache(project.target_dir / CACHE_FILE)
    dbt_python = load_dbt_python(project) if project.flavor == "dbt" else {}
    if dbt_python:
        names = None  # their refs are not in the SQL parse's reach: compile everything
    helper = _start_helper(project, renderer, cache, names)
    try:
        return _compile_all(options, names, project, key, renderer, cache, dbt_python, helper,
                            write_files)  # fmt: skip
    finally:
        if helper is not None:
            helper.close()


def _compile_all(
    options: RunOptions,
    names: set[str] | None,
    project: Project,
    key: str,
    renderer: Renderer,
    cache: ResultCache,
    dbt_python: dict[str, DbtPythonModel],
    helper: CompileHelper | None,
    write_files: bool,
) -> CompileResult:
    """The rest of :func:`compile_project`, with the helper process when there is one."""
    parsed, python_assets = python_models.load_models(project, renderer, cache, names, helper)
    schema_namer = dbt.schema_namer(project, renderer) if project.flavor == "dbt" else None
    settings = ModelSettings(project, target_dialect(project), schema_namer)
    project = drop_disabled(project, settings, parsed, python_assets, dbt_python)
    project, unmatched = drop_unmatched_properties(project)
    settings.project = project
    python_models.check_upstream(project, python_assets)
    extra = {**python_models.extra_assets(python_assets),
             **{n: m.upstream for n, m in dbt_python.items()}}  # fmt: skip
    graph = resolve_graph(project, parsed, extra)
    generic = generic_test_uses(project, collect_specs(project), renderer.generic_tests)
    singular = parse_singular_checks(project, renderer, cache, generic=generic)
    compiler = _Compiler(
        project, parsed, graph, cache, singular=singular, settings=settings,
        generic_tests=renderer.generic_tests, renderer=renderer,
    )  # fmt: skip
    compiler.python_assets = python_assets
    compiler.dbt_python = dbt_python
    compiler.helper = helper
    files = CompiledFilesWriter(project.target_dir) if write_files and names is None else None
    compiler.compiled_files = files
    try:
        manifest = compiler.compile()
        if helper is not None:
            helper.close()  # its work is done: free its memory now
        if python_assets:
            py_checks = python_models.python_check_nodes(project, python_assets, manifest.nodes)
            manifest = manifest.model_copy(update={"checks": {**manifest.checks, **py_checks}})
        if project.unit_tests:
            unit = UnitTestCompiler(
                project, parsed, graph, compiler.nodes, compiler.output_columns,
                overrides_renderer(project, renderer),
            ).compile(set(manifest.checks))  # fmt: skip
            manifest = manifest.model_copy(update={"checks": {**manifest.checks, **unit}})
    except BaseException:
        if files is not None:
            files.abort()
        raise
    if files is not None:
        for check in manifest.checks.values():
            if check.sql:
                files.add(f"checks/{check.name}.sql", check.sql)
    cache.save()
    if names is not None and shadows_unloaded_asset(project, manifest):
        # a selected model's alias is the name of a model left out of the scope: compile all,
        # where check_relation_owners decides whether both really write one relation
        return compile_project(options, None, project=project, write_files=write_files)
    env_vars = sorted({v for p in parsed.values() for v in p.recording.env_vars_used})
    return CompileResult(
        project=project,
        manifest=manifest,
        warnings=[*project.warnings, *unmatched, *compiler.warnings],
        cache_hits=cache.hits,
        cache_misses=cache.misses,
        scoped=names is not None,
        project_key=key,
        env_vars=env_vars,
        compiled_files=files,
    )


# --------------------------------------------------------------------------- the compiler


class _Compiler:
    def __init__(
        self,
        project: Project,
        parsed: dict[str, ParsedModel],
        graph: AssetGraph,
        cache: ResultCache,
        singular: list[SingularCheck] | None = None,
        settings: ModelSettings | None = None,
        generic_tests: dict[str, str] | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        self.generic_tests = generic_tests or {}
        self.renderer = renderer  # renders hooks
        self.project = project
        self.compiled_files: CompiledFilesWriter | None = None
        self.singular = singular or []
        self.checks: dict[str, CheckNode] = {}
        self.parsed = parsed
        self.graph = graph
        self.cache = cache
        self.dialect = target_dialect(project)
        self.settings = settings or ModelSettings(project, self.dialect)
        self.nodes: dict[str, Node] = {}
        self.warnings: list[str] = []
        self.python_assets: dict[str, python_models.PythonAsset] = {}
        self.dbt_python: dict[str, DbtPythonModel] = {}
        self.output_columns: dict[str, list[str] | None] = {}  # None: not known from the SQL
        self._partitioned: set[str] = set()  # partitioned models: per-step file scans
        self._rendered: dict[Relation, str] = {}  # render_relation's texts
        self.helper: CompileHelper | None = None  # compiles some models' SQL meanwhile
        self._plans: dict[str, _ModelPlan] = {}  # planned for the helper, not compiled yet
        self._remote: set[str] = set()  # sent to the helper
        self._waiting: dict[str, int] = {}  # the helper's models -> parents not compiled yet
        self._ready: list[str] = []  # the helper's models whose parents are all compiled
        self._shipped: set[str] = set()  # parsed here, compiled by the helper

    # ------------------------------------------------------------------ the helper process

    def _start_feeding(self) -> None:
        """Count, for each model the helper compiles, the parents it waits for: the models it
        parsed, and three in four of those parsed here (shipped with their text)."""
        owned = self.helper.owned if self.helper is not None else set()
        here = [n for n in self.graph.order if n in self.parsed and n not in owned]
        self._shipped = set(here) - set(here[::4])
        for name in self.graph.order:
            if name in owned or name in self._shipped:
                left = len(self.graph.dag.parents(name))
                if left:
                    self._waiting[name] = left
                else:
                    self._ready.append(name)

    def _node_done(self, name: str) -> None:
        for child in self.graph.dag.children(name):
            left = self._waiting.get(child)
            if left == 1:
                del self._waiting[child]
                self._ready.append(child)
            elif left is not None:
                self._waiting[child] = left - 1

    def _feed_helper(self) -> None:
        """Send the helper every model of its that is ready, unless a batch is outstanding.

        A model is sent with its plan made here (kept for :meth:`compile_model`) when its SQL
        work needs nothing but its upstream relations and columns; the others (a user error in
        the plan, partition filters, file scans, rendering at run time) stay for this process.
        """
        helper = self.helper
        assert helper is not None
        helper.poll()
        if helper.busy or not self._ready:
            return
        items = []
        for name in self._ready:
            model = self.parsed[name]
            if model.recording.uses_warehouse:
                continue
            try:
                plan = self._plan(model)
                upstream = {r.asset for rs in plan.refs.values() for r in rs if r.asset != SELF}
                if plan.filters or any(
                    a not in self.nodes or self._scan(model, a) is not None for a in upstream
                ):
                    continue
            except UserError:
                continue  # compile_model meets it again in its turn, and reports it
            self._plans[name] = plan
            self._remote.add(name)
            new = {a: slim_node(self.nodes[a]) for a in sorted(upstream - helper.sent)}
            shipped = _without_trees(model) if name in self._shipped else None
            items.append((name, plan.relation, plan.refs, new, shipped))
        self._ready = []
        if items:
            helper.send(items)

    # ------------------------------------------------------------------ relations

    def table_expr(self, rel: Relation) -> exp.Table:
        return exp.Table(
            this=exp.to_identifier(rel.name, quoted=True),
            db=exp.to_identifier(rel.schema, quoted=True) if rel.schema else None,
            catalog=exp.to_identifier(rel.database, quoted=True) if rel.database else None,
        )

    def render_relation(self, rel: Relation) -> str:
        text = self._rendered.get(rel)
        if text is None:  # each relation is read by many models: write its name once
            text = self._rendered[rel] = sql_text(self.table_expr(rel), self.dialect)
        return text

    def relation_text(self, rel: Relation) -> str:
        """A relation as ``{{ this }}`` / ``{{ ref() }}`` print it in text (hooks, strings,
        comments): in a dbt project with the database, as dbt-duckdb prints it (the DuckDB
        file's stem); compiled table references leave the default database out."""
        database = rel.database
        if database is None and self.project.flavor == "dbt" and self.renderer is not None:
            database = self.renderer.target.database
        return self.render_relation(Relation(database, rel.schema, rel.name))

    def text_markers(self, model: ParsedModel, own: Relation, text: str) -> str:
        """``text`` with the ref()/source()/this markers left in strings and comments (the
        table references are replaced already) put in as the relations' text, as dbt does."""
        rec = model.recording

        def relation_of(match: re.Match[str]) -> str:
            marker = match.group(0)
            if marker == THIS_MARKER:
                return self.relation_text(own)
            asset = rec.refs.get(marker)
            if asset is None and marker in rec.sources:
                asset = ".".join(rec.sources[marker])
            node = self.nodes.get(asset or "")
            if node is None and asset in self.project.sources:
                node = self.compile_source(asset)
            if node is None:
                return marker
            if node.relation is None:  # ephemeral: dbt prints its CTE's name
                return f"__dbt__cte__{node.name}"
            return self.relation_text(node.relation.to_relation())

        return MARKER.sub(relation_of, text)

    # ------------------------------------------------------------------ main loop

    def compile(self) -> Manifest:
        errors: list[UserError] = []
        failed: set[str] = set()
        if self.helper is not None:
            self._start_feeding()
        for name in self.graph.order:
            if self.helper is not None:
                self._feed_helper()
            if self.graph.dag.parents(name) & failed:
                failed.add(name)  # its upstream's error is reported; compiling it would crash
                continue
            try:
                if name in self.python_assets:
                    self.nodes[name] = python_models.compile_python(
                        self.settings, self.graph, self.python_assets[name], self.nodes
                    )
                elif name in self.dbt_python:
                    self.nodes[name] = compile_dbt_python(
                        self.settings, self.graph, self.dbt_python[name], self.nodes
                    )
                elif name in self.parsed:
                    node = self.nodes[name] = self.with_hooks(self.compile_model(self.parsed[name]))
                    if self.compiled_files is not None and node.path and node.compiled_code:
                        self.compiled_files.add(
                            str(Path(node.path).with_suffix(".sql")), node.compiled_code
                        )
                elif name in self.project.seeds:
                    self.nodes[name] = self.with_hooks(self.compile_seed(name))
                elif name in self.project.sources:
                    self.nodes[name] = self.compile_source(name)
                if self.helper is not None and name in self.nodes:
                    self._node_done(name)
            except ErrorGroup as group:
                errors.extend(group.errors)
                failed.add(name)
            except UserError as err:
                errors.append(err)
                failed.add(name)
        raise_collected(errors)
        self.warnings.extend(
            mark_deprecations(self.project, self.nodes, self.graph.order, self.graph.dag.children)
        )
        if self.project.flavor == "dbt":
            self.warnings.extend(unenforced_constraints(self.project, self.nodes))
        check_relation_owners(self.nodes.values())
        self.checks = self.compile_checks()
        descriptive = self.project.descriptive
        extra: dict[str, Any] = {
            "exposures": dict(sorted(descriptive.get("exposures", {}).items())),
            "semantic_layer": {k: dict(sorted(v.items())) for k, v in sorted(descriptive.items())
                               if k != "exposures" and v},
        }  # fmt: skip
        return self.manifest().model_copy(update={**self.run_hooks(), **extra})

    def with_hooks(self, node: Node) -> Node:
        """``node`` with its pre-/post-hooks rendered (orch.compiler.hooks)."""
        extra = node.config.extra
        if self.renderer is None or not any(extra.get(p) for p in hooks.HOOK_PHASES):
            return node
        origin = node.path or node.name
        if node.relation is None:  # an ephemeral model never runs, so neither do its hooks
            self.warnings.append(f"{origin}: the hooks of ephemeral model '{node.name}' never "
                                 "run (as in dbt: it is inlined, not built)")  # fmt: skip
            return node
        rel = node.relation.to_relation()
        text = self.relation_text(rel)
        database = rel.database
        if database is None and self.project.flavor == "dbt":
            database = self.renderer.target.database
        kind = "view" if node.config.materialized == "view" else "table"
        this = hooks.HookRelation(database, rel.schema, rel.name, text, type=kind)
        rendered = {
            phase: hooks.render_hooks(
                self.renderer, extra.get(phase), origin, this=this, relation_of=self._hook_ref
            )
            for phase in hooks.HOOK_PHASES
        }
        return node.model_copy(update=rendered)

    def _hook_ref(self, asset: str, origin: str) -> str:
        node = self.nodes.get(asset)
        if node is None and asset in self.project.sources:
            node = self.compile_source(asset)
        if node is None or node.relation is None:
            raise ConfigError(
                f"a hook in {origin} reads '{asset}', which is not compiled before it",
                location=Location(origin),
                hint="A hook may ref() the model's upstream assets (and sources); name other "
                "relations as schema.table",
            )
        return self.relation_text(node.relation.to_relation())

    def run_hooks(self) -> dict[str, list[Any]]:
        """The project's on-run-start / on-run-end hooks, rendered."""
        cfg = self.project.config
        if self.renderer is None or not (cfg.on_run_start or cfg.on_run_end):
            return {}
        context = hooks.run_hook_context(self.nodes)
        return {
            key: hooks.render_hooks(
                self.renderer,
                getattr(cfg, key),
                self.project.project_file,
                this=None,
                relation_of=self._hook_ref,
                context=context,
            )  # fmt: skip
            for key in ("on_run_start", "on_run_end")
        }

    def compile_checks(self) -> dict[str, CheckNode]:
        """The checks of the compiled assets (YAML specs and checks/*.sql): orch.compiler.checks."""
        checks, warnings = compile_checks(
            self.project,
            self.nodes,
            self.dialect,
            self.singular,
            lambda parsed, refs: self._compile_variant(parsed, parsed.full, refs, None),
            self.generic_tests,
        )
        self.warnings.extend(warnings)
        if self.project.flavor == "dbt":  # dbt spells them test.<project>.<name>
            checks = {
                key: c.model_copy(update={"unique_id": "test." + c.unique_id.split(".", 1)[-1]})
                for key, c in checks.items()
            }
        return checks

    def manifest(self) -> Manifest:
        t = self.project.target
        names = sorted(self.nodes)
        present = set(self.nodes)
        parents = {n: sorted(self.graph.dag.parents(n) & present) for n in names}
        children = {n: sorted(self.graph.dag.children(n) & present) for n in names}
        cfg = self.project.config
        if self.project.flavor == "dbt":
            self._resolve_doc_calls()
        return Manifest(
            orch_version=orch.__version__,
            project=ProjectInfo(
                name=self.project.name,
                dialect=cfg.dialect,
                target_name=self.project.target_name,
                target_type=t.type,
                target_dialect=self.dialect,
                database=t.database,
                schema_name=t.schema_,
                flavor=self.project.flavor,
            ),
            nodes={n: self.nodes[n] for n in names},
            checks=self.checks,
            parents=parents,
            children=children,
            jobs={k: v.model_dump() for k, v in sorted(cfg.jobs.items())},
            schedules={k: v.model_dump() for k, v in sorted(cfg.schedules.items())},
            docs=dict(sorted(read_docs_blocks(self.project.docs_files).items())),
            selectors={
                name: {
                    "description": s.description,
                    "select": list(s.select),
                    "exclude": list(s.exclude),
                    "indirect_selection": s.indirect_selection,
                    "default": s.default,
                }
                for name, s in sorted(load_selectors(self.project.root).items())
            },
        )

    def _resolve_doc_calls(self) -> None:
        """``{{ doc('name') }}`` in YAML descriptions becomes the docs block's text (dbt)."""
        docs = read_docs_blocks(self.project.docs_files)
        errors: list[UserError] = []
        for name, node in list(self.nodes.items()):
            description, missing = resolve_doc_calls(node.description, docs)
            columns = dict(node.columns)
            for col, info in node.columns.items():
                text, more = resolve_doc_calls(info.description, docs)
                missing += more
                if text != info.description:
                    columns[col] = info.model_copy(update={"description": text})
            for doc_name in missing:
                errors.append(
                    ConfigError(
                        f"'{name}' uses doc('{doc_name}'), but no docs block has that name",
                        location=Location(node.patch_path or node.path or name),
                        hint=suggestion(doc_name, docs)
                        or "Define it in a .md file: {% docs " + doc_name + " %}...{% enddocs %}",
                    )
                )
            if description != node.description or columns != node.columns:
                self.nodes[name] = node.model_copy(
                    update={"description": description, "columns": columns}
                )
        raise_collected(errors)

    # ------------------------------------------------------------------ nodes

    def compile_seed(self, name: str) -> Node:
        seed = self.project.seeds[name]
        config, description, patch_path = self.settings.config_for(
            name, seed.path, self.project.config.seeds, None
        )
        config = config.model_copy(update={"materialized": "table"})
        raw = seed.abs_path.read_bytes()
        header = seed_header(raw, seed.path)
        if self.project.flavor == "dbt":  # the types dbt seed would create, unless declared
            inferred = infer_seed_types(seed.abs_path, self.project.target.type)
            types = {**inferred, **config.column_types}
            config = config.model_copy(update={"column_types": types})
        declared = self.settings.columns_for(name)
        columns = {
            c: declared.get(c) or ColumnInfo(name=c, data_type=config.column_types.get(c))
            for c in header
        }
        fingerprint = fingerprint_of(hashlib.sha256(raw).hexdigest(), settings_fingerprint(config))
        return Node(
            name=name,
            unique_id=f"seed.{seed.package or self.project.name}.{name}",
            resource_type="seed",
            path=seed.path,
            patch_path=patch_path,
            relation=RelationInfo.from_relation(self.settings.relation_for(name, config)),
            config=config,
            columns=columns,
            description=description,
            fingerprint=fingerprint,
        )

    def compile_source(self, name: str) -> Node:
        src = self.project.sources[name]
        t = self.project.target
        relation = Relation(
            self.settings.normalize(src.source.database or t.database),
            self.settings.normalize(src.source.schema_ or src.source.name),  # type: ignore[arg-type]
            self.settings.normalize(src.table.identifier or src.table.name),  # type: ignore[arg-type]
        )
        columns = declared_columns(src.table.columns)
        tags = list(dict.fromkeys([*src.source.tags, *src.table.tags]))
        return Node(
            name=name,
            unique_id=f"source.{self.project.name}.{name}",
            resource_type="source",
            patch_path=src.path,
            path=src.path,
            relation=RelationInfo.from_relation(relation),
            config=ModelConfig(
                materialized="table", tags=tags, meta={**src.source.meta, **src.table.meta}
            ),
            columns=columns,
            description=src.table.description or src.source.description,
            source_name=src.source.name,
            source_table=src.table.name,
            source_freshness=source_freshness(src, self.project.root),
            fingerprint=fingerprint_of(name),
            observe=self._observe_sql(src.table.observe or src.source.observe, relation, src),
        )

    def _observe_sql(self, written: str | None, relation: Relation, src: Any) -> str:
        """A source's observation query: the user's ``observe:``, else its row count and, with
        a ``loaded_at_field``, the newest load time."""
        if written:
            return written.strip()
        loaded = src.table.loaded_at_field or src.source.loaded_at_field
        parts: list[exp.Expr] = [exp.Count(this=exp.Star())]
        if loaded:
            parts.append(exp.Max(this=exp.column(loaded)))
        query = exp.select(*parts).from_(self.table_expr(relation))
        return query.sql(dialect=self.dialect)

    def _plan(self, model: ParsedModel) -> _ModelPlan:
        """A model's settings, relation, references and cache key: all but its SQL work."""
        snapshot = self.project.models[model.name].kind == "snapshot"
        tree = self.project.config.snapshots if snapshot else self.project.config.models
        config, description, patch_path = self.settings.config_for(
            model.name, model.path, tree, model.recording.config
        )
        if snapshot:
            config = snapshot_config(model.name, model.path, config)
        elif config.materialized == "snapshot":
            raise ConfigError(
                f"'{model.name}' is materialized='snapshot', which only dbt snapshots are",
                location=Location(model.path),
                hint="Put its query in a {% snapshot %} block under snapshots/ (dbt projects), "
                "or use table or incremental",
            )
        relation = (
            None
            if config.materialized == "ephemeral"
            else snapshot_relation(self.settings, model.name, config)
            if snapshot
            else self.settings.relation_for(model.name, config)
        )
        if config.materialized == "external":
            self.settings.check_external(model.name, model.path, config)
        if config.partitioned_by is not None:  # reads its upstreams' files per partition
            self._partitioned.add(model.name)
        refs = self.graph.refs.get(model.name, {})
        filters = self._partition_filters(model, config, refs)
        key = self._compile_key(model, relation, refs)
        if filters:
            key = content_key(key, *(f"{a}:{q.sql()}" for a, q in sorted(filters.items())))
        return _ModelPlan(snapshot, config, description, patch_path, relation, refs, filters, key)

    def compile_model(self, model: ParsedModel) -> Node:
        plan = self._plans.pop(model.name, None) or self._plan(model)
        snapshot, config, relation, refs, filters = (
            plan.snapshot, plan.config, plan.relation, plan.refs, plan.filters
        )  # fmt: skip
        description, patch_path, key = plan.description, plan.patch_path, plan.key
        live = model.recording.uses_warehouse
        cached = self.cache.get(key)
        if live:
            cached = self._parse_time_sql(model, relation, refs)
        elif cached is None or not COMPILED_KEYS <= cached.keys():  # never trust a foreign entry
            cached = None
            if self.helper is not None and model.name in self._remote:
                self._remote.discard(model.name)
                cached = self.helper.result(model.name)  # None: the helper could not
            if cached is None:
                cached = self._compile_sql(model, relation, refs, filters)
            self.cache.put(key, cached)
        if config.materialized == "view" and redaction.PLACEHOLDER_PREFIX in cached["compiled"]:
            raise _secret_in_view(model)
        declared = self.settings.columns_for(model.name)
        out_cols: list[str] | None = cached["columns"]
        self.output_columns[model.name] = out_cols
        columns: dict[str, ColumnInfo] = {}
        for col in out_cols or list(declared):
            columns[col] = declared.get(col) or ColumnInfo(name=col)
        for col in declared:
            if out_cols is not None and col not in columns:
                if config.contract:  # a contract's declared columns are enforced at build time
                    columns[col] = declared[col]
                self.warnings.append(
                    f"{patch_path}: column '{col}' of '{model.name}' is documented but the "
                    "model does not produce it"
                )
        lineage = {
            col: [ColumnRef(asset=a, column=c) for a, c in pairs]
            for col, pairs in cached["lineage"].items()
        }
        return Node(
            name=model.name,
            unique_id=f"{'snapshot' if snapshot else 'model'}."
            f"{self.project.models[model.name].package or self.project.name}."
            f"{node_id_name(self.project.model_versions, model.name)}",
            resource_type="model",
            language="sql",
            path=model.path,
            patch_path=patch_path,
            raw_code=model.raw,
            compiled_code=cached["compiled"],
            compiled_code_incremental=cached["compiled_incremental"],
            uses_partition=model.recording.uses_partition,
            rendered_at_run_time=live,
            relation=RelationInfo.from_relation(relation) if relation else None,
            config=config,
            depends_on=sorted(self.graph.dag.parents(model.name)),
            columns=columns,
            column_lineage=lineage,
            column_versions=cached["versions"],
            reads=cached["reads"],
            description=description,
            fingerprint=fingerprint_of(
                model.sql_fingerprint,
                settings_fingerprint(config),
                *(f"{a}:{q.sql()}" for a, q in sorted(filters.items())),
                *external_fingerprint(config),
            ),
        )

    def _partition_filters(
        self, model: ParsedModel, config: ModelConfig, refs: dict[str, list[ResolvedRef]]
    ) -> dict[str, exp.Subquery]:
        """Upstream asset -> the filtered subquery that replaces it (automatic filtering).

        A time-partitioned model reading a time-partitioned upstream (with a ``column``) reads
        only the rows of its own window, unless ``filter_upstream`` says otherwise. Also
        validates the model's own partition definition.
        """
        spec = config.partitioned_by
        if spec is None:
            return {}
        location = Location(model.path)
        props = self.project.properties.get(model.name)
        if props is not None and model.recording.config.get("partitioned_by") is None:
            location = props.doc.location((*props.key_path, "config", "partitioned_by"))
        if config.materialized in ("view", "ephemeral"):
            raise ConfigError(
                f"'{model.name}' is partitioned but materialized as {config.materialized}",
                location=location,
                hint="Partitioned models are tables written one partition at a time: set "
                "materialized='incremental' (or 'table')",
            )
        try:
            definition = definition_of(spec, asset=model.name)
        except PartitionError as err:
            raise ConfigError(err.message, location=location, hint=err.hint) from None
        if not spec.column:
            raise ConfigError(
                f"partitioned model '{model.name}' needs a partition 'column'",
                location=location,
                hint="Name the column holding each row's time (or key), e.g. column: ordered_at",
            )
        wanted = spec.filter_upstream
        if wanted is False or not isinstance(definition, TimeWindows):
            return {}
        out: dict[str, exp.Subquery] = {}
        for r in refs.get("full", []):
            up = self.nodes.get(r.asset)
            if r.asset == SELF or up is None or up.relation is None:
                continue
            if isinstance(wanted, list) and r.asset not in wanted:
                continue
            up_spec = up.config.partitioned_by
            if up_spec is None or up_spec.grain is None or not up_spec.column:
                continue
            table = self._scan(model, r.asset) or self.table_expr(up.relation.to_relation())
            written = written_columns(up.compiled_code, self.dialect)  # its quoted columns
            out[r.asset] = filtered_relation(
                table,  # type: ignore[arg-type]
                definition,
                up_spec.column,
                self.dialect,
                written,
            )
        return out

    # ------------------------------------------------------------------ SQL

    def _compile_key(
        self, model: ParsedModel, relation: Relation | None, refs: dict[str, list[ResolvedRef]]
    ) -> str:
        upstream = []
        for variant_refs in refs.values():
            for r in variant_refs:
                if r.asset == SELF:
                    continue
                node = self.nodes[r.asset]
                scan = self._scan(model, r.asset)
                rel = node.relation  # as model_dump() gives it, without pydantic's serializer
                where = (
                    {
                        "database": rel.database,
                        "schema_name": rel.schema_name,
                        "identifier": rel.identifier,
                    }
                    if rel
                    else node.compiled_code
                )
                upstream.append(
                    [r.asset, where, list(node.columns), scan.sql() if scan is not None else None]
                )  # fmt: skip
        return content_key(
            "compile",
            model.cache_key,
            self.dialect,
            json.dumps([relation.parts() if relation else None, upstream], default=str),
        )

    def _compile_sql(
        self,
        model: ParsedModel,
        relation: Relation | None,
        refs: dict[str, list[ResolvedRef]],
        filters: dict[str, exp.Subquery] | None = None,
    ) -> dict[str, Any]:
        compiled = self._compile_variant(model, model.full, refs.get("full", []), relation, filters)
        compiled_inc = None
        if model.incremental is not None:
            compiled_inc = self._compile_variant(
                model, model.incremental, refs.get("incremental", []), relation, filters
            )
        columns, lineage, versions, reads = self._lineage(model, refs.get("full", []))
        return {
            "compiled": compiled,
            "compiled_incremental": compiled_inc,
            "columns": columns,
            "lineage": lineage,
            "versions": versions,
            "reads": reads,
        }

    def _parse_time_sql(
        self, model: ParsedModel, relation: Relation | None, refs: dict[str, list[ResolvedRef]]
    ) -> dict[str, Any]:
        """A model rendered at run time: its parse-time SQL with the relations put in (no
        parse: it may not be SQL), columns and lineage unknown until the run-time render."""
        own = relation or Relation(None, self.project.target.schema_, model.name)
        out: dict[str, Any] = {"columns": None, "lineage": {}, "versions": {}, "reads": None}
        for key, variant in (("compiled", model.full), ("compiled_incremental", model.incremental)):
            if variant is None:
                out[key] = None
                continue
            replacements = []
            for r in refs.get("full" if key == "compiled" else "incremental", []):
                node = self.nodes.get(r.asset) if r.asset != SELF else None
                if r.asset != SELF and (node is None or node.relation is None):
                    raise ConfigError(
                        f"'{model.name}' queries the warehouse while rendering and reads the "
                        f"ephemeral model '{r.asset}'",
                        location=Location(model.path, r.ref.line, r.ref.col),
                        hint=f"Materialize '{r.asset}' as a view or table (dbt_utils refuses "
                        "ephemeral models in such macros too)",
                    )
                rel = own if node is None else node.relation.to_relation()  # type: ignore[union-attr]
                replacements.append((r.ref.start, r.ref.end, self.render_relation(rel)))
            out[key] = self.text_markers(
                model, own, replace_spans(variant.rendered, replacements)
            ).strip()
        return out

    def _compile_variant(
        self,
        model: ParsedModel,
        variant: Variant,
        refs: list[ResolvedRef],
        relation: Relation | None,
        filters: dict[str, exp.Subquery] | None = None,
    ) -> str:
        own = relation or Relation(None, self.project.target.schema_, model.name)
        filters = filters or {}
        ephemerals = [r for r in refs if r.asset != SELF and self.nodes[r.asset].relation is None]
        if model.dialect == self.dialect and not ephemerals:
            replacements = []
            for r in refs:
                rel = own if r.asset == SELF else self.nodes[r.asset].relation.to_relation()  # type: ignore[union-attr]
                text = self.render_relation(rel)
                visible = _visible_name(model, r.ref)
                scan = self._scan(model, r.asset) if r.asset != SELF else None
                if scan is not None and r.asset not in filters:
                    text = scan.sql(dialect=self.dialect)
                    if not r.ref.has_alias:
                        text += f" AS {sql_text(exp.to_identifier(visible), self.dialect)}"
                elif r.asset in filters:
                    text = filters[r.asset].sql(dialect=self.dialect)
                    if not r.ref.has_alias:
                        text += f" AS {sql_text(exp.to_identifier(visible), self.dialect)}"
                elif not r.ref.has_alias and visible != rel.name and r.asset != SELF:
                    text = f"{text} AS {sql_text(exp.to_identifier(visible), self.dialect)}"
                replacements.append((r.ref.start, r.ref.end, text))
            return self.text_markers(
                model, own, replace_spans(variant.rendered, replacements)
            ).strip()
        mapping: dict[str, exp.Table] = {}
        ctes: list[tuple[str, str]] = []
        for r in refs:
            if r.asset == SELF:
                mapping[r.ref.dotted] = self.table_expr(own)
            elif self.nodes[r.asset].relation is None:
                cte_name = f"__orch_ephemeral_{r.asset}"
                mapping[r.ref.dotted] = exp.Table(this=exp.to_identifier(cte_name, quoted=True))
                ctes.extend(self._ephemeral_ctes(r.asset))
            elif r.asset in filters:
                mapping[r.ref.dotted] = filters[r.asset]  # type: ignore[assignment]
            elif (scan := self._scan(model, r.asset)) is not None:
                mapping[r.ref.dotted] = scan  # type: ignore[assignment]
            else:
                mapping[r.ref.dotted] = self.table_expr(self.nodes[r.asset].relation.to_relation())  # type: ignore[union-attr]
        query = qualify_tables(
            variant.ast(model.dialect, model.path), mapping, _marker_aliases(model)
        )
        query = prepend_ctes(query, ctes, self.dialect)
        return self.text_markers(
            model, own, transpile(query, self.dialect, model.path, source=model.dialect)
        )

    def _scan(self, model: ParsedModel, asset: str) -> exp.Expr | None:
        """The file scan SQL reads ``asset`` through (Parquet-stored, external), or None."""
        return self.settings.file_scan(
            self.nodes[asset],
            model.name,
            Location(model.path),
            per_partition=model.name in self._partitioned,
        )

    def _ephemeral_ctes(self, asset: str) -> list[tuple[str, str]]:
        """The CTEs for an ephemeral model, after those of any ephemeral it reads itself."""
        node = self.nodes[asset]
        out: list[tuple[str, str]] = []
        inner = node.compiled_code
        out.append((f"__orch_ephemeral_{asset}", inner))
        return out

    def _lineage(
        self, model: ParsedModel, refs: list[ResolvedRef]
    ) -> tuple[
        list[str] | None, dict[str, list[list[str]]], dict[str, str], dict[str, list[str]] | None
    ]:
        """Output columns, column lineage, column versions and the upstream columns read
        (None: unknown, a ``*`` over a relation whose columns are not known)."""
        assets: list[str] = []
        mapping: dict[str, exp.Table] = {}
        schema: dict[str, dict[str, str]] = {}
        for r in refs:
            asset = model.name if r.asset == SELF else r.asset
            if asset not in assets:
                assets.append(asset)
            alias = f"__asset_{assets.index(asset)}"
            mapping[r.ref.dotted] = exp.Table(this=exp.to_identifier(alias))
            node = self.nodes.get(asset)
            if node is not None and node.columns:
                schema[alias] = {c: (i.data_type or "UNKNOWN") for c, i in node.columns.items()}
        # the last use of the parsed tree: rewrite it in place (copies cost more than the rest)
        query = qualify_tables(
            model.full.ast(model.dialect, model.path), mapping, _marker_aliases(model), copy=False
        )
        model.full.query = None
        forget_positions(query)  # the copies qualify and column versions make cost half as much
        qualified: exp.Expr | None
        if resolvable_as_written(query):
            qualified = normalize_names(query, model.dialect)
        else:
            qualified = expand_and_qualify(query, schema, model.dialect, copy=False)
        if qualified is None:
            return output_columns(query), {}, {}, None

        def asset_of(table: exp.Table) -> str | None:
            name = table.name
            if name.startswith("__asset_"):
                index = int(name[len("__asset_") :])
                return assets[index] if index < len(assets) else None
            return None

        scopes = traverse_scope(qualified)
        lineage = column_lineage(qualified, asset_of, scopes)
        versions, reads = column_versions(qualified, asset_of, scopes)
        if output_columns(qualified) is None:  # a * left unexpanded: what it reads is unknown
            return None, {}, {}, None
        return (
            output_columns(qualified),
            {col: [list(pair) for pair in pairs] for col, pairs in lineage.items()},
            versions,
            reads,
        )


@dataclass
class _ModelPlan:
    """What :meth:`_Compiler._plan` decides for a model before its SQL work."""

    snapshot: bool
    config: ModelConfig
    description: str
    patch_path: str | None
    relation: Relation | None
    refs: dict[str, list[ResolvedRef]]
    filters: dict[str, exp.Subquery]
    key: str


def _without_trees(model: ParsedModel) -> ParsedModel:
    """``model`` without its parsed trees (what is sent to the helper: it parses the text)."""
    inc = model.incremental
    return replace(
        model,
        full=replace(model.full, query=None),
        incremental=replace(inc, query=None) if inc is not None else None,
    )


class _HelperCompiler(_Compiler):
    """The compiler in the helper process (orch.compiler.helper): it is sent only models that
    read no files, and upstream nodes slimmed to their relations and columns."""

    def _scan(self, model: ParsedModel, asset: str) -> exp.Expr | None:
        return None


def _start_helper(
    project: Project, renderer: Renderer, cache: ResultCache, names: set[str] | None
) -> CompileHelper | None:
    """A helper process for a big cold compile of everything, else None."""
    if names is not None or not helper_wanted(project, cache):
        return None
    dialect = target_dialect(project)

    def factory(parsed: dict[str, ParsedModel]) -> _HelperCompiler:
        graph = AssetGraph(dag=DAG())
        settings = ModelSettings(project, dialect)
        return _HelperCompiler(project, parsed, graph, ResultCache(None), settings=settings)

    return CompileHelper(project, renderer, factory)


# --------------------------------------------------------------------------- helpers


def _secret_in_view(model: ParsedModel) -> ConfigError:
    """A view may not read env_var(): the warehouse stores a view's SQL, secret and all."""
    raw_lines = model.raw.splitlines()
    line = next((i for i, text in enumerate(raw_lines, 1) if "env_var(" in text), 1)
    names = ", ".join(f"env_var('{n}')" for n in sorted(model.recording.env_vars_used))
    uses = names or "env_var() (through an ephemeral model)"
    return ConfigError(
        f"'{model.name}' is a view and its SQL uses {uses}: the warehouse stores a view's SQL, "
        "so the value would be kept in the view definition",
        location=Location(model.path, line),
        hint="Materialize it as a table (config(materialized='table')), or move the value to a var",
    )


def _visible_name(model: ParsedModel, ref: TableRef) -> str:
    """The name a query's columns may qualify a table by: a ref()/source() marker stands for the
    model or source table it names (as in dbt, where it renders as that relation)."""
    if ref.name in model.recording.refs:
        return model.recording.refs[ref.name]
    if ref.name in model.recording.sources:
        return model.recording.sources[ref.name][1]
    return ref.name


def _marker_aliases(model: ParsedModel) -> dict[str, str]:
    """The alias each ref()/source() marker gets when it has none of its own."""
    aliases = dict(model.recording.refs)
    aliases.update({marker: table for marker, (_, table) in model.recording.sources.items()})
    return aliases


def prepend_ctes(query: exp.Expr, ctes: list[tuple[str, str]], dialect: str) -> exp.Expr:
    """Put ephemeral models' CTEs before the query's own (which may read them)."""
    new: list[exp.CTE] = []
    seen: set[str] = set()
    for cte_name, cte_sql in ctes:
        if cte_name in seen:
            continue
        seen.add(cte_name)
        new.append(
            exp.CTE(
                this=parse_query(cte_sql, dialect, cte_name),
                alias=exp.TableAlias(this=exp.to_identifier(cte_name, quoted=True)),
            )
        )
    existing = query.args.get("with_") or query.args.get("with")
    key = "with_" if "with_" in query.arg_types else "with"
    if existing is not None:
        existing.set("expressions", [*new, *existing.expressions])
    else:
        query.set(key, exp.With(expressions=new))
    return query


def seed_header(raw: bytes, path: str) -> list[str]:
    """A seed's column names, after checking the CSV the way the warehouse will load it.

    An empty file, a header with an empty or a repeated name (which the load would rename
    ``a_1``), a row with more or fewer values than the header, and bytes that are not UTF-8 are
    errors at ``file:line`` here, at compile time, rather than load errors at run time.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise decoding_error(err, path, raw) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        row = next(reader, None)
        while row == []:  # blank lines before the header
            row = next(reader, None)
        if row is None:
            raise ProjectError(
                "the seed is empty",
                location=Location(path, 1),
                hint="Write a header row with the column names (and rows of values), "
                "or remove the file",
            )
        header_line = reader.line_num
        header = [c.strip() for c in row]
        _check_header(header, path, header_line)
        for values in reader:
            if not values:  # a blank line, skipped by the load too
                continue
            if len(values) != len(header):
                count = f"{len(values)} value" + ("" if len(values) == 1 else "s")
                raise ProjectError(
                    f"this row has {count}, the header has {len(header)} columns",
                    location=Location(path, reader.line_num),
                    hint="Give every row one value per column (quote values holding a comma)",
                )
    except csv.Error as err:
        raise ProjectError(
            f"not a valid CSV file: {err}",
            location=Location(path, reader.line_num),
            hint="Fix the quoting at that line",
        ) from None
    return header


def _check_header(header: list[str], path: str, line: int) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if not name:
            raise ProjectError(
                f"column {i} of the header has no name",
                location=Location(path, line),
                hint="Name every column in the first row (or remove a trailing comma)",
            )
        key = name.casefold()
        if key in seen:
            raise ProjectError(
                f"the header repeats the column '{name}' (columns {seen[key]} and {i})",
                location=Location(path, line),
                hint="Give each column its own name: the load would rename the second one "
                f"'{name}_1'",
            )
        seen[key] = i
