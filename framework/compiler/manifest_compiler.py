"""The compiler of a whole project: every asset's node in DAG order, then checks, hooks and the
manifest.

Models are planned here (settings, relation, references, partition filters, cache key) and their
SQL work done by :class:`orch.compiler.model_sql.SqlCompiler`, from the compile cache, or by the
helper process (orch.compiler.helper_feed) when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orch
from orch import redaction
from orch.compiler import hooks
from orch.compiler import python as python_models
from orch.compiler.artifacts import CompiledFilesWriter
from orch.compiler.check_specs import SingularCheck, collect_specs
from orch.compiler.checks import compile_checks
from orch.compiler.dbt_python import compile_dbt_python
from orch.compiler.deprecation import mark_deprecations
from orch.compiler.graph import SELF, AssetGraph, ResolvedRef
from orch.compiler.model_sql import SqlCompiler
from orch.compiler.seeds import seed_node
from orch.compiler.settings import (
    ModelSettings,
    check_relation_owners,
    external_fingerprint,
    fingerprint_of,
    settings_fingerprint,
    target_dialect,
    unenforced_constraints,
)
from orch.compiler.snapshots import snapshot_config, snapshot_relation
from orch.config import ModelConfig
from orch.errors import (
    ConfigError,
    ErrorGroup,
    Location,
    PartitionError,
    UserError,
    raise_collected,
    suggestion,
)
from orch.load.cache import ResultCache, content_key
from orch.load.dbt_python import DbtPythonModel
from orch.load.dbt_versions import node_id_name
from orch.load.parsing import PARSE_ERROR, ParsedModel
from orch.load.project import Project
from orch.load.rendering import Renderer, read_docs_blocks, resolve_doc_calls
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
from orch.sql import written_columns
from sqlglot import exp

if TYPE_CHECKING:
    from orch.compiler.helper_feed import HelperFeed

# what a compile cache entry holds (one without all of them is not trusted)
COMPILED_KEYS = frozenset(
    {"compiled", "compiled_incremental", "columns", "lineage", "versions", "reads"}
)


class ManifestCompiler(SqlCompiler):
    """Compiles a loaded, resolved project into its :class:`Manifest`."""

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
        dialect = target_dialect(project)
        super().__init__(project, settings or ModelSettings(project, dialect), dialect, renderer)
        self.generic_tests = generic_tests or {}
        self.compiled_files: CompiledFilesWriter | None = None
        self.singular = singular or []
        self.checks: dict[str, CheckNode] = {}
        self.parsed = parsed
        self.graph = graph
        self.cache = cache
        self.warnings: list[str] = []
        self.python_assets: dict[str, python_models.PythonAsset] = {}
        self.dbt_python: dict[str, DbtPythonModel] = {}
        self.output_columns: dict[str, list[str] | None] = {}  # None: not known from the SQL
        self.feed: HelperFeed | None = None  # the helper process compiling some models' SQL

    # ------------------------------------------------------------------ main loop

    def compile(self) -> Manifest:
        errors: list[UserError] = []
        failed: set[str] = set()
        if self.feed is not None:
            self.feed.start()
        for name in self.graph.order:
            if self.feed is not None:
                self.feed.feed()
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
                    self.nodes[name] = self.with_hooks(seed_node(self.project, self.settings, name))
                elif name in self.project.sources:
                    self.nodes[name] = self.compile_source(name)
                if self.feed is not None and name in self.nodes:
                    self.feed.node_done(name)
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
        if self.compiled_files is not None:  # written while the manifest is made
            for check in self.checks.values():
                if check.sql:
                    self.compiled_files.add(f"checks/{check.name}.sql", check.sql)
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
        context = hooks.run_hook_context(self.nodes, self.renderer)
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
            self.renderer,
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

    def plan(self, model: ParsedModel) -> ModelPlan:
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
        return ModelPlan(snapshot, config, description, patch_path, relation, refs, filters, key)

    def compile_model(self, model: ParsedModel) -> Node:
        plan = (self.feed.plans.pop(model.name, None) if self.feed else None) or self.plan(model)
        snapshot, config, relation, refs, filters = (
            plan.snapshot, plan.config, plan.relation, plan.refs, plan.filters
        )  # fmt: skip
        description, patch_path, key = plan.description, plan.patch_path, plan.key
        live = model.recording.uses_warehouse
        cached = self.cache.get(key)
        not_sql = self._not_sql(model.name, set())
        if not_sql is not None:
            cached = self._unread_ephemeral(model, config, not_sql)
        elif live:
            cached = self._parse_time_sql(model, relation, refs)
        elif cached is None or not COMPILED_KEYS <= cached.keys():  # never trust a foreign entry
            cached = None
            if self.feed is not None:
                cached = self.feed.result(model.name)  # None: not sent, or the helper could not
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

    def _not_sql(self, name: str, seen: set[str]) -> UserError | None:
        """The parse error of ``name``, or of an ephemeral model it inlines (through ephemeral
        models): a dbt model that is not SQL (orch.load.parsing keeps it, with its error)."""
        if name in seen:
            return None
        seen.add(name)
        parsed = self.parsed.get(name)
        if parsed is not None and PARSE_ERROR in parsed.extra:
            error: UserError = parsed.extra[PARSE_ERROR]
            return error
        for parent in self.graph.dag.parents(name):
            node = self.nodes.get(parent)
            if node is not None and node.relation is None and node.resource_type == "model":
                found = self._not_sql(parent, seen)
                if found is not None:
                    return found
        return None

    def _unread_ephemeral(
        self, model: ParsedModel, config: ModelConfig, error: UserError
    ) -> dict[str, Any]:
        """A dbt model that is not SQL, or inlines one: fine as dbt has it when it is ephemeral
        and nothing built or tested reads it (dbt never compiles it); else that parse error."""
        tested = {s.asset for s in collect_specs(self.project)}

        def needed(name: str, seen: set[str]) -> bool:
            """Built, tested, or read by what is: dbt compiles it then."""
            if name in seen:
                return False
            seen.add(name)
            parsed = self.parsed.get(name)
            if name in tested or parsed is None:
                return True
            materialized = self.settings.config_for(
                name, parsed.path, self.project.config.models, parsed.recording.config
            )[0].materialized
            return materialized != "ephemeral" or any(
                needed(child, seen) for child in self.graph.dag.children(name)
            )

        if config.materialized != "ephemeral" or needed(model.name, set()):
            raise error
        return {"columns": None, "lineage": {}, "versions": {}, "reads": None,
                "compiled": "", "compiled_incremental": None}  # fmt: skip

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
            table = self.scan(model, r.asset) or self.table_expr(up.relation.to_relation())
            written = written_columns(up.compiled_code, self.dialect)  # its quoted columns
            out[r.asset] = filtered_relation(
                table,  # type: ignore[arg-type]
                definition,
                up_spec.column,
                self.dialect,
                written,
            )
        return out


@dataclass
class ModelPlan:
    """What :meth:`ManifestCompiler.plan` decides for a model before its SQL work."""

    snapshot: bool
    config: ModelConfig
    description: str
    patch_path: str | None
    relation: Relation | None
    refs: dict[str, list[ResolvedRef]]
    filters: dict[str, exp.Subquery]
    key: str


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
