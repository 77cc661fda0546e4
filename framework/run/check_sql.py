"""The SQL a check runs at execution: status, thresholds, retargeting to a staged relation or
a partition, folding several checks into one scan."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from orch import names
from orch.manifest import THRESHOLD, CheckNode, Node
from orch.partitions import StaticKeys, definition_of, format_instant, window_type

if TYPE_CHECKING:
    from sqlglot import exp

# sqlglot and the compiler are imported by the functions that need them: a run whose
# checks are all skipped (a one-model run, a no-op build) does not pay for them.

# --------------------------------------------------------------------------- run-time SQL


def check_status(check: CheckNode, failing_rows: int) -> str:
    """pass, warn or fail for a failing-row count (dbt's severity/warn_if/error_if rules)."""
    if check.severity == "error" and threshold_met(check.error_if, failing_rows):
        return "fail"
    if threshold_met(check.warn_if, failing_rows):
        return "warn"
    return "pass"


def threshold_met(condition: str, count: int) -> bool:
    """Whether ``count`` meets a condition such as ``!=0`` or ``>10``."""
    m = THRESHOLD.match(condition)
    if m is None:
        return count != 0
    op, value = m.group(1), int(m.group(2))
    return {
        "=": count == value, "==": count == value, "!=": count != value, "<>": count != value,
        ">": count > value, ">=": count >= value, "<": count < value, "<=": count <= value,
    }[op]  # fmt: skip


@lru_cache(maxsize=4096)
def _parsed(sql: str, dialect: str) -> exp.Expr:
    from orch.sql import parse_query

    return parse_query(sql, dialect, "<check>")


def _key(table: exp.Table) -> tuple[str, str, str]:
    return (table.catalog.lower(), table.db.lower(), table.name.lower())


def relation_key(node: Node) -> tuple[str, str, str]:
    """How a check query names the asset's relation (for retargeting)."""
    rel = node.relation
    assert rel is not None
    return ((rel.database or "").lower(), rel.schema_name.lower(), rel.identifier.lower())


def runnable_sql(
    sql: str,
    dialect: str,
    replacements: dict[tuple[str, str, str], exp.Expr],
) -> str:
    """A check query with some relations replaced (a staged table, one partition's rows)."""
    if not replacements:
        return sql
    return retarget(_parsed(sql, dialect).copy(), replacements).sql(dialect=dialect, pretty=True)


def retarget(query: exp.Expr, replacements: dict[tuple[str, str, str], exp.Expr]) -> exp.Expr:
    """Replace tables of ``query`` (in place) by ``replacements`` keyed by lower-case parts."""
    from sqlglot import exp

    for table in list(query.find_all(exp.Table)):
        new = replacements.get(_key(table))
        if new is None:
            continue
        new = new.copy()
        alias = table.args.get("alias")
        if alias is None and isinstance(new, exp.Subquery):
            alias = exp.TableAlias(this=exp.to_identifier(table.name, quoted=True))
        if alias is not None:
            new.set("alias", alias.copy())
        table.replace(new)
    return query


def fold_predicate(sql: str, dialect: str) -> tuple[exp.Table, exp.Expr] | None:
    """(table, failing-row predicate) when a check is ``SELECT * FROM t WHERE p``, else None.

    Such checks of one table are folded into one scan: ``SELECT COUNT_IF(p1), ... FROM t``.
    """
    from sqlglot import exp

    query = _parsed(sql, dialect)
    if not isinstance(query, exp.Select):
        return None
    if len(query.expressions) != 1 or not isinstance(query.expressions[0], exp.Star):
        return None
    for arg in ("joins", "group", "having", "limit", "distinct", "with", "with_", "order",
                "qualify", "laterals", "offset"):  # fmt: skip
        if query.args.get(arg):
            return None
    source = query.args.get("from") or query.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table) or source.this.alias:
        return None
    where = query.args.get("where")
    if where is None:
        return None
    return source.this, where.this


def partition_predicate(node: Node, key: str, dialect: str) -> exp.Expr | None:
    """The rows of one partition of ``node`` (its window, or ``column = key``); None if unknown.

    The column is named as ``dialect`` stores it (:func:`orch.names.normalize_identifier`).
    """
    from orch.sql import written_columns
    from sqlglot import exp

    config = node.config.partitioned_by
    if config is None or not config.column:
        return None
    definition = definition_of(config, asset=node.name)
    column = names.column(
        config.column, dialect, written=written_columns(node.compiled_code, dialect)
    )
    if isinstance(definition, StaticKeys):
        return exp.EQ(this=column, expression=exp.convert(definition.validate(key)))
    start, end = definition.window(key)
    ts = exp.DataType(this=window_type())
    return exp.and_(
        exp.GTE(this=column.copy(), expression=exp.cast(exp.convert(format_instant(start)), ts)),
        exp.LT(this=column.copy(), expression=exp.cast(exp.convert(format_instant(end)), ts)),
    )


def partition_source(node: Node, key: str, dialect: str) -> exp.Expr | None:
    """``(SELECT * FROM relation WHERE <partition>)`` to read one partition, or None."""
    from sqlglot import exp

    predicate = partition_predicate(node, key, dialect)
    if predicate is None or node.relation is None:
        return None
    rel = node.relation
    table = exp.Table(
        this=exp.to_identifier(rel.identifier, quoted=True),
        db=exp.to_identifier(rel.schema_name, quoted=True),
        catalog=exp.to_identifier(rel.database, quoted=True) if rel.database else None,
    )
    return exp.Subquery(this=exp.select(exp.Star()).from_(table).where(predicate))
