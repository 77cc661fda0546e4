"""The sqlglot boundary: parse once, find table references with positions, fingerprint, transpile.

SQL text is parsed only here. Other modules receive ASTs or the plain data this module extracts.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from orch.errors import Location, OrchError, SqlSyntaxError, UnsupportedFeatureError
from orch.names import Relation
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.generator import Generator
from sqlglot.helper import name_sequence
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableRef:
    """A table a query reads: its name parts and where it stands in the rendered SQL."""

    name: str
    db: str | None
    catalog: str | None
    start: int  # character offsets in the rendered SQL, end inclusive
    end: int
    line: int
    col: int
    has_alias: bool = False

    @property
    def dotted(self) -> str:
        """``catalog.db.name`` with the parts present."""
        return ".".join(p for p in (self.catalog, self.db, self.name) if p)


def offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    line_start = text.rfind("\n", 0, offset) + 1
    return line, offset - line_start + 1


@lru_cache(maxsize=64)
def _dialect(name: str | None) -> Dialect:
    """One sqlglot dialect object per name (``sqlglot.parse`` and ``Expr.sql`` build a new one on
    every call, which costs as much as writing a short query)."""
    return Dialect.get_or_raise(name)


_generators = threading.local()  # per thread: a generator is not safe to share while it runs


def sql_text(
    expression: exp.Expr, dialect: str | None = None, *, copy: bool = True, **opts: object
) -> str:
    """``expression.sql(dialect, copy=copy, **opts)``, the same text, with one generator per
    dialect and options reused (compiling a project writes tens of thousands of fragments)."""
    cache: dict[tuple[object, ...], Generator] = _generators.__dict__.setdefault("by_key", {})
    key = (dialect, *sorted(opts.items()))
    generator = cache.get(key)
    if generator is None:
        generator = cache[key] = _dialect(dialect).generator(**opts)  # type: ignore[arg-type]
    generator._next_name = name_sequence("_t")  # the state a fresh generator starts with
    return generator.generate(expression, copy=copy)


def parse_query(sql: str, dialect: str, path: str) -> exp.Expr:
    """Parse one SELECT (or WITH ... SELECT) statement.

    Raises SqlSyntaxError at the offending line and column with the offending token.
    """
    try:
        statements = [s for s in _dialect(dialect).parse(sql) if s is not None]
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        line, col = int(first.get("line") or 0), int(first.get("col") or 0)
        token = (first.get("highlight") or "").strip()
        if token and "\n" not in token and col >= len(token):
            col = col - len(token) + 1  # sqlglot gives the token's last column: point at its start
        description = _human_description(first.get("description") or str(err).splitlines()[0])
        near = f" near '{token}'" if token else ""
        raise SqlSyntaxError(
            f"SQL syntax error{near}: {description}",
            location=Location(path, line, col),
            hint="Fix the SQL at that position",
        ) from None
    except TokenError as err:
        raise SqlSyntaxError(
            f"SQL syntax error: {err}", location=Location(path), hint="Check quotes and brackets"
        ) from None
    if not statements:
        raise SqlSyntaxError(
            "the model is empty", location=Location(path, 1, 1), hint="Write a SELECT statement"
        )
    if len(statements) > 1:
        raise SqlSyntaxError(
            f"a model must be one SELECT statement, found {len(statements)} statements",
            location=Location(path, 1, 1),
            hint="Split it into several models, or remove the extra ';'",
        )
    query = statements[0]
    if not isinstance(query, exp.Query):
        raise UnsupportedFeatureError(
            f"a model must be a SELECT query, not {query.key.upper()}",
            location=Location(path, 1, 1),
            hint="orch creates the table or view itself: write only the SELECT",
        )
    return query


# sqlglot names the expression it was building: "Required keyword: 'this' missing for
# <class 'sqlglot.expressions.query.Where'>". Users wrote SQL, not sqlglot classes.
_MISSING_KEYWORD = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*?(\w+)'>")
_CLASS_NAME = re.compile(r"<class '[\w.]*?(\w+)'>")
_WHAT_IS_INCOMPLETE = {
    "Paren": "the parentheses", "Where": "the WHERE clause", "Having": "the HAVING clause",
    "Order": "the ORDER BY clause", "Group": "the GROUP BY clause", "Join": "the JOIN",
    "If": "the CASE expression", "Case": "the CASE expression", "Cast": "the CAST",
    "Select": "the SELECT list", "From": "the FROM clause", "Limit": "the LIMIT clause",
    "Qualify": "the QUALIFY clause", "Window": "the window", "Alias": "the alias",
    "Between": "the BETWEEN", "In": "the IN list", "Not": "the NOT",
}  # fmt: skip


def _human_description(description: str) -> str:
    """sqlglot's parse error text without its class names."""
    missing = _MISSING_KEYWORD.search(description)
    if missing:
        name = missing.group(1)
        if name in _OPERATORS:
            return f"an expression is missing after '{_OPERATORS[name]}'"
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
        return f"an expression is missing in {_WHAT_IS_INCOMPLETE.get(name, f'the {words}')}"
    expecting = re.fullmatch(r"Expecting (\S+)", description)
    if expecting:
        return f"expected '{expecting.group(1)}'"
    return _CLASS_NAME.sub(lambda m: m.group(1).upper(), description)


