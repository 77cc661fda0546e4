"""Compile unit tests: the model's SQL with each input replaced by a fixture, for DuckDB.

A unit test compiles to a :class:`~orch.manifest.CheckNode` of kind ``unit`` whose ``args`` hold
everything :mod:`orch.run.unit_tests` needs to run it without the project: the fixture tables
(columns, types and rows), the model's SQL for DuckDB reading them, the expected rows, the
partition and whether the table after the run (``this:``) or the query's rows are compared.

- The SQL is the model's rendering (the ``is_incremental()`` variant when the test asks for it),
  or a new rendering with the test's ``overrides`` (vars, macros, env vars) by the project's
  :class:`~orch.load.rendering.Renderer`; its relations are replaced with
  :func:`orch.sql.qualify_tables` and it is transpiled from the model's dialect to DuckDB with
  :func:`orch.sql.transpile` (a construct that cannot be translated makes the test an error
  saying so, not the project).
- Each test reads its own schema (``__orch_ut_<n>``), so tests run in parallel in one database.
- A column type comes from the input's declared ``data_type`` (a seed's ``column_types``), else
  is inferred from the given values (integers, decimals, booleans, ISO dates and timestamps, else
  text); a column with no type and no value is an untyped NULL, which DuckDB casts to anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from orch.compiler.graph import SELF, AssetGraph, ResolvedRef
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    PartitionError,
    TemplateError,
    UserError,
    raise_collected,
    suggestion,
)
from orch.load.dbt_packages import render_scopes
from orch.load.parsing import ParsedModel
from orch.load.project import Project
from orch.load.rendering import THIS_MARKER, Renderer, TargetInfo
from orch.load.unit_tests import GivenInput, Rows, UnitTestSpec
from orch.manifest import CheckNode, Node
from orch.partitions import TimeWindows, definition_of, filtered_relation, window_condition
from orch.sql import parse_query, qualify_tables, table_references, transpile
from sqlglot import exp

RUN_DIALECT = "duckdb"
SCHEMA_PREFIX = "__orch_ut_"
FIXTURE_ALIAS = "__orch_fixture"

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_INT32 = 2**31 - 1


@dataclass
class UnitTestCompiler:
    """Compiles a project's unit tests against its compiled nodes."""

    project: Project
    parsed: dict[str, ParsedModel]
    graph: AssetGraph
    nodes: dict[str, Node]
    output_columns: dict[str, list[str] | None]
    make_renderer: Callable[[dict[str, Any]], Renderer]

    def compile(self, taken: set[str]) -> dict[str, CheckNode]:
        """Every unit test of a compiled model; ``taken`` are the check names already used."""
        out: dict[str, CheckNode] = {}
        where: dict[str, str] = {}
        errors: list[UserError] = []
        specs = sorted(self.project.unit_tests, key=lambda s: (s.name, s.path))
        known_models = [*self.project.models]
        for index, spec in enumerate(specs):
            if spec.model not in self.project.models:
                errors.append(
                    ConfigError(
                        f"unit test '{spec.name}' is for the model '{spec.model}', which does "
                        "not exist",
                        location=spec.model_location,
                        hint=suggestion(spec.model, known_models, closest=True)
                        or "Name a model of this project (its file name without .sql/.py)",
                    )
                )
                continue
            if spec.model not in self.nodes:
                continue  # a scoped compile left it out
            if spec.name in out or spec.name in taken:
                other = where.get(spec.name, "a data check of that name")
                errors.append(
                    DuplicateNameError(
                        f"the unit test name '{spec.name}' is used twice: {other} and "
                        f"{spec.location}",
                        location=spec.location,
                        hint="Give each unit test its own name",
                    )
                )
                continue
            try:
                out[spec.name] = self.compile_one(spec, f"{SCHEMA_PREFIX}{index}")
                where[spec.name] = str(spec.location)
            except UserError as err:
                errors.append(err)
        raise_collected(errors)
        return out

    # ------------------------------------------------------------------ one test

    def compile_one(self, spec: UnitTestSpec, schema: str) -> CheckNode:
        """The check node of one unit test (raises UserError for a test that cannot be run)."""
        node = self.nodes[spec.model]
        self._fixture_error: str | None = None  # a SQL fixture that could not be rendered
        parents = set(self.graph.dag.parents(spec.model))
        inputs: dict[str, GivenInput] = {}
        this_given: GivenInput | None = None
        for given in spec.given:
            if given.kind == "this":
                this_given = given
                continue
            asset = self._resolve_input(spec, given, parents)
            inputs[asset] = given
        partition = self._partition(spec, node)
        self._check_macro_overrides(spec)
        args: dict[str, Any] = {
            "schema": schema,
            "language": node.language,
            "location": str(spec.location),
            "model_path": node.path,
            "partition": partition,
            "mode": "table" if spec.this is not None else "query",
            "vars": spec.vars,
            "resources": spec.resources,
            "error": None,
        }
        incremental = spec.is_incremental
        if incremental is None:
            incremental = spec.this is not None and node.materialized == "incremental"
        args["incremental"] = incremental
        args["inputs"] = [
            self._table(spec, given, asset, asset_table(asset))
            for asset, given in sorted(inputs.items())
        ]
        # with vars, env vars or macros overridden the model renders differently, so its
        # columns are known only when it runs (orch.run.unit_tests checks expect then)
        own_columns = None if _overridden(spec) else self.output_columns.get(spec.model)
        this_rows = spec.this or (this_given.data if this_given is not None else None)
        args["this"] = None
        if this_rows is not None:
            args["this"] = self._rows_table(
                spec, this_rows, "this", own_columns, node, spec.model, prior=True
            )
        # a query-mode SQL test reads its fixtures inline (VALUES): one query, no tables
        inline: dict[str, exp.Query] | None = None
        if self._fixture_error is not None:
            args["error"] = self._fixture_error  # as in dbt: this test errors, the build goes on
        elif args["mode"] == "query":
            inline = {g["asset"]: fixture_select(g) for g in args["inputs"]}
            if args["this"] is not None:
                inline[SELF] = fixture_select(args["this"])
        args["inline"] = inline is not None
        reads: list[ResolvedRef] = []
        if node.language == "sql" and args["error"] is not None:
            args["sql"] = args["full_sql"] = ""
            read_assets = set(node.depends_on)
        elif node.language == "sql":
            try:
                sql, full_sql, reads = self._sql(spec, node, schema, incremental, inline)
                args["sql"], args["full_sql"] = sql, full_sql
            except UserError as err:  # e.g. a construct DuckDB cannot run: the test errors
                args["error"] = f"cannot run in DuckDB: {err.format_message()}"
                args["sql"] = args["full_sql"] = ""
            read_assets = {r.asset for r in reads}
        else:
            read_assets = set(node.depends_on)
        missing = sorted(read_assets - set(inputs) - {SELF})
        if missing and args["error"] is None:
            raise ConfigError(
                f"unit test '{spec.name}': the model '{spec.model}' reads "
                + ", ".join(_spelled(self.nodes.get(m), m) for m in missing)
                + ", not given",
                location=spec.location,
                hint="Give rows for every input (rows: [] for an empty table)",
            )
        if SELF in read_assets and this_given is None and spec.this is None:
            raise ConfigError(
                f"unit test '{spec.name}': the model reads {{{{ this }}}} (its own table)",
                location=spec.location,
                hint="Give its rows with this: (expect the table after the run) or "
                "given: - input: this (expect the rows the model returns)",
            )
        expect = spec.expect
        args["expect"] = None  # orch.testing.unit_test without expect: only the output is kept
        if expect is not None:
            self._check_columns(spec, expect, "expect", spec.model, own_columns, produces=True)
            args["expect"] = {**expect.to_json(), "sql": self._fixture_sql(spec, expect, node)}
        if self._fixture_error is not None and args["error"] is None:
            args["error"] = self._fixture_error
        return CheckNode(
            name=spec.name,
            unique_id=f"unit_test.{self.project.name}.{spec.model}.{spec.name}",
            kind="unit",
            check_type="unit",
            asset=spec.model,
            args=args,
            severity="error",
            sql=args.get("sql") or "",
            path=spec.path,
            description=spec.description,
            depends_on=[spec.model],
            tags=list(spec.tags),
        )

    def _resolve_input(self, spec: UnitTestSpec, given: GivenInput, parents: set[str]) -> str:
        name = given.name
        asset: str | None = None
        if given.kind == "ref":
            asset = name if name in self.project.models or name in self.project.seeds else None
        elif given.kind == "source":
            asset = name if name in self.project.sources else None
        else:
            if name in self.nodes:
                asset = name
            else:
                found = [s for s in self.project.sources if s.split(".", 1)[1] == name]
                asset = found[0] if len(found) == 1 else None
        if asset is None:
            raise ConfigError(
                f"unit test '{spec.name}': given input {given.written} names nothing in this "
                "project",
                location=given.location,
                hint=suggestion(name, [*self.project.models, *self.project.seeds,
                                       *self.project.sources], closest=True)
                or "Name a model, seed or declared source",
            )  # fmt: skip
        if asset not in parents:
            reads = ", ".join(_spelled(self.nodes.get(p), p) for p in sorted(parents)) or "nothing"
            raise ConfigError(
                f"unit test '{spec.name}': given input {given.written} is not an upstream of "
                f"'{spec.model}' (it reads {reads})",
                location=given.location,
                hint="Give rows only for what the model reads; remove this input",
            )
        return asset

    def _check_macro_overrides(self, spec: UnitTestSpec) -> None:
        """A ``pkg.macro`` override names an installed package (or this project, or dbt)."""
        known = self.make_renderer({}).macro_packages()
        for name in spec.macros:
            package = name.rpartition(".")[0]
            if package and package not in known:
                raise ConfigError(
                    f"unit test '{spec.name}': the macro override '{name}' names the package "
                    f"'{package}', which is not installed",
                    location=spec.location,
                    hint=suggestion(package, known)
                    or "Name a macro of this project or of a package in dbt_packages/",
                )

    def _partition(self, spec: UnitTestSpec, node: Node) -> str | None:
        config = node.config.partitioned_by
        if config is None:
            if spec.partition is not None:
                raise ConfigError(
                    f"unit test '{spec.name}': partition given, but '{spec.model}' is not "
                    "partitioned",
                    location=spec.location,
                    hint="Remove 'partition:'",
                )
            return None
        if spec.partition is None:
            raise ConfigError(
                f"unit test '{spec.name}': '{spec.model}' is partitioned: the test needs the "
                "partition it builds",
                location=spec.location,
                hint="Add partition: <key> (e.g. partition: '2024-01-31' for a daily model)",
            )
        try:
            definition_of(config, asset=spec.model).validate(spec.partition)
        except PartitionError as err:
            raise ConfigError(
                f"unit test '{spec.name}': {err.message}", location=spec.location, hint=err.hint
            ) from None
        return spec.partition

    # ------------------------------------------------------------------ SQL

    def _sql(
        self,
        spec: UnitTestSpec,
        node: Node,
        schema: str,
        incremental: bool,
        inline: dict[str, exp.Query] | None,
    ) -> tuple[str, str, list[ResolvedRef]]:
        model = self.parsed[spec.model]
        sql, refs = self._variant_sql(spec, model, node, schema, incremental, inline)
        if incremental and inline is None:  # the table's types come from the full query
            full, _ = self._variant_sql(spec, model, node, schema, False, inline)
        else:
            full = sql
        return sql, full, refs

    def _variant_sql(
        self,
        spec: UnitTestSpec,
        model: ParsedModel,
        node: Node,
        schema: str,
        incremental: bool,
        inline: dict[str, exp.Query] | None,
    ) -> tuple[str, list[ResolvedRef]]:
        overridden = _overridden(spec)
        stock = self.graph.refs.get(model.name, {})
        if not overridden:
            if model.recording.uses_warehouse:
                raise _queries_warehouse(spec, model)
            variant = model.incremental if incremental and model.incremental else model.full
            key = "incremental" if variant is model.incremental else "full"
            query = variant.ast(model.dialect, model.path)
            refs = stock.get(key, [])
            aliases = _marker_aliases(model.recording.refs, model.recording.sources)
        else:
            query, refs, aliases = self._render_with_overrides(spec, model, incremental, stock)
        mapping: dict[str, exp.Expr] = {}
        partition = node.config.partitioned_by
        definition = definition_of(partition, asset=model.name) if partition else None
        for r in refs:
            table: exp.Expr = exp.Table(
                this=exp.to_identifier(
                    spec.model if r.asset == SELF else asset_table(r.asset), quoted=True
                ),
                db=exp.to_identifier(schema, quoted=True),
            )
            if inline is not None and r.asset in inline:
                table = inline[r.asset].subquery(FIXTURE_ALIAS, copy=False)
            up = self.nodes.get(r.asset)
            wanted = partition.filter_upstream if partition is not None else False
            up_spec = up.config.partitioned_by if up is not None else None
            if (
                isinstance(definition, TimeWindows)
                and wanted is not False
                and (not isinstance(wanted, list) or r.asset in wanted)
                and up_spec is not None
                and up_spec.grain is not None
                and up_spec.column
            ):
                if isinstance(table, exp.Table):
                    mapping[r.ref.dotted] = filtered_relation(
                        table, definition, up_spec.column, RUN_DIALECT
                    )
                else:
                    condition = window_condition(definition, up_spec.column, RUN_DIALECT)
                    mapping[r.ref.dotted] = exp.select("*").from_(table).where(condition).subquery()
            else:
                mapping[r.ref.dotted] = table
        qualified = qualify_tables(query, mapping, aliases)  # type: ignore[arg-type]
        return transpile(qualified, RUN_DIALECT, model.path, source=model.dialect), refs

    def _render_with_overrides(
        self,
        spec: UnitTestSpec,
        model: ParsedModel,
        incremental: bool,
        stock: dict[str, list[ResolvedRef]],
    ) -> tuple[exp.Expr, list[ResolvedRef], dict[str, str]]:
        renderer = self.make_renderer(spec.vars)
        in_packages: dict[tuple[str, str], Callable[..., Any]] = {}
        for name, value in spec.macros.items():
            package, _, macro = name.rpartition(".")
            if package and package != self.project.name:
                in_packages[(package, macro)] = _constant(value)
            elif macro != "is_incremental":
                renderer.env.globals[macro] = _constant(value)
        if spec.env_vars:
            original: Callable[..., Any] = renderer.env.globals["env_var"]  # type: ignore[assignment]

            def env_var(name: str, default: Any = None) -> Any:
                if name in spec.env_vars:
                    return spec.env_vars[name]
                return original(name) if default is None else original(name, default)

            renderer.env.globals["env_var"] = env_var
        with renderer.package_macros_overridden(in_packages):
            text, recording = renderer.render(model.raw, model.path, incremental=incremental)
        if recording.uses_warehouse:
            raise _queries_warehouse(spec, model)
        query = parse_query(text, model.dialect, model.path)
        by_name = {r.ref.dotted: r.asset for refs in stock.values() for r in refs}
        refs: list[ResolvedRef] = []
        for ref in table_references(query, text):
            if ref.name in recording.refs:
                target = recording.refs[ref.name]
                asset = target if target in self.nodes else by_name.get(ref.dotted, target)
            elif ref.name in recording.sources:
                asset = ".".join(recording.sources[ref.name])
            elif ref.name == THIS_MARKER:
                asset = SELF
            else:
                asset = by_name.get(ref.dotted) or ref.name
            refs.append(ResolvedRef(ref, asset))
        return query, refs, _marker_aliases(recording.refs, recording.sources)

    def _fixture_sql(self, spec: UnitTestSpec, rows: Rows, node: Node) -> str | None:
        if rows.format != "sql" or rows.sql is None:
            return None
        model = self.parsed.get(node.name)
        dialect = model.dialect if model is not None else self.project.config.dialect
        path = rows.location.path or spec.path
        text = rows.sql
        if "{" in text:  # dbt renders a SQL fixture as a template when the test runs
            renderer = self.make_renderer({})
            try:  # (execute is True), with the project's vars, not the test's (as dbt 1.11)
                text, recording = renderer.render(text, path, context={"execute": True})
            except TemplateError as err:
                recording = renderer.last_recording
                if not recording.uses_warehouse:  # run_query() is None before the run
                    self._fixture_error = self._fixture_error or (
                        f"has a SQL fixture that cannot be rendered: {err.format_message()}"
                    )
                    return ""
            if recording.refs or recording.sources or recording.uses_warehouse:
                self._fixture_error = self._fixture_error or (
                    f"has a SQL fixture ({rows.location}) that calls ref() or source(), or "
                    "queries the warehouse (run_query, statement, a macro reading execute...) "
                    "while rendering, which orch does only before the run: write its rows as a "
                    "SELECT of literal values"
                )
                return ""
        query = parse_query(text, dialect, path)
        return transpile(query, RUN_DIALECT, path, source=dialect)

    # ------------------------------------------------------------------ fixture tables

    def _table(self, spec: UnitTestSpec, given: GivenInput, asset: str, table: str) -> dict:
        node = self.nodes[asset]
        known = _known_columns(node, self.output_columns.get(asset))
        out = self._rows_table(spec, given.data, f"given {given.written}", known, node, asset)
        return {**out, "asset": asset, "table": table, "given": given.written}

    def _rows_table(
        self,
        spec: UnitTestSpec,
        rows: Rows,
        what: str,
        known: list[str] | None,
        node: Node,
        asset: str,
        *,
        prior: bool = False,
    ) -> dict[str, Any]:
        self._check_columns(spec, rows, what, asset, known, produces=prior)
        declared = {c: i.data_type for c, i in node.columns.items() if i.data_type}
        declared.update({c: t for c, t in node.config.column_types.items() if t})
        columns = list(known or [])
        lower = {c.lower() for c in columns}
        columns += [c for c in rows.columns if c.lower() not in lower]
        by_lower = {c.lower(): c for c in rows.columns}
        types: list[list[Any]] = []
        for col in columns:
            given_as = by_lower.get(col.lower())
            data_type = declared.get(col)
            if data_type is None and given_as is not None:
                data_type = infer_type([r.get(given_as) for r in rows.rows], typed=rows.typed)
            types.append([col, data_type, given_as])
        return {
            **rows.to_json(),
            "sql": self._fixture_sql(spec, rows, self.nodes[spec.model]),
            "table_columns": types,
            "what": what,
        }

    def _check_columns(
        self,
        spec: UnitTestSpec,
        rows: Rows,
        what: str,
        asset: str,
        known: list[str] | None,
        *,
        produces: bool,
    ) -> None:
        if not known or rows.format == "sql":
            return
        lower = {c.lower() for c in known}
        for i, row in enumerate(rows.rows):
            for col in row:
                if col.lower() in lower:
                    continue
                verb = "produce" if produces else "have"
                loc = rows.row_locations[i] if i < len(rows.row_locations) else rows.location
                raise ConfigError(
                    f"unit test '{spec.name}': {what} names the column '{col}', which "
                    f"'{asset}' does not {verb} (its columns: {', '.join(known)})",
                    location=loc,
                    hint=suggestion(col, known) or "Use one of its columns",
                )


