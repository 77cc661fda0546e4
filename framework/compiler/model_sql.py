"""A model's SQL work: compiled SQL (table names replaced, or transpiled), column lineage,
column versions and the upstream columns read — what the compile cache stores for a model.

:class:`SqlCompiler` holds only what that work reads (the compiled upstream nodes, the settings):
the compiler of the whole project extends it (orch.compiler.manifest_compiler), and the helper
process (orch.compiler.helper_feed) runs it alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

from orch.compiler.graph import SELF, ResolvedRef
from orch.compiler.lineage import (
    column_lineage,
    column_versions,
    forget_positions,
    output_columns,
    resolvable_as_written,
)
from orch.compiler.settings import ModelSettings
from orch.compiler.sources import source_node
from orch.errors import ConfigError, Location
from orch.load.cache import content_key
from orch.load.parsing import MARKER, ParsedModel, Variant
from orch.load.project import Project
from orch.load.rendering import THIS_MARKER, Renderer
from orch.manifest import Node
from orch.names import Relation
from orch.sql import (
    TableRef,
    expand_and_qualify,
    normalize_names,
    parse_query,
    qualify_tables,
    relation_table,
    replace_spans,
    sql_text,
    transpile,
)
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope


class SqlCompiler:
    """Compiles models' SQL against the upstream nodes compiled so far (:attr:`nodes`)."""

    def __init__(
        self,
        project: Project,
        settings: ModelSettings,
        dialect: str,
        renderer: Renderer | None = None,
    ) -> None:
        self.project = project
        self.settings = settings
        self.dialect = dialect
        self.renderer = renderer  # renders hooks; its target prints relations in text
        self.nodes: dict[str, Node] = {}
        self._partitioned: set[str] = set()  # partitioned models: per-step file scans
        self._rendered: dict[Relation, str] = {}  # render_relation's texts

    # ------------------------------------------------------------------ relations

    def table_expr(self, rel: Relation) -> exp.Table:
        return relation_table(rel)

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
    def compile_source(self, name: str) -> Node:
        return source_node(self.project, self.settings, name, self.dialect)

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
                scan = self.scan(model, r.asset)
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
                scan = self.scan(model, r.asset) if r.asset != SELF else None
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
            elif (scan := self.scan(model, r.asset)) is not None:
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

    def scan(self, model: ParsedModel, asset: str) -> exp.Expr | None:
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
        variant = model.full
        tree = variant.ast(model.dialect, model.path)
        aliases = _marker_aliases(model)
        query = qualify_tables(tree, mapping, aliases, copy=False, tables=variant.tables)
        variant.query = variant.tables = None
        forget_positions(query)  # the copies qualify and column versions make cost half as much
        scopes = traverse_scope(query)
        qualified: exp.Expr | None
        if resolvable_as_written(query, scopes):
            written = _identifier_texts(query)
            qualified = normalize_names(query, model.dialect)  # in place: the same nodes
            if _identifier_texts(qualified) != written:  # the scopes know sources by name
                scopes = traverse_scope(qualified)
        else:
            qualified = expand_and_qualify(query, schema, model.dialect, copy=False)
            if qualified is None:
                return output_columns(query), {}, {}, None
            scopes = traverse_scope(qualified)

        def asset_of(table: exp.Table) -> str | None:
            name = table.name
            if name.startswith("__asset_"):
                index = int(name[len("__asset_") :])
                return assets[index] if index < len(assets) else None
            return None

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


def _identifier_texts(query: exp.Expr) -> list[str]:
    return [node.this for node in query.find_all(exp.Identifier)]


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