_OPERATORS = {
    "Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Mod": "%", "EQ": "=", "NEQ": "<>",
    "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<=", "And": "AND", "Or": "OR", "DPipe": "||",
}  # fmt: skip


def table_references(
    query: exp.Expr, text: str, nodes: list[exp.Table] | None = None
) -> list[TableRef]:
    """Every table the query reads that is not a CTE or a derived table, in text order.

    A CTE may share a model's name: ``with orders as (select * from stg_orders) select * from
    orders`` reads only ``stg_orders``. ``nodes``, when given, receives those tables' nodes
    (what :func:`qualify_tables` replaces: it need not walk the query's scopes again).
    """
    refs: list[TableRef] = []
    for table in _external_tables(query):
        if nodes is not None:
            nodes.append(table)
        parts = [p for p in table.parts if isinstance(p, exp.Identifier)]
        starts = [int(p.meta["start"]) for p in parts if p.meta.get("start") is not None]
        ends = [int(p.meta["end"]) for p in parts if p.meta.get("end") is not None]
        start = min(starts) if starts else 0
        end = max(ends) if ends else 0
        line, col = offset_to_line_col(text, start) if starts else (0, 0)
        refs.append(
            TableRef(
                name=table.name,
                db=table.db or None,
                catalog=table.catalog or None,
                start=start,
                end=end,
                line=line,
                col=col,
                has_alias=bool(table.alias),
            )
        )
    return sorted(refs, key=lambda r: r.start)


def _external_tables(query: exp.Expr) -> list[exp.Table]:
    """The tables ``query`` reads that are neither CTEs, derived tables nor table functions,
    each once, in scope order."""
    seen: set[int] = set()
    out: list[exp.Table] = []
    for scope in traverse_scope(query):
        for table in scope.tables:
            if not isinstance(table.this, exp.Identifier) or id(table) in seen:
                continue  # table functions: range(), read_csv(), ...
            source = scope.sources.get(table.alias_or_name)
            if source is not None and not isinstance(source, exp.Table):
                continue  # a CTE or a derived table
            seen.add(id(table))
            out.append(table)
    return out


def fingerprint_sql(query: exp.Expr, dialect: str) -> str:
    """A hash of the normalized query: formatting, comments and identifier case don't count."""
    # normalize=True lower-cases identifiers in the generator: no copy of the tree needed
    text = sql_text(query, dialect, comments=False, normalize=True, copy=False)
    return hashlib.sha256(text.encode()).hexdigest()


