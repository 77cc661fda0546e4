"""dbt's ``on_schema_change`` for an incremental run: reconcile the table with the new rows.

When an incremental model's query gains, loses or retypes a column, the existing table no longer
matches it. dbt decides what happens with ``on_schema_change`` (dbt-core's
``process_schema_changes``, which dbt-duckdb and dbt-snowflake use):

- ``ignore`` (the default): the table keeps its columns; the new rows are written into those
  columns (a column the query gained is not written; one it lost is an error);
- ``fail``: any difference is an error naming the columns;
- ``append_new_columns``: columns the query gained are added to the table (older rows get NULL);
- ``sync_all_columns``: gained columns are added, lost ones dropped, retyped ones given the new
  type (moved last, as dbt's ``alter_column_type`` does).

:func:`reconcile` applies the setting and returns the columns to write (dbt's ``dest_columns``).
"""

from __future__ import annotations

from dataclasses import dataclass

from orch.adapters.base import Adapter, Column
from orch.errors import ModelFailedError
from orch.manifest import Node
from orch.names import Relation

MODES = ("ignore", "fail", "append_new_columns", "sync_all_columns")


@dataclass(frozen=True)
class SchemaChanges:
    """How the new rows' columns differ from the table's (names compared case-insensitively)."""

    added: list[Column]  # in the new rows only
    removed: list[Column]  # in the table only
    retyped: list[Column]  # in both, with the new rows' type

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def describe(self) -> str:
        parts = [
            f"{label}: {', '.join(f'{c.name} {c.data_type}' for c in columns)}"
            for label, columns in (
                ("new in the query", self.added),
                ("missing from the query", self.removed),
                ("new type", self.retyped),
            )
            if columns
        ]
        return "; ".join(parts)


def diff_columns(source: list[Column], target: list[Column]) -> SchemaChanges:
    """dbt's ``diff_columns`` both ways and ``diff_column_data_types``."""
    target_by_name = {c.name.lower(): c for c in target}
    source_names = {c.name.lower() for c in source}
    added = [c for c in source if c.name.lower() not in target_by_name]
    removed = [c for c in target if c.name.lower() not in source_names]
    retyped = [
        Column(target_by_name[c.name.lower()].name, c.data_type)
        for c in source
        if c.name.lower() in target_by_name
        and c.data_type.upper() != target_by_name[c.name.lower()].data_type.upper()
    ]
    return SchemaChanges(added, removed, retyped)


def on_schema_change(node: Node) -> str:
    """The node's setting; a value dbt does not know falls back to ``ignore``, as in dbt."""
    value = node.config.extra.get("on_schema_change") or "ignore"
    return value if value in MODES else "ignore"


def reconcile(
    node: Node, adapter: Adapter, relation: Relation, select_sql: str, warnings: list[str]
) -> list[str]:
    """Apply ``on_schema_change`` to ``relation`` for rows of ``select_sql``; the columns to write.

    Call it inside the transaction that writes the rows, so a failed write undoes the change
    where the warehouse allows DDL in a transaction (DuckDB does).
    """
    setting = node.config.extra.get("on_schema_change")
    mode = on_schema_change(node)
    if setting is not None and setting != mode:
        warnings.append(
            f"'{node.name}': on_schema_change {setting!r} is not one of {', '.join(MODES)}; "
            "using 'ignore', as dbt does"
        )
    target = adapter.columns(relation)
    source = adapter.query_columns(select_sql)
    changes = diff_columns(source, target)
    if not changes:
        return [c.name for c in target]
    if mode == "ignore":
        if changes.removed:
            raise ModelFailedError(
                f"'{node.name}': the incremental query no longer returns column(s) "
                f"{', '.join(c.name for c in changes.removed)} of {relation} "
                "(on_schema_change 'ignore' writes into the table's columns)",
                hint="Set on_schema_change to 'sync_all_columns' (drops them) or "
                "'append_new_columns', or rebuild the table with --full-refresh",
            )
        if changes.added:
            warnings.append(
                f"'{node.name}': column(s) {', '.join(c.name for c in changes.added)} of the "
                f"query are not in {relation} and are not written (on_schema_change 'ignore'; "
                "set 'append_new_columns' or run --full-refresh to add them)"
            )
        return [c.name for c in target]
    if mode == "fail":
        raise ModelFailedError(
            f"'{node.name}': the source and target schemas of this incremental model are out of "
            f"sync ({changes.describe()}), and on_schema_change is 'fail'",
            hint="Set on_schema_change to 'append_new_columns' or 'sync_all_columns', or "
            "rebuild the table with --full-refresh",
        )
    for column in changes.added:
        adapter.add_column(relation, column)
    if mode == "sync_all_columns":
        for column in changes.removed:
            adapter.drop_column(relation, column.name)
        for column in changes.retyped:
            adapter.alter_column_type(relation, column)
    return [c.name for c in source]
