"""Check specs -> CheckNodes: one query returning failing rows per check, for the target dialect.

Every check compiles to ONE query returning its failing rows, built as sqlglot expressions against
the asset's compiled relation, in the target dialect. The only SQL text pasted in is the user's own
``expression``/``where``, parsed through :mod:`orch.sql` first.

Built-in check types (dbt spelling accepted: ``checks:``, ``tests:`` or ``data_tests:``):

- ``not_null``, ``unique`` (column level)
- ``accepted_values: {values: [...], quote: true}``
- ``relationships: {to: ref('customers'), field: id}``
- ``expression: "amount >= 0"`` (dbt_utils ``expression_is_true``; at column level an expression
  starting with an operator applies to the column: ``expression: ">= 0"``)
- ``row_count: {min: 1, max: 1000000}``
- ``freshness: {column: updated_at, max_age: 24h}``
- ``unique_combination: {columns: [a, b]}`` (dbt_utils ``unique_combination_of_columns``)

Arguments may sit directly under the type or under ``arguments:`` (dbt 1.10); settings under
``config:`` (or directly): ``severity``, ``where``, ``warn_if``, ``error_if``, ``blocking``,
``tags``, ``name``, ``enabled``, ``description``.

The check-argument models live in ``check_specs`` rather than in ``config.py`` because each is tied
to the SQL its type compiles to; they follow the same rules (unknown keys are errors naming
file:line).

Specs and argument models are in :mod:`orch.compiler.check_specs`; the SQL work done at run time
(retargeting a check's query to a staged relation or to one partition, folding row-level checks
into one scan, the status a failing-row count means) is in :mod:`orch.run.check_sql`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orch.compiler.check_specs import (
    _ARG_ALIASES,
    _DURATION,
    _OPERATOR_START,
    _REF,
    _SOURCE,
    _THRESHOLD,
    _UNITS,
    ALIASES,
    BUILTIN_TYPES,
    MAX_NAME,
    AcceptedValuesArgs,
    CheckSpec,
    ExpressionArgs,
    FreshnessArgs,
    RelationshipsArgs,
    RowCountArgs,
    SingularCheck,
    UniqueCombinationArgs,
    collect_specs,
    custom_test_of,
    render_arguments,
    render_config,
    split_arguments,
    split_entry,
    with_folder_config,
)
from orch.compiler.graph import SELF, ResolvedRef
from orch.compiler.settings import external_source
from orch.config import OrchModel, merge_model_config
from orch.errors import ConfigError, ErrorGroup, Location, UserError, raise_collected, suggestion
from orch.load.dbt import (
    generic_test_alias,
    generic_test_config,
    generic_test_hash,
    generic_test_name,
    where_subquery,
)
from orch.load.parsing import ParsedModel
from orch.load.project import Project
from orch.manifest import CheckNode, Node
from orch.names import normalize_identifier
from orch.sql import parse_condition, parse_query, transpile, written_columns
from orch.storage import stored_outside_warehouse
from pydantic import ValidationError
from sqlglot import exp

if TYPE_CHECKING:
    from orch.load.rendering import Renderer

# --------------------------------------------------------------------------- compiling


CompileSql = Callable[[ParsedModel, list[ResolvedRef]], str]


@dataclass
class CheckCompiler:
    """Turns specs and singular checks into CheckNodes for one compiled set of nodes."""

    project: Project
    nodes: dict[str, Node]
    dialect: str  # target dialect
    warnings: list[str] = field(default_factory=list)
    generic_tests: dict[str, str] = field(default_factory=dict)  # custom test -> defining file
    renderer: Renderer | None = None  # a dbt project's: its tests' config values are rendered

    def __post_init__(self) -> None:
        self.source_dialect = self.project.config.dialect
        self.names: dict[str, str] = {}  # check name -> where it was declared
        self.unique_ids: set[str] = set()  # of dbt projects' tests
        self.expressions: dict[str, exp.Expr] = {}  # dbt test columns that are SQL expressions

    # ------------------------------------------------------------------ entry points

    def compile(
        self,
        specs: list[CheckSpec],
        singular: list[SingularCheck],
        compile_sql: CompileSql,
    ) -> dict[str, CheckNode]:
        """Every check whose assets are compiled here; raises every user error together."""
        errors: list[UserError] = []
        checks: dict[str, CheckNode] = {}
        for spec in specs:
            if custom_test_of(spec, self.project, self.generic_tests) is not None:
                continue  # a custom generic test: rendered and parsed with the singular checks
            try:
                check = self.compile_spec(spec)
            except ErrorGroup as group:
                errors.extend(group.errors)
                continue
            except UserError as err:
                errors.append(err)
                continue
            if check is not None:
                checks[check.name] = check
        for item in singular:
            try:
                check = self.compile_singular(item, compile_sql)
            except UserError as err:
                errors.append(err)
                continue
            if check is not None:
                checks[check.name] = check
        raise_collected(errors)
        return dict(sorted(checks.items()))

    def compile_spec(self, spec: CheckSpec) -> CheckNode | None:
        """One YAML check; None when its asset is not part of this compile (a scoped load)."""
        check_type, args, config = self._split(spec)
        written_args = dict(args)  # for dbt's test names
        dbt_name = None
        if not config.get("name") and self.project.flavor == "dbt":  # dbt's own names
            source = spec.asset in self.project.sources
            dbt_name = generic_test_name(
                spec.raw, spec.asset, written_args.get("column_name", spec.column),
                {k: v for k, v in written_args.items() if k != "column_name"}, source,
            )  # fmt: skip
        config = with_folder_config(
            self.project, config, spec.doc.path, str(config.get("name") or dbt_name or "")
        )
        if config.get("enabled") is False:
            return None
        node = self.nodes.get(spec.asset)
        if node is None:
            return None
        ctype = BUILTIN_TYPES[check_type]
        args = render_arguments(args, spec, self.renderer)
        column = args.pop("column_name", None) or spec.column
        if ctype.column_level and column is None:
            raise ConfigError(
                f"check '{check_type}' on '{spec.asset}' needs a column",
                location=spec.location,
                hint="Declare it under the column's 'checks:' list, or add column_name: <column>",
            )
        try:
            parsed_args = ctype.args.model_validate(args)
        except ValidationError as err:
            items = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
            item = items[0]  # an unknown argument first: it often explains a missing one
            where = ".".join(str(p) for p in item["loc"]) or check_type
            allowed = (
                ", ".join((f.alias or n) for n, f in ctype.args.model_fields.items())
                or "no arguments"
            )
            if item["type"] == "extra_forbidden":
                what = f"unknown argument '{where}'"
            elif item["type"] == "missing":
                what = f"missing argument '{where}'"
            else:
                what = f"invalid argument '{where}': {item['msg']}"
            raise ConfigError(
                f"check '{check_type}' on '{spec.asset}': {what}",
                location=spec.location,
                hint=f"'{check_type}' takes: {allowed}",
            ) from None
        if node.resource_type == "model" and stored_outside_warehouse(
            node.materialized,
            node.python.io_manager if node.python else None,
            self.project.config.resources,
            self.project.target_name,
        ):
            raise ConfigError(
                f"check '{check_type}' on '{spec.asset}': the asset is stored outside the "
                "warehouse (IO manager or materialized='external'), where checks cannot run",
                location=spec.location,
                hint="Attach the check to a downstream model that reads it (or store the asset "
                "in the warehouse)",
            )
        if column is not None:
            column = self._column(node, column, spec)
        settings = self._settings(config, spec.location)
        built = self._build(check_type, node, column, parsed_args, settings, spec)
        if built is None:
            return None
        query, depends_on, stored_args = built
        dbt_config: dict[str, Any] = {}
        if self.project.flavor == "dbt":
            dbt_config = self._dbt_config(spec.raw, spec.asset, written_args, spec.column, config)
        name = (config.get("name") or dbt_name
                or self._name(check_type, spec.asset, column, stored_args))  # fmt: skip
        written_name = str(name)
        name = self._unique_name(written_name, str(spec.location))
        unique_id = f"check.{self.project.name}.{name}"
        if self.project.flavor == "dbt":  # dbt's unique_id: test.<project>.<name>.<hash>
            kwargs = {**written_args, **({"column_name": column} if column else {})}
            unique_id = self._dbt_unique_id(written_name, name, check_type, kwargs, spec.asset)
        return CheckNode(
            name=name,
            unique_id=unique_id,
            kind="builtin",
            check_type=check_type,
            asset=spec.asset,
            column=column,
            args=stored_args,
            severity=settings["severity"],
            blocking=settings["blocking"],
            warn_if=settings["warn_if"],
            error_if=settings["error_if"],
            where=settings["where"],
            store_failures=settings["store_failures"],
            dbt_config=dbt_config,
            fail_calc=settings["fail_calc"],
            sql=transpile(query, self.dialect, spec.doc.path),
            path=spec.doc.path,
            description=str(config.get("description") or ""),
            depends_on=depends_on,
            tags=settings["tags"],
        )

    def compile_singular(self, item: SingularCheck, compile_sql: CompileSql) -> CheckNode | None:
        """A ``checks/*.sql`` file, attached to the most downstream asset it reads; or a custom
        generic test's use, attached to the asset it is declared on."""
        assets = sorted({r.asset for r in item.refs if r.asset != SELF})
        recording = item.parsed.recording
        if recording.uses_warehouse:  # no SQL to parse yet: what its template ref()s/source()s
            assets = sorted({*assets, *recording.refs.values(),
                             *(f"{s}.{t}" for s, t in recording.sources.values())})  # fmt: skip
        if any(a not in self.nodes for a in assets):
            return None
        use = item.generic
        path = item.parsed.path if use is None else use.spec.doc.path
        # the project file's folder settings, config() in the test's definition, then the YAML
        # use's config (dbt's precedence); a custom test's use carries its folder settings
        if use is None:
            config = with_folder_config(
                self.project,
                item.parsed.recording.config,
                path,
                str(item.parsed.recording.config.get("name") or item.name),
            )
        else:
            config = merge_model_config([use.folder, item.parsed.recording.config, use.config])
        if config.get("enabled") is False:
            return None
        location = Location(path, 1, 1) if use is None else use.spec.location
        settings = self._settings(config, location)
        order = list(self.nodes)
        attached = max(assets, key=order.index) if assets else None
        name = str(config.get("name") or item.name)
        if use is not None:
            attached = use.spec.asset
            if not config.get("name"):
                source = use.spec.asset in self.project.sources
                name = generic_test_name(use.spec.raw, use.spec.asset, use.column, use.args, source)
        written_name = name
        name = self._unique_name(name, str(location))
        dbt_config: dict[str, Any] = {}
        if use is not None and self.project.flavor == "dbt":
            dbt_config = self._dbt_config(
                use.spec.raw, use.spec.asset, use.args, use.column, use.config
            )

        live = recording.uses_warehouse  # rendered again right before it runs
        unique_id = f"check.{self.project.name}.{name}"
        if use is not None and self.project.flavor == "dbt":  # test.<project>.<name>.<hash>
            kwargs = {**use.args, **({"column_name": use.column} if use.column else {})}
            unique_id = self._dbt_unique_id(written_name, name, use.test, kwargs, use.spec.asset)
        return CheckNode(
            name=name,
            unique_id=unique_id,
            kind="singular" if use is None else "generic",
            check_type="singular" if use is None else use.test,
            asset=attached,
            column=use.column if use is not None else None,
            args=_jsonable_args(use.args) if use is not None else {},
            dbt_config=dbt_config,
            dbt_unrendered_config={**item.parsed.recording.config, **dbt_config}
            if use is not None and self.project.flavor == "dbt"
            else None,
            where=settings["where"],
            store_failures=settings["store_failures"],
            fail_calc=settings["fail_calc"],
            severity=settings["severity"],
            blocking=settings["blocking"],
            warn_if=settings["warn_if"],
            error_if=settings["error_if"],
            sql="" if live else compile_sql(item.parsed, item.refs),
            rendered_at_run_time=live,
            raw_code=item.parsed.raw if live else "",
            path=path,
            description=str(config.get("description") or ""),
            depends_on=assets,
            tags=settings["tags"],
        )

    def _dbt_config(
        self,
        raw: Any,
        asset: str,
        args: dict[str, Any],
        column: str | None,
        config: dict[str, Any],
    ) -> dict[str, Any]:
        """dbt's record of a YAML generic test's config (orch.load.dbt.generic_test_config)."""
        column = args.get("column_name", column)
        rest = {k: v for k, v in args.items() if k != "column_name"}
        source = asset in self.project.sources
        alias = None if config.get("name") else generic_test_alias(raw, asset, column, rest, source)
        return generic_test_config(config, alias)

    # ------------------------------------------------------------------ spec parsing

    def _split(self, spec: CheckSpec) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """``- unique`` / ``- accepted_values: {...}`` -> (type, arguments, config)."""
        name, body = split_entry(spec)
        if "." in name:  # dbt_utils.expression_is_true
            name = name.rsplit(".", 1)[1]
        check_type = ALIASES.get(name, name)
        if check_type not in BUILTIN_TYPES:
            known = [*BUILTIN_TYPES, *[a for a, t in ALIASES.items() if t]]
            raise ConfigError(
                f"unknown check type '{name}' on '{spec.asset}'",
                location=spec.location,
                hint=suggestion(name, known)
                or f"Known check types: {', '.join(sorted(known))}; write a custom check as a "
                "SQL file in checks/"
                + (" or a {% test %} block in macros/" if self.project.flavor == "dbt" else ""),
            )
        ctype = BUILTIN_TYPES[check_type]
        args: dict[str, Any] = {}
        config: dict[str, Any] = {}
        if isinstance(body, dict):
            args, config = split_arguments(spec, body)
            args = {_ARG_ALIASES.get(k, k): v for k, v in args.items()}
            config = render_config(config, spec, self.renderer)
        elif body is not None:
            if ctype.shorthand is None:
                raise ConfigError(
                    f"check '{check_type}' on '{spec.asset}' takes a mapping of arguments, "
                    f"not {body!r}",
                    location=spec.location,
                    hint=f"'{check_type}' takes: " + ", ".join(ctype.args.model_fields)
                    if ctype.args.model_fields
                    else f"Write '- {check_type}'",
                )
            args[ctype.shorthand] = body
        return check_type, args, config

    def _settings(self, config: dict[str, Any], location: Location) -> dict[str, Any]:
        severity = str(config.get("severity", "error")).lower()
        if severity not in ("warn", "error"):
            raise ConfigError(
                f"invalid severity '{config.get('severity')}'",
                location=location,
                hint="Use severity: warn or severity: error",
            )
        out: dict[str, Any] = {"severity": severity}
        for key in ("warn_if", "error_if"):
            value = str(config.get(key, "!=0"))
            if not _THRESHOLD.match(value):
                raise ConfigError(
                    f"invalid {key} '{value}'",
                    location=location,
                    hint="Compare the failing-row count with a number: '!=0', '>10', '>=100'",
                )
            out[key] = value.replace(" ", "")
        blocking = config.get("blocking", False)
        if not isinstance(blocking, bool):
            raise ConfigError(
                f"invalid blocking '{blocking}'", location=location, hint="Use blocking: true"
            )
        out["blocking"] = blocking
        store = config.get("store_failures", False)
        store_as = config.get("store_failures_as")
        if not isinstance(store, bool) or store_as not in (None, "table", "ephemeral"):
            raise ConfigError(
                f"invalid store_failures {store!r}"
                if not isinstance(store, bool)
                else f"store_failures_as: {store_as} is not supported by orch",
                location=location,
                hint="Use store_failures: true (the failing rows are stored as a table)",
            )
        out["store_failures"] = (store or store_as == "table") and store_as != "ephemeral"
        if config.get("limit") is not None:
            raise ConfigError(
                f"test setting limit: {config['limit']} is not supported by orch",
                location=location,
                hint="orch counts every failing row (or the fail_calc over them); remove the "
                "limit, or write it into the test's query",
            )
        fail_calc = config.get("fail_calc")
        if fail_calc is not None and not isinstance(fail_calc, str):
            raise ConfigError(
                f"invalid fail_calc {fail_calc!r}",
                location=location,
                hint="fail_calc is a SQL aggregate over the failing rows, e.g. 'sum(n_records)'",
            )
        calc = " ".join(fail_calc.split()) if fail_calc else None
        out["fail_calc"] = None if calc in (None, "count(*)") else calc
        where = config.get("where")
        out["where"] = None if where is None else str(where)
        tags = config.get("tags") or []
        out["tags"] = [tags] if isinstance(tags, str) else [str(t) for t in tags]
        return out

    def _column(self, node: Node, column: str, spec: CheckSpec) -> str:
        """The column as the asset spells it; an unknown column is a compile error."""
        if self.project.flavor == "dbt" and "(" in column and not column.startswith('"'):
            # dbt pastes column_name into the test's SQL: a column "named" by an expression
            # (dbt-project-evaluator's concat(coalesce(...))) tests that expression
            self.expressions[column] = self.user_sql(column, spec)
            return column
        if not node.columns:
            return column
        quoted = len(column) > 2 and column[0] == column[-1] == '"'  # the user's: keeps its case
        by_lower = {c.lower(): c for c in node.columns}
        found = by_lower.get((column[1:-1] if quoted else column).lower())
        if found is not None and quoted:
            return column
        if found is None:
            location = spec.location
            if spec.column is not None and column == spec.column:  # point at the column's name
                location = spec.doc.location((*spec.key_path[:-2], "name"))
            raise ConfigError(
                f"check on unknown column '{column}' of '{node.name}'",
                location=location,
                hint=(suggestion(column, node.columns, closest=True) or "")
                + (" " if suggestion(column, node.columns, closest=True) else "")
                + f"Known columns: {', '.join(node.columns)}",
            )
        return found

    # ------------------------------------------------------------------ SQL

    def ident(self, name: str, node: Node | None = None) -> exp.Identifier:
        """A quoted identifier in the case the target stores it (orch.names' one rule); a column
        of ``node`` its SQL quoted keeps its case."""
        written = written_columns(node.compiled_code, self.dialect) if node is not None else None
        return normalize_identifier(name, self.dialect, written)

    def col(self, name: str, table: str | None = None, *, node: Node | None = None) -> exp.Expr:
        """A quoted column of ``node``, qualified by one of this query's aliases when given (a
        dbt test's column that is an expression: that expression)."""
        if name in self.expressions:
            return self.expressions[name].copy()
        return exp.Column(this=self.ident(name, node), table=self.ident(table) if table else None)

    def table(self, node: Node, alias: str | None = None) -> exp.Expr:
        """The asset's relation as a quoted table expression; an ephemeral model's query
        inlined (dbt tests it through a CTE of that query; the rows are the same)."""
        rel = node.relation
        external = external_source(node, f"a check of '{node.name}'", None, self.dialect)
        if external is not None:  # dbt-duckdb's external_location: its files, not a relation
            if alias:
                external.set("alias", exp.TableAlias(this=self.ident(alias)))
            return external
        if rel is None:
            query = parse_query(node.compiled_code, self.dialect, node.path or node.name)
            name = self.ident(alias or node.name)
            return exp.Subquery(this=query, alias=exp.TableAlias(this=name))
        table = exp.Table(
            this=exp.to_identifier(rel.identifier, quoted=True),
            db=exp.to_identifier(rel.schema_name, quoted=True) if rel.schema_name else None,
            catalog=exp.to_identifier(rel.database, quoted=True) if rel.database else None,
        )
        if alias:
            table.set("alias", exp.TableAlias(this=self.ident(alias)))
        return table

    def user_sql(self, text: str, spec: CheckSpec) -> exp.Expr:
        """The user's own SQL expression, parsed in the project's dialect."""
        return parse_condition(str(text), self.source_dialect, spec.location)

    def _build(
        self,
        check_type: str,
        node: Node,
        column: str | None,
        args: OrchModel,
        settings: dict[str, Any],
        spec: CheckSpec,
    ) -> tuple[exp.Expr, list[str], dict[str, Any]] | None:
        where = self.user_sql(settings["where"], spec) if settings["where"] else None
        stored = args.model_dump(exclude_none=True)
        depends = [node.name]

        def scan(predicate: exp.Expr) -> exp.Select:
            cond = exp.and_(where.copy(), predicate) if where is not None else predicate
            return (
                exp.select(exp.Star()).from_(self.table(node), copy=False).where(cond, copy=False)
            )

        if check_type == "not_null":
            assert column is not None
            return (
                scan(exp.Is(this=self.col(column, node=node), expression=exp.Null())),
                depends,
                stored,
            )
        if check_type == "accepted_values":
            assert column is not None and isinstance(args, AcceptedValuesArgs)
            values = [
                exp.convert(v) if args.quote or not isinstance(v, str) else self.user_sql(v, spec)
                for v in args.values
            ]
            predicate = exp.Not(this=exp.In(this=self.col(column, node=node), expressions=values))
            return scan(predicate), depends, stored
        if check_type == "expression":
            assert isinstance(args, ExpressionArgs)
            text = args.expression
            if column is not None and _OPERATOR_START.match(text):
                parsed = parse_condition(
                    f"{self.col(column, node=node).sql(dialect=self.source_dialect)} {text}",
                    self.source_dialect,
                    spec.location,
                )
            else:
                parsed = self.user_sql(text, spec)
            return scan(exp.Not(this=exp.Paren(this=parsed))), depends, stored
        if check_type == "unique":
            assert column is not None
            c = self.col(column, node=node)
            not_null: exp.Expr = exp.Not(this=exp.Is(this=c.copy(), expression=exp.Null()))
            if where is not None:
                not_null = exp.and_(where.copy(), not_null)
            # dbt's test_unique names the column unique_field (its stored failures' column)
            shown = exp.alias_(c.copy(), "unique_field") if self.project.flavor == "dbt" else c
            query = (
                exp.select(
                    shown.copy(), exp.alias_(exp.Count(this=exp.Star()), self.ident("n_records"))
                )
                .from_(self.table(node), copy=False)
                .where(not_null, copy=False)
                .group_by(c.copy(), copy=False)
                .having(
                    exp.GT(this=exp.Count(this=exp.Star()), expression=exp.convert(1)), copy=False
                )
            )
            return query, depends, stored
        if check_type == "unique_combination":
            assert isinstance(args, UniqueCombinationArgs)
            cols = [self.col(self._column(node, c, spec), node=node) for c in args.columns]
            query = (
                exp.select(*[c.copy() for c in cols],
                           exp.alias_(exp.Count(this=exp.Star()), self.ident("n_records")))
                .from_(self.table(node), copy=False)
                .group_by(*[c.copy() for c in cols], copy=False)
                .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.convert(1)),
                        copy=False)
            )  # fmt: skip
            if where is not None:
                query = query.where(where.copy(), copy=False)
            return query, depends, stored
        if check_type == "relationships":
            assert column is not None and isinstance(args, RelationshipsArgs)
            parent_name = self._target_asset(args.to, spec)
            if parent_name is None:
                return None
            parent = self.nodes[parent_name]
            fld = self._column(parent, args.field, spec)
            child_col, parent_col = (
                self.col(column, "child", node=node),
                self.col(fld, "parent", node=parent),
            )
            cond: exp.Expr = exp.and_(
                exp.Not(this=exp.Is(this=child_col.copy(), expression=exp.Null())),
                exp.Is(this=parent_col.copy(), expression=exp.Null()),
            )
            if where is not None:
                cond = exp.and_(_qualify_columns(where.copy(), self.ident("child")), cond)
            query = (
                exp.select(exp.Column(this=exp.Star(), table=self.ident("child")))
                .from_(self.table(node, "child"), copy=False)
                .join(
                    self.table(parent, "parent"),
                    on=exp.EQ(this=child_col.copy(), expression=parent_col.copy()),
                    join_type="left",
                    copy=False,
                )
                .where(cond, copy=False)
            )
            stored = {"to": parent_name, "field": fld}
            return query, sorted({node.name, parent_name}), stored
        if check_type == "row_count":
            assert isinstance(args, RowCountArgs)
            count = exp.Count(this=exp.Star())
            bounds: list[exp.Expr] = []
            if args.min is not None:
                bounds.append(exp.LT(this=count.copy(), expression=exp.convert(args.min)))
            if args.max is not None:
                bounds.append(exp.GT(this=count.copy(), expression=exp.convert(args.max)))
            query = exp.select(exp.alias_(count.copy(), self.ident("row_count"))).from_(
                self.table(node), copy=False
            )
            if where is not None:
                query = query.where(where.copy(), copy=False)
            return query.having(exp.or_(*bounds), copy=False), depends, stored
        if check_type == "freshness":
            assert isinstance(args, FreshnessArgs)
            col_name = args.column or column
            if col_name is None:
                raise ConfigError(
                    f"freshness check on '{node.name}' needs a column",
                    location=spec.location,
                    hint="Add column: <timestamp column>, or declare it under that column",
                )
            c = self.col(self._column(node, col_name, spec), node=node)
            amount, unit = _DURATION.match(args.max_age).groups()  # type: ignore[union-attr]
            latest = exp.Max(this=c)
            limit = exp.Sub(
                this=exp.Cast(this=exp.CurrentTimestamp(), to=exp.DataType.build("timestamp")),
                expression=exp.Interval(this=exp.convert(str(amount)), unit=exp.var(_UNITS[unit])),
            )
            stale = exp.or_(
                exp.Is(this=latest.copy(), expression=exp.Null()),
                exp.LT(
                    this=exp.Cast(this=latest.copy(), to=exp.DataType.build("timestamp")),
                    expression=limit,
                ),
            )
            query = exp.select(exp.alias_(latest.copy(), self.ident("latest_at"))).from_(
                self.table(node), copy=False
            )
            if where is not None:
                query = query.where(where.copy(), copy=False)
            stored = {**stored, "column": col_name}
            return query.having(stale, copy=False), depends, stored
        raise AssertionError(check_type)  # pragma: no cover

    def _target_asset(self, to: str, spec: CheckSpec) -> str | None:
        m = _REF.match(to)
        src = _SOURCE.match(to)
        name = m.group(1) if m else (f"{src.group(1)}.{src.group(2)}" if src else to.strip())
        if name in self.nodes:
            return name
        known = [*self.project.models, *self.project.seeds, *self.project.sources]
        if name in known:
            return None  # not part of this (scoped) compile
        raise ConfigError(
            f"relationships check on '{spec.asset}' points at unknown asset '{name}'",
            location=spec.location,
            hint=suggestion(name, known, closest=True)
            or "Write to: ref('model') or to: source('source', 'table')",
        )

    # ------------------------------------------------------------------ names

    def _name(self, check_type: str, asset: str, column: str | None, args: dict[str, Any]) -> str:
        parts = [check_type, asset.replace(".", "_")]
        if column:
            parts.append(column)
        name = "_".join(parts)
        if check_type == "accepted_values":
            name += "__" + "__".join(str(v) for v in args.get("values", []))
        elif check_type == "relationships":
            name += f"__{args['field']}__{args['to']}"
        elif check_type == "unique_combination":
            name += "__" + "__".join(args.get("columns", []))
        elif check_type == "expression":
            name += "__" + _digest(args.get("expression", ""))[:8]
        elif check_type == "row_count":
            name += f"__{args.get('min', '')}_{args.get('max', '')}".rstrip("_")
        name = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower()
        if len(name) > MAX_NAME:
            name = f"{name[: MAX_NAME - 9]}_{_digest(name)[:8]}"
        return name

    def _dbt_unique_id(
        self, written: str, name: str, test_type: str, kwargs: dict[str, Any], asset: str
    ) -> str:
        """dbt's ``test.<project>.<name>.<hash>`` (spelled ``check.`` here). Two tests dbt names
        alike (``like_pattern: "%@%"`` and ``"%&%"`` both give ``..._email_address___``) keep
        that name in their ids, told apart by the hash of their arguments, as in dbt; orch's
        own ``name`` of the second has a ``_2``."""
        test, _, namespace = test_type.rpartition(".")[::-1]
        where = where_subquery(self.project, asset)
        for candidate in (written, name):
            digest = generic_test_hash(candidate, test, kwargs, where, namespace or None)
            unique_id = f"check.{self.project.name}.{candidate}.{digest}"
            if unique_id not in self.unique_ids:
                break
        self.unique_ids.add(unique_id)
        return unique_id

    def _unique_name(self, name: str, where: str) -> str:
        base, n = name, 2
        while name in self.names:
            name = f"{base}_{n}"
            n += 1
        self.names[name] = where
        return name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _qualify_columns(expr: exp.Expr, table: exp.Identifier) -> exp.Expr:
    for column in expr.find_all(exp.Column):
        if not column.table:
            column.set("table", table.copy())
    return expr


def _jsonable_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, list, dict)) or v is None else str(v)
            for k, v in args.items()}  # fmt: skip


def compile_checks(
    project: Project,
    nodes: dict[str, Node],
    dialect: str,
    singular: list[SingularCheck],
    compile_sql: CompileSql,
    generic_tests: dict[str, str] | None = None,
    renderer: Renderer | None = None,
) -> tuple[dict[str, CheckNode], list[str]]:
    """All checks of the project whose assets are in ``nodes``; returns checks and warnings.

    ``generic_tests``: the custom generic tests the macros define (their uses arrive rendered,
    in ``singular``); ``renderer``: a dbt project's, which renders the tests' config values.
    """
    compiler = CheckCompiler(project, nodes, dialect, generic_tests=dict(generic_tests or {}),
                             renderer=renderer if project.flavor == "dbt" else None)  # fmt: skip
    checks = compiler.compile(collect_specs(project), singular, compile_sql)
    return checks, compiler.warnings