def asset_table(asset: str) -> str:
    """The fixture table standing for ``asset`` inside a test's schema."""
    return "in_" + asset.replace(".", "__")


def infer_type(values: list[Any], *, typed: bool) -> str | None:
    """The SQL type of a column from its given values (None: no value to tell by)."""
    kinds: set[str] = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add("BOOLEAN")
        elif isinstance(value, int):
            kinds.add("INTEGER" if abs(value) <= _INT32 else "BIGINT")
        elif isinstance(value, float):
            kinds.add("DOUBLE")
        else:
            kinds.add(_text_type(str(value), typed))
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"INTEGER", "BIGINT"}:
        return "BIGINT"
    if kinds <= {"INTEGER", "BIGINT", "DOUBLE"}:
        return "DOUBLE"
    if kinds <= {"DATE", "TIMESTAMP"}:
        return "TIMESTAMP"
    return "VARCHAR"


def _text_type(text: str, typed: bool) -> str:
    if _DATE.match(text):
        return "DATE"
    if _TIMESTAMP.match(text):
        return "TIMESTAMP"
    if typed:  # YAML already typed numbers and booleans: quoted text stays text
        return "VARCHAR"
    if _INT.match(text):
        return "INTEGER" if abs(int(text)) <= _INT32 else "BIGINT"
    if _FLOAT.match(text):
        return "DOUBLE"
    if text.lower() in ("true", "false"):
        return "BOOLEAN"
    return "VARCHAR"


