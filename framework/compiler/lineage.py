"""Column-level lineage: which upstream columns feed each output column of a query.

Works on a query whose external tables are named ``__asset_<i>`` (see the compiler) and whose
columns are qualified and ``*`` expanded by :func:`orch.sql.expand_and_qualify`. One walk over the
query's scopes serves every output column (``sqlglot.lineage`` re-qualifies per column, which is
far too slow for 10,000 models).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from orch.manifest import Manifest
from orch.sql import sql_text
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

ColumnKey = tuple[str, str]  # (asset, column)


def output_columns(query: exp.Expr) -> list[str] | None:
    """The names of a query's output columns, or None when a ``*`` could not be expanded."""
    selects = query.selects if isinstance(query, exp.Query) else []
    names = []
    for projection in selects:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            return None
        names.append(projection.alias_or_name)
    return names


def forget_positions(query: exp.Expr) -> None:
    """Drop the parser's positions (``line``, ``col``, ``start``, ``end``) from ``query``, in place.

    Every copy of a node copies its ``meta`` dict through ``copy.deepcopy``, which costs more
    than copying the node itself; lineage needs no positions, so a tree at its last use drops
    them before ``qualify`` and the column versions copy parts of it. Other ``meta`` keys are
    flags sqlglot reads (``case_sensitive``, a function's original name): they stay.
    """
    for node in query.walk():
        meta = node._meta
        if meta is not None:
            for key in _POSITION_KEYS:
                meta.pop(key, None)
            if not meta:
                node._meta = None


_POSITION_KEYS = ("line", "col", "start", "end")


def resolvable_as_written(query: exp.Expr, scopes: list[Scope] | None = None) -> bool:
    """Whether every column already names its source, so lineage needs no ``qualify`` pass.

    True when no ``*`` is selected, every projection is a column or has an alias, and every
    unqualified column sits in a scope with one source and is not a select alias. ``qualify``
    costs more than everything else in compiling a model; most models don't need it.
    ``scopes``: the query's ``traverse_scope`` when the caller has it already.
    """
    for scope in traverse_scope(query) if scopes is None else scopes:
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        aliases = set()
        for projection in select.selects:
            if isinstance(projection, exp.Alias):
                aliases.add(projection.alias)
            elif not isinstance(projection, exp.Column) or isinstance(projection.this, exp.Star):
                return False
        single = len(scope.sources) == 1
        for column in scope.columns:
            if isinstance(column.this, exp.Star):
                return False
            if not column.table and (not single or column.name in aliases):
                return False
    return True


def column_lineage(
    query: exp.Expr,
    asset_of_table: Callable[[exp.Table], str | None],
    scopes: list[Scope] | None = None,
) -> dict[str, list[ColumnKey]]:
    """For each output column, the sorted upstream ``(asset, column)`` pairs it is computed from.

    ``scopes``: the query's ``traverse_scope`` when the caller has it already.
    """
    scopes = traverse_scope(query) if scopes is None else scopes
    if not scopes:
        return {}
    root = scopes[-1]
    cache: dict[tuple[int, str], frozenset[ColumnKey]] = {}
    result: dict[str, list[ColumnKey]] = {}
    names = output_columns(query) or []
    for index, name in enumerate(names):
        found = _projection_sources(root, name, index, asset_of_table, cache, depth=0)
        result[name] = sorted(found)
    return result


def _projection_sources(
    scope: Scope,
    name: str,
    index: int | None,
    asset_of_table: Callable[[exp.Table], str | None],
    cache: dict[tuple[int, str], frozenset[ColumnKey]],
    depth: int,
) -> frozenset[ColumnKey]:
    key = (id(scope), name if index is None else f"{index}:{name}")
    if key in cache:
        return cache[key]
    cache[key] = frozenset()  # guards recursive CTEs
    found: set[ColumnKey] = set()
    if depth > 64:
        return frozenset()
    if scope.set_operation_scopes:
        for branch in scope.set_operation_scopes:
            branch_query = branch.expression
            selects = branch_query.selects if isinstance(branch_query, exp.Query) else []
            pos = index if index is not None else _position(selects, name)
            if pos is not None and pos < len(selects):
                found |= _projection_sources(
                    branch, selects[pos].alias_or_name, pos, asset_of_table, cache, depth + 1
                )
    else:
        expression = scope.expression
        selects = expression.selects if isinstance(expression, exp.Query) else []
        projection = None
        if index is not None and index < len(selects) and selects[index].alias_or_name == name:
            projection = selects[index]
        else:
            pos = _position(selects, name)
            projection = selects[pos] if pos is not None else None
        if projection is not None:
            for column in projection.find_all(exp.Column):
                found |= _column_sources(scope, column, asset_of_table, cache, depth)
    result = frozenset(found)
    cache[key] = result
    return result