def replace_spans(text: str, replacements: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end-inclusive, new) span replaced; spans must not overlap."""
    out = []
    pos = 0
    for start, end, new in sorted(replacements):
        out.append(text[pos:start])
        out.append(new)
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def relation_table(rel: Relation) -> exp.Table:
    """A relation as a table expression with quoted names (no database or schema part when
    the relation has none)."""
    return exp.Table(
        this=exp.to_identifier(rel.name, quoted=True),
        db=exp.to_identifier(rel.schema, quoted=True) if rel.schema else None,
        catalog=exp.to_identifier(rel.database, quoted=True) if rel.database else None,
    )


def qualify_tables(
    query: exp.Expr,
    mapping: dict[str, exp.Table],
    default_aliases: dict[str, str] | None = None,
    *,
    copy: bool = True,
    tables: list[exp.Table] | None = None,
) -> exp.Expr:
    """``query`` (a copy unless ``copy=False``) with external tables replaced by ``mapping``.

    Aliases are kept (or ``default_aliases[name]``, else the original name, becomes the alias) so
    column references still bind. ``tables``: the query's external tables as
    :func:`table_references` found them (``copy=False`` only: they are the query's own nodes).
    """
    tree = query.copy() if copy else query
    found = tables if tables is not None and not copy else _external_tables(tree)
    for table in found:
        dotted = ".".join(p for p in (table.catalog, table.db, table.name) if p)
        target = mapping.get(dotted)
        if target is None:
            continue
        new = target.copy()
        alias = table.args.get("alias") or exp.TableAlias(
            this=exp.to_identifier(
                (default_aliases or {}).get(table.name, table.name), quoted=table.this.quoted
            )
        )
        new.set("alias", alias)
        table.replace(new)
    return tree


def transpile(
    query: exp.Expr,
    dialect: str,
    path: str,
    *,
    pretty: bool = True,
    source: str | None = None,
) -> str:
    """Generate SQL for ``dialect``; a construct it cannot express is an error naming the file.

    Translating from another ``source`` dialect, a function sqlglot does not know in the source
    (an ``Anonymous`` call) is an error at its line and column: it would be sent unchanged, and
    the target warehouse may not have it or may mean something else by it.
    """
    if source is not None and source != dialect:
        if dialect == "snowflake":
            _series_tables_for_snowflake(query)
        _refuse_unfaithful(query, source, dialect, path)
        unknown = next(iter(query.find_all(exp.Anonymous)), None)
        if unknown is not None:
            meta = unknown.meta
            col = int(meta.get("col", 0))
            if col >= len(unknown.name):  # sqlglot gives the name's last column: use its first
                col = col - len(unknown.name) + 1
            raise UnsupportedFeatureError(
                f"cannot translate {unknown.name}() from {source} to {dialect}: sqlglot does not "
                f"know this {source} function, so it would be sent to {dialect} unchanged",
                location=Location(path, int(meta.get("line", 0)), col),
                hint=f"Use a function both dialects share, a macro per target, or write the "
                f"model in {dialect} with config(dialect='{dialect}')",
            )
    try:
        return sql_text(
            query,
            dialect,
            pretty=pretty,
            unsupported_level=sqlglot.ErrorLevel.RAISE,
            copy=False,  # callers pass a tree of their own (qualify_tables copies)
        )
    except sqlglot.errors.UnsupportedError as err:
        raise UnsupportedFeatureError(
            f"cannot translate to {dialect}: {err}",
            location=Location(path),
            hint=f"Rewrite that construct, or set config(dialect=...) to write it in {dialect}",
        ) from None


# A series used as a table (``FROM range(date '2024-01-01', date '2025-01-01', interval 1 day)
# AS spine(day)``, the usual date spine; ``FROM generate_series(1, 10)``) has no table function on
# Snowflake, and sqlglot writes one that does not exist. Rewritten as the subquery a Snowflake
# user writes: offsets from TABLE(FLATTEN(ARRAY_GENERATE_RANGE(...))), added to the start with
# DATEADD for a series of instants (TIMESTAMP, as DuckDB's range() of dates returns).
_SERIES_UNITS = frozenset({"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"})
# DATEDIFF counts unit boundaries, so it may give one offset too many: the WHERE drops it.
_TIME_SERIES = (
    "SELECT CAST(DATEADD({unit}, CAST(_series.value AS INT), __start) AS TIMESTAMP) AS __col "
    "FROM TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(0, DATEDIFF({unit}, __start, __end) + 1, "
    "{step}))) AS _series WHERE DATEADD({unit}, CAST(_series.value AS INT), __start) {op} __end"
)
_NUMBER_SERIES = (
    "SELECT CAST(_series.value AS INT) AS __col FROM TABLE(FLATTEN(INPUT => "
    "ARRAY_GENERATE_RANGE(__start, __end + {inclusive}, __step))) AS _series"
)


def _series_tables_for_snowflake(query: exp.Expr) -> None:
    """Replace each series table of ``query`` (in place) by an equivalent Snowflake subquery."""
    for table in list(query.find_all(exp.Table)):
        series = table.this
        if not isinstance(series, exp.GenerateSeries) or series.args.get("end") is None:
            continue
        step = series.args.get("step")
        inclusive = 0 if series.args.get("is_end_exclusive") else 1
        if isinstance(step, exp.Interval):
            unit = str(step.args.get("unit") or "").upper()
            count = step.this
            if unit not in _SERIES_UNITS or not (count.is_int or count.name.isdigit()):
                continue  # left to _refuse_unfaithful
            op = "<=" if inclusive else "<"
            text = _TIME_SERIES.format(unit=unit, op=op, step=int(count.name))
        else:
            text = _NUMBER_SERIES.format(inclusive=inclusive)
        subquery = sqlglot.parse_one(text, read="snowflake")
        parts = {"__start": series.args["start"], "__end": series.args["end"]}
        parts["__step"] = step if step is not None else exp.Literal.number(1)
        for column in list(subquery.find_all(exp.Column)):
            if column.name in parts and not column.table:
                column.replace(exp.paren(parts[column.name].copy()))
        alias = table.args.get("alias")
        default = "range" if series.args.get("is_end_exclusive") else "generate_series"
        name = alias.columns[0] if alias is not None and alias.columns else default
        assert isinstance(subquery, exp.Select)
        subquery.selects[0].set("alias", exp.to_identifier(name) if isinstance(name, str) else name)
        outer = alias.this if alias is not None and alias.this else exp.to_identifier(default)
        table.replace(exp.Subquery(this=subquery, alias=exp.TableAlias(this=outer)))


# Constructs sqlglot translates into SQL the target rejects or reads differently (its generator
# raises nothing for them). Each is refused at compile time, at the construct's position.
_DATE_TYPES = (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ)


def _unfaithful(query: exp.Expr, target: str) -> tuple[exp.Expr, str, str] | None:
    """The first construct of ``query`` that ``target`` would not run as meant, with why."""
    if target != "snowflake":
        return None
    for node in query.walk():
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Func):
            name = node.this.sql_name().lower()
            if isinstance(node.this, exp.GenerateSeries) and node.this.args.get("is_end_exclusive"):
                name = "range"
            return (
                node.this,
                f"the table function {name}() in FROM has no Snowflake equivalent that sqlglot "
                "writes (Snowflake reads table functions through TABLE(...))",
                "Build the rows another way (a date spine from a seed, or UNNEST of an array), or "
                "write the model in snowflake with config(dialect='snowflake')",
            )
        if isinstance(node, exp.GenerateSeries):
            start = node.args.get("start")
            dated = isinstance(node.args.get("step"), exp.Interval) or (
                isinstance(start, exp.Cast) and start.to.this in _DATE_TYPES
            )
            if dated:
                return (
                    node,
                    "generate_series() over dates becomes ARRAY_GENERATE_RANGE(), which takes "
                    "only integers on Snowflake",
                    "Generate integers and add them as days (dateadd), or use a date spine seed",
                )
        if isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() == "ASOF":
            return (
                node,
                "ASOF JOIN ... ON becomes Snowflake SQL without its MATCH_CONDITION clause",
                "Write the model in snowflake with config(dialect='snowflake'), or use a window",
            )
    return None


def _refuse_unfaithful(query: exp.Expr, source: str, target: str, path: str) -> None:
    found = _unfaithful(query, target)
    if found is None:
        return
    node, why, hint = found
    # functions carry no position: the line of the first token inside the construct
    line = next((int(p.meta["line"]) for p in node.walk() if p.meta.get("line")), 0)
    raise UnsupportedFeatureError(
        f"cannot translate from {source} to {target}: {why}",
        location=Location(path, line),
        hint=hint,
    )


def expand_and_qualify(
    query: exp.Expr, schema: dict, dialect: str, *, copy: bool = True
) -> exp.Expr | None:
    """Qualify columns and expand ``*`` against known upstream columns; None if it cannot."""
    try:
        return qualify(
            query.copy() if copy else query,
            schema=schema,
            dialect=dialect,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
            expand_alias_refs=True,
        )
    except (OptimizeError, KeyError, ValueError, AttributeError, TypeError) as err:
        log.debug("qualify failed: %s", err)
        return None


def parse_condition(text: str, dialect: str, location: Location) -> exp.Expr:
    """Parse a SQL expression a user wrote in YAML (a check's ``expression`` or ``where``).

    Raises SqlSyntaxError at ``location`` (the YAML key) when it is not one valid expression.
    """
    try:
        statements = [s for s in sqlglot.parse(f"SELECT {text}", read=dialect) if s is not None]
    except (ParseError, TokenError) as err:
        first = (getattr(err, "errors", None) or [{}])[0]
        description = first.get("description") or str(err).splitlines()[0]
        raise SqlSyntaxError(
            f"SQL syntax error in '{text}': {description}",
            location=location,
            hint="Write one SQL boolean expression, e.g. amount >= 0",
        ) from None
    select = statements[0] if len(statements) == 1 else None
    if (
        not isinstance(select, exp.Select)
        or len(select.expressions) != 1
        or select.args.get("from")
        or select.args.get("from_")
    ):
        raise SqlSyntaxError(
            f"'{text}' is not one SQL expression",
            location=location,
            hint="Write one SQL boolean expression, e.g. amount >= 0",
        )
    return select.expressions[0]


def normalize_names(query: exp.Expr, dialect: str) -> exp.Expr:
    """Identifiers as the dialect resolves them (unquoted lower-cased for DuckDB), in place."""
    return normalize_identifiers(query, dialect=dialect)


@lru_cache(maxsize=1024)
def written_columns(sql: str, dialect: str) -> dict[str, exp.Identifier]:
    """The identifier each output column of a compiled query is written with, by lower-case name.

    What :func:`orch.names.normalize_identifier` needs to keep the case of a column the user
    quoted (``select 1 as "lineCount"`` is stored ``lineCount`` on Snowflake, not
    ``LINECOUNT``). Empty on a case-insensitive dialect (DuckDB: case never matters, nothing is
    parsed), for SQL that is not one query, and for ``*`` projections. Cached: callers must not
    change the nodes.
    """
    if not sql or _dialect(dialect).NORMALIZATION_STRATEGY is (
        NormalizationStrategy.CASE_INSENSITIVE
    ):
        return {}
    try:
        query = parse_query(sql, dialect, "<compiled>")
    except OrchError:
        return {}
    out: dict[str, exp.Identifier] = {}
    for projection in query.selects if isinstance(query, exp.Query) else []:
        ident = projection.args.get("alias") if isinstance(projection, exp.Alias) else None
        if ident is None and isinstance(projection, exp.Column):
            ident = projection.this
        if isinstance(ident, exp.Identifier):
            out.setdefault(ident.name.lower(), ident)
    return out