def _known_columns(node: Node, output: list[str] | None) -> list[str] | None:
    """The input's full column list when it is known for certain (None: not known)."""
    if node.resource_type in ("seed", "source"):
        return list(node.columns) or None
    return list(output) if output else None


def _spelled(node: Node | None, name: str) -> str:
    if node is not None and node.resource_type == "source" and node.source_name:
        return f"source('{node.source_name}', '{node.source_table}')"
    return f"ref('{name}')"


def _constant(value: Any) -> Callable[..., Any]:
    def macro(*args: Any, **kwargs: Any) -> Any:
        return value

    return macro


def _marker_aliases(refs: dict[str, str], sources: dict[str, tuple[str, str]]) -> dict[str, str]:
    aliases = dict(refs)
    aliases.update({marker: table for marker, (_, table) in sources.items()})
    return aliases


def _overridden(spec: UnitTestSpec) -> bool:
    """Whether the test renders the model with vars, env vars or macros of its own."""
    return bool(spec.vars or spec.env_vars or set(spec.macros) - {"is_incremental"})


def _queries_warehouse(spec: UnitTestSpec, model: ParsedModel) -> ConfigError:
    """A unit test of a model whose SQL is known only at run time, from the warehouse."""
    return ConfigError(
        f"unit test '{spec.name}': the model '{model.name}' queries the warehouse while "
        "rendering (run_query, statement, execute, adapter.get_columns_in_relation...), which a "
        "unit test cannot do: orch would test dbt's parse-time SQL",
        location=spec.location,
        hint="Override those macros under 'overrides: macros:' with fixed values, or unit-test "
        "a model that does not query the warehouse",
    )