def _column_sources(
    scope: Scope,
    column: exp.Column,
    asset_of_table: Callable[[exp.Table], str | None],
    cache: dict[tuple[int, str], frozenset[ColumnKey]],
    depth: int,
) -> frozenset[ColumnKey]:
    if isinstance(column.this, exp.Star):
        return frozenset()
    table_name = column.table
    source = scope.sources.get(table_name) if table_name else None
    if source is None and not table_name and len(scope.sources) == 1:
        source = next(iter(scope.sources.values()))
    if isinstance(source, exp.Table):
        asset = asset_of_table(source)
        return frozenset({(asset, column.name)}) if asset else frozenset()
    if isinstance(source, Scope):
        return _projection_sources(source, column.name, None, asset_of_table, cache, depth + 1)
    return frozenset()


def _position(selects: list[exp.Expr], name: str) -> int | None:
    for i, projection in enumerate(selects):
        if projection.alias_or_name == name:
            return i
    return None


# --------------------------------------------------------------------------- column versions


def column_versions(
    query: exp.Expr,
    asset_of_table: Callable[[exp.Table], str | None],
    scopes: list[Scope] | None = None,
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What change classification compares between two builds of a model.

    Returns ``(versions, reads)``: ``versions`` maps each output column to a hash of its
    expression, resolved through CTEs and subqueries down to upstream ``asset.column`` names,
    plus the query's row clauses (joins, filters, grouping of every ``select``): a column keeps
    its version when another column is added or changed, and every column changes when which
    rows come out may change. ``reads`` maps each upstream asset to every column of it the
    query references anywhere (projections, filters, joins), sorted. ``scopes``: as for
    :func:`column_lineage`.
    """
    scopes = traverse_scope(query) if scopes is None else scopes
    if not scopes:
        return {}, {}
    root = scopes[-1]
    copy = rewritten_when_written(query)
    rows = _row_text(query, asset_of_table, copy)
    cache: dict[tuple[int, str], str] = {}
    versions: dict[str, str] = {}
    for index, name in enumerate(output_columns(query) or []):
        text = _projection_text(root, name, index, asset_of_table, cache, 0, copy)
        versions[name] = hashlib.sha256(f"{text}\x00{rows}".encode()).hexdigest()[:16]
    reads: dict[str, set[str]] = {}
    for scope in scopes:
        for column in scope.columns:
            if isinstance(column.this, exp.Star):
                continue
            for asset, col in _column_sources(scope, column, asset_of_table, {}, 0):
                reads.setdefault(asset, set()).add(col)
    return versions, {asset: sorted(cols) for asset, cols in sorted(reads.items())}


# What sqlglot's generator (the default dialect, which writes these texts) changes in the tree
# it writes — why ``Expr.sql()`` copies the tree first, by default. A tree with none of them is
# written without that copy (as costly as writing it, and a cycle of garbage per call). Data
# types are left out: the default dialect limits no type's parameters (TYPE_PARAM_SETTINGS).
_REWRITTEN = (
    exp.Unnest, exp.Lateral, exp.Pivot, exp.PivotAlias, exp.IgnoreNulls, exp.RespectNulls,
    exp.ConcatWs, exp.ArrayAgg, exp.Struct, exp.Merge, exp.Update, exp.Into,
)  # fmt: skip


def rewritten_when_written(query: exp.Expr) -> bool:
    """Whether writing SQL for ``query`` or its parts may change them (see ``_REWRITTEN``): a
    construct the generator rewrites, a ``select`` with an ``exclude``, ``into``, or comments
    beside its CTEs, a subquery with a sample, a safe division."""
    for node in query.walk():
        if isinstance(node, _REWRITTEN):
            return True
        args = node.args
        if isinstance(node, exp.Select):
            if args.get("exclude") or args.get("into") or (args.get("with_") and node.comments):
                return True
        elif isinstance(node, exp.Subquery) and args.get("sample"):
            return True
        elif isinstance(node, exp.Div) and args.get("safe"):
            return True
    return False


def _written(node: exp.Expr, copy: bool) -> str:
    """``sql_text(node)``; without copying it when ``copy`` is False (then, while it is written,
    ``node`` stands alone, as a copy would: the generator looks at its parent and arg key)."""
    if copy:
        return sql_text(node)
    parent, arg_key = node.parent, node.arg_key
    node.parent = node.arg_key = None
    try:
        return sql_text(node, copy=False)
    finally:
        node.parent, node.arg_key = parent, arg_key


def _row_text(
    query: exp.Expr, asset_of_table: Callable[[exp.Table], str | None], copy: bool = True
) -> str:
    """The query without its projections, upstream tables named by asset: what decides rows."""

    # Written in place and put back (copying the whole query was ~20% of a cold compile): every
    # select's projections become ``*``, every table of an asset that asset's name.
    selects: list[tuple[exp.Select, Any]] = []
    tables: list[tuple[exp.Table, exp.Table]] = []
    for node in query.walk(bfs=False):
        if isinstance(node, exp.Select):
            selects.append((node, node.args.get("expressions")))
        elif isinstance(node, exp.Table) and node.parent is not None:
            asset = asset_of_table(node)
            if asset is not None:
                alias = node.args.get("alias")
                new = exp.Table(
                    this=exp.to_identifier(asset), alias=alias.copy() if alias else None
                )
                tables.append((node, new))
    try:
        for table, new in tables:
            table.replace(new)
        for select, _ in selects:
            select.set("expressions", [exp.Star()])
        return _written(query, copy)
    finally:
        for select, projections in selects:
            select.set("expressions", projections)
        for table, new in tables:
            new.replace(table)


def _projection_text(
    scope: Scope,
    name: str,
    index: int | None,
    asset_of_table: Callable[[exp.Table], str | None],
    cache: dict[tuple[int, str], str],
    depth: int,
    copy: bool = True,
) -> str:
    key = (id(scope), name if index is None else f"{index}:{name}")
    if key in cache:
        return cache[key]
    cache[key] = f"<recursive {name}>"  # guards recursive CTEs
    if depth > 64:
        return cache[key]
    text = f"<unknown {name}>"
    if scope.set_operation_scopes:
        parts = []
        for branch in scope.set_operation_scopes:
            selects = branch.expression.selects if isinstance(branch.expression, exp.Query) else []
            pos = index if index is not None else _position(selects, name)
            if pos is not None and pos < len(selects):
                parts.append(
                    _projection_text(
                        branch, selects[pos].alias_or_name, pos, asset_of_table, cache,
                        depth + 1, copy,
                    )
                )  # fmt: skip
        text = "SET(" + ", ".join(parts) + ")"
    else:
        expression = scope.expression
        selects = expression.selects if isinstance(expression, exp.Query) else []
        if index is not None and index < len(selects) and selects[index].alias_or_name == name:
            projection: exp.Expr | None = selects[index]
        else:
            pos = _position(selects, name)
            projection = selects[pos] if pos is not None else None
        if projection is not None:
            text = _resolved_sql(projection.unalias(), scope, asset_of_table, cache, depth, copy)
    cache[key] = text
    return text


def _resolved_sql(
    node: exp.Expr,
    scope: Scope,
    asset_of_table: Callable[[exp.Table], str | None],
    cache: dict[tuple[int, str], str],
    depth: int,
    copy: bool = True,
) -> str:
    """``node`` as SQL with each column replaced by its resolved text (:func:`_column_text`).

    The columns are swapped in place and put back: copying every projection once per output
    column was the largest part of computing column versions.
    """
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        # what exp.var(text).sql() writes, without building and copying the Var
        return _column_text(scope, node, asset_of_table, cache, depth, copy).strip()
    columns = [
        c
        for c in node.find_all(exp.Column, bfs=False)
        if not isinstance(c.this, exp.Star) and not isinstance(c.parent, exp.Column)
    ]
    swapped = [
        (c, exp.var(_column_text(scope, c, asset_of_table, cache, depth, copy))) for c in columns
    ]
    try:
        for column, var in swapped:
            column.replace(var)
        return _written(node, copy)
    finally:
        for column, var in swapped:
            var.replace(column)


def _column_text(
    scope: Scope,
    column: exp.Column,
    asset_of_table: Callable[[exp.Table], str | None],
    cache: dict[tuple[int, str], str],
    depth: int,
    copy: bool = True,
) -> str:
    table_name = column.table
    source = scope.sources.get(table_name) if table_name else None
    if source is None and not table_name and len(scope.sources) == 1:
        source = next(iter(scope.sources.values()))
    if isinstance(source, exp.Table):
        asset = asset_of_table(source) or sql_text(source)
        return f"{asset}.{column.name}"
    if isinstance(source, Scope):
        inner = _projection_text(source, column.name, None, asset_of_table, cache, depth + 1, copy)
        return f"({inner})"
    return sql_text(column)  # a select alias, a lambda argument


def across_members(merged: Manifest, members: Mapping[str, Manifest]) -> Manifest:
    """The workspace graph ``merged`` with each node's column lineage under workspace names.

    A member's lineage names its own assets (``stg_payments``) and the models it reads from
    other members by their owner's name (``finance.revenue``); in the workspace graph each ref
    becomes ``member.asset`` so a column is traced from one member into another. ``merged``
    is not changed.
    """
    nodes = dict(merged.nodes)
    for member, manifest in members.items():
        foreign = {
            n for n, node in manifest.nodes.items()
            if node.resource_type == "source" and node.config.meta.get("workspace_member")
        }  # fmt: skip
        for local, node in manifest.nodes.items():
            name = f"{member}.{local}"
            if local in foreign or name not in nodes or not node.column_lineage:
                continue
            lineage = {
                column: [
                    r
                    if r.asset in foreign
                    else r.model_copy(update={"asset": f"{member}.{r.asset}"})
                    for r in refs
                ]
                for column, refs in node.column_lineage.items()
            }
            nodes[name] = nodes[name].model_copy(update={"column_lineage": lineage})
    return merged.model_copy(update={"nodes": nodes})