def overrides_renderer(project: Project, base: Renderer) -> Callable[[dict[str, Any]], Renderer]:
    """Makes renderers with a test's vars on top of the project's (one per distinct set)."""
    made: dict[str, tuple[Renderer, dict[str, Any]]] = {}

    def make(variables: dict[str, Any]) -> Renderer:
        key = json.dumps(variables, sort_keys=True, default=str)
        if key not in made:
            target: TargetInfo = base.target
            renderer = Renderer(
                project_name=project.name,
                target=target,
                variables={**project.variables, **variables},
                macro_files=project.macro_files,
                docs=base.docs,
                packages=render_scopes(project.packages, project.package_variables),
                dispatch=project.dispatch,
                lenient_undefined=project.flavor == "dbt",
                versions=project.model_versions,
            )
            made[key] = (renderer, dict(renderer.env.globals))
        renderer, pristine = made[key]
        renderer.env.globals = dict(pristine)  # macro overrides are per test
        return renderer

    return make


def fixture_select(rows: dict[str, Any], types: dict[str, str] | None = None) -> exp.Query:
    """``SELECT CAST(v.c0 AS t) AS col, ... FROM (VALUES ...) AS v`` for dict/csv rows (a
    column not given is NULL); the fixture's own SQL (already DuckDB's) for the sql format.

    ``rows`` is a fixture as compiled (``table_columns``: ``[column, type, given as]``);
    ``types`` (lower-case column -> type) overrides the compiled types.
    """
    columns: list[list[Any]] = rows["table_columns"]
    if rows["format"] == "sql":
        inner = parse_query(rows["sql"], RUN_DIALECT, str(rows.get("location") or "unit test"))
        assert isinstance(inner, exp.Query)
        return inner
    projections: list[exp.Expr] = []
    given_cols = [c for c in columns if c[2] is not None]
    index_of = {c[0]: i for i, c in enumerate(given_cols)}
    for col, data_type, given_as in columns:
        data_type = (types or {}).get(col.lower(), data_type)
        value: exp.Expr = exp.Null() if given_as is None else exp.column(f"c{index_of[col]}", "v")
        if data_type:
            value = exp.cast(value, sql_type(data_type))
        projections.append(exp.alias_(value, exp.to_identifier(col, quoted=True)))
    select = exp.Select(expressions=projections)
    body = rows["rows"]
    if given_cols and body:
        values = exp.Values(
            expressions=[
                exp.Tuple(expressions=[literal(r.get(c[2])) for c in given_cols]) for r in body
            ],
            alias=exp.TableAlias(
                this=exp.to_identifier("v"),
                columns=[exp.to_identifier(f"c{i}") for i in range(len(given_cols))],
            ),
        )
        return select.from_(values, copy=False)
    return select.where(exp.false(), copy=False)


def literal(value: Any) -> exp.Expr:
    """A fixture cell as a SQL literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(repr(value) if isinstance(value, float) else value)
    return exp.Literal.string(str(value))


@lru_cache(maxsize=512)
def _type_tree(data_type: str) -> exp.DataType:
    return exp.DataType.build(data_type, dialect=RUN_DIALECT, udt=True)


def sql_type(data_type: str) -> exp.DataType:
    """A type name as a sqlglot type for DuckDB (parsed once per name)."""
    return _type_tree(data_type).copy()
