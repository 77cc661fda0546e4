"""Building a dbt snapshot: dbt's own SQL (dbt-adapters' snapshot macros), run through the Adapter.

The statements are those of dbt-core 1.11's ``snapshot`` materialization with dbt-duckdb's
``snapshot_merge_sql`` (``update ... from`` then ``insert``; Snowflake: dbt's default ``merge``),
written out in Python so the result is the same row for row:

- first build: ``select *, <scd_id>, <updated_at> as dbt_updated_at, <updated_at> as
  dbt_valid_from, coalesce(nullif(<updated_at>, <updated_at>), <dbt_valid_to_current>) as
  dbt_valid_to [, 'False' as dbt_is_deleted]`` from the query;
- later builds: the staging table of ``default__snapshot_staging_table`` (insertions, updates,
  and with ``hard_deletes`` invalidate/new_record the deletes and deletion records), columns the
  query gained added to the table, then the merge: rows whose ``dbt_scd_id`` is current get their
  ``dbt_valid_to``, new versions are inserted.

``timestamp``: changed when the stored ``dbt_valid_from`` < the query's ``updated_at``, and
``dbt_updated_at``/``dbt_valid_from`` hold ``updated_at``. ``check``: changed when a
``check_cols`` column differs (NULL-aware), and they hold the snapshot time (``updated_at``
when that is set). ``dbt_scd_id`` is ``md5(coalesce(cast(<key> as varchar), '') || '|' || ...)``
over the unique key column(s) and the ``updated_at`` value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orch.errors import ModelFailedError
from orch.names import Relation

if TYPE_CHECKING:
    from orch.adapters.base import Adapter
    from orch.manifest import Node

META_COLUMNS = ("dbt_valid_to", "dbt_valid_from", "dbt_scd_id", "dbt_updated_at", "dbt_is_deleted")
_STAGING_ONLY = ("dbt_change_type", "dbt_unique_key")


@dataclass(frozen=True)
class Strategy:
    """The pieces of SQL a strategy gives the staging query (dbt's ``strategy`` dict)."""

    unique_key: list[str]
    key_is_list: bool
    updated_at: str
    row_changed: str
    scd_id: str
    hard_deletes: str  # ignore | invalidate | new_record


class SnapshotSql:
    """dbt's snapshot statements for one snapshot node on one adapter."""

    def __init__(self, node: Node, adapter: Adapter) -> None:
        self.node = node
        self.adapter = adapter
        self.extra: dict[str, Any] = node.config.extra
        names = self.extra.get("snapshot_meta_column_names") or {}
        self.col = {c: str(names.get(c) or c) for c in META_COLUMNS}
        self.current: str | None = self.extra.get("dbt_valid_to_current")
        self.snowflake = adapter.dialect == "snowflake"

    # ---------------------------------------------------------------- strategy

    def now(self) -> str:
        """dbt's ``snapshot_get_time()`` for the adapter."""
        if self.snowflake:
            return "to_timestamp_ntz(convert_timezone('UTC', current_timestamp()))"
        return "current_timestamp::timestamp"

    def hard_deletes(self) -> str:
        """``adapter.get_hard_deletes_behavior``: the legacy flag or ``hard_deletes``."""
        if self.extra.get("invalidate_hard_deletes") or self.extra.get("hard_deletes") == (
            "invalidate"
        ):
            return "invalidate"
        return "new_record" if self.extra.get("hard_deletes") == "new_record" else "ignore"

    def strategy(self, check_cols: list[str], column_added: bool) -> Strategy:
        """The timestamp or check strategy (``check_cols``: quoted, present in the table)."""
        key = self.node.config.unique_key
        keys = list(key) if isinstance(key, list) else [str(key)]
        if self.extra.get("strategy") == "timestamp":
            updated_at = str(self.extra["updated_at"])
            changed = f"(snapshotted_data.{self.col['dbt_valid_from']} < source_data.{updated_at})"
        else:
            updated_at = str(self.extra.get("updated_at") or self.now())
            if column_added:
                changed = "(TRUE)"
            else:
                parts = [
                    f"snapshotted_data.{c} != source_data.{c}\n        or\n        (\n"
                    f"            ((snapshotted_data.{c} is null) and not (source_data.{c} is "
                    f"null))\n            or\n            ((not snapshotted_data.{c} is null) and "
                    f"(source_data.{c} is null))\n        )"
                    for c in check_cols
                ]
                changed = "(" + " or ".join(parts) + ")"
        return Strategy(keys, isinstance(key, list), updated_at, changed,
                        hash_arguments([*keys, updated_at]), self.hard_deletes())  # fmt: skip

    # ---------------------------------------------------------------- first build

    def build_table(self, sql: str, strategy: Strategy) -> str:
        """``default__build_snapshot_table``: the query with the snapshot columns."""
        c = self.col
        deleted = (
            f", 'False' as {c['dbt_is_deleted']}" if strategy.hard_deletes == "new_record" else ""
        )
        return (
            f"select *,\n    {strategy.scd_id} as {c['dbt_scd_id']},\n"
            f"    {strategy.updated_at} as {c['dbt_updated_at']},\n"
            f"    {strategy.updated_at} as {c['dbt_valid_from']},\n"
            f"    {self.valid_to_current(strategy)}{deleted}\nfrom (\n{sql}\n) sbq"
        )

    def valid_to_current(self, strategy: Strategy) -> str:
        """``get_dbt_valid_to_current``."""
        current = self.current or "null"
        u = strategy.updated_at
        return f"coalesce(nullif({u}, {u}), {current}) as {self.col['dbt_valid_to']}"

    # ---------------------------------------------------------------- later builds

    def staging(self, sql: str, target: str, strategy: Strategy, source_cols: list[str],
                target_cols: list[str]) -> str:  # fmt: skip
        """``default__snapshot_staging_table``: the changes, one row per insert/update/delete."""
        c, s = self.col, strategy
        new_record = s.hard_deletes == "new_record"
        deletes = s.hard_deletes in ("invalidate", "new_record")
        keys = self.key_fields(s)
        if self.current:
            current_filter = (
                f"( ({c['dbt_valid_to']} = {self.current}) or {c['dbt_valid_to']} is null )"
            )
        else:
            current_filter = f"{c['dbt_valid_to']} is null"
        join = self.key_join(s, "snapshotted_data", "source_data")
        deleted_flag = f"snapshotted_data.{c['dbt_is_deleted']} = 'True'"
        or_deleted = f" or {deleted_flag}" if new_record else ""
        parts = [
            f"with snapshot_query as (\n\n{sql}\n\n),",
            f"snapshotted_data as (\n    select *, {keys}\n    from {target}\n    where "
            f"{current_filter}\n),",
            f"insertions_source_data as (\n    select *, {keys},\n"
            f"        {s.updated_at} as {c['dbt_updated_at']},\n"
            f"        {s.updated_at} as {c['dbt_valid_from']},\n"
            f"        {self.valid_to_current(s)},\n        {s.scd_id} as {c['dbt_scd_id']}\n"
            f"    from snapshot_query\n),",
            f"updates_source_data as (\n    select *, {keys},\n"
            f"        {s.updated_at} as {c['dbt_updated_at']},\n"
            f"        {s.updated_at} as {c['dbt_valid_from']},\n"
            f"        {s.updated_at} as {c['dbt_valid_to']}\n    from snapshot_query\n),",
        ]
        if deletes:
            parts.append(
                f"deletes_source_data as (\n    select *, {keys}\n    from snapshot_query\n),"
            )
        is_deleted_col = f",'False' as {c['dbt_is_deleted']}" if new_record else ""
        parts.append(
            "insertions as (\n    select 'insert' as dbt_change_type, "
            f"source_data.*{is_deleted_col}\n"
            f"    from insertions_source_data as source_data\n"
            f"    left outer join snapshotted_data on {join}\n"
            f"    where {self.key_null(s, 'snapshotted_data')}\n"
            f"    or ({self.key_null(s, 'snapshotted_data', negate=True)} and (\n"
            f"        {s.row_changed}{or_deleted}\n    ))\n),"
        )
        carry = f", snapshotted_data.{c['dbt_is_deleted']}" if new_record else ""
        parts.append(
            f"updates as (\n    select 'update' as dbt_change_type, source_data.*,\n"
            f"        snapshotted_data.{c['dbt_scd_id']}{carry}\n"
            f"    from updates_source_data as source_data\n"
            f"    join snapshotted_data on {join}\n"
            f"    where (\n        {s.row_changed}{or_deleted}\n    )\n)"
        )
        now = self.now()
        still_current = (
            f"snapshotted_data.{c['dbt_valid_to']} = {self.current}"
            if self.current
            else f"snapshotted_data.{c['dbt_valid_to']} is null"
        )
        if deletes:
            not_deleted = (
                f"\n    and not ({deleted_flag} and {still_current})" if new_record else ""
            )
            parts[-1] += (
                f",\ndeletes as (\n    select 'delete' as dbt_change_type, source_data.*,\n"
                f"        {now} as {c['dbt_valid_from']},\n"
                f"        {now} as {c['dbt_updated_at']},\n"
                f"        {now} as {c['dbt_valid_to']},\n"
                f"        snapshotted_data.{c['dbt_scd_id']}{carry}\n"
                f"    from snapshotted_data\n"
                f"    left join deletes_source_data as source_data on {join}\n"
                f"    where {self.key_null(s, 'source_data')}{not_deleted}\n)"
            )
        if new_record:
            cols = []
            for name in source_cols:
                side = "snapshotted_data" if name in target_cols else "source_data"
                cols.append(f"{side}.{self.adapter.quote(name)}")
            if s.key_is_list:
                cols += [f"snapshotted_data.{k} as dbt_unique_key_{i}"
                         for i, k in enumerate(s.unique_key, 1)]  # fmt: skip
            else:
                cols.append("snapshotted_data.dbt_unique_key as dbt_unique_key")
            new_scd = hash_arguments([c["dbt_scd_id"], now])
            parts[-1] += (
                ",\ndeletion_records as (\n    select 'insert' as dbt_change_type,\n        "
                + ",\n        ".join(cols)
                + f",\n        {now} as {c['dbt_valid_from']},\n"
                f"        {now} as {c['dbt_updated_at']},\n"
                f"        snapshotted_data.{c['dbt_valid_to']} as {c['dbt_valid_to']},\n"
                f"        {new_scd} as {c['dbt_scd_id']},\n"
                f"        'True' as {c['dbt_is_deleted']}\n"
                f"    from snapshotted_data\n"
                f"    left join deletes_source_data as source_data on {join}\n"
                f"    where {self.key_null(s, 'source_data')}\n"
                f"    and not ({deleted_flag} and {still_current})\n)"
            )
        union = ["select * from insertions", "select * from updates"]
        if deletes:
            union.append("select * from deletes")
        if new_record:
            union.append("select * from deletion_records")
        return "\n".join(parts) + "\n" + "\nunion all\n".join(union)

    def key_fields(self, s: Strategy) -> str:
        """``unique_key_fields``."""
        if s.key_is_list:
            return ", ".join(f"{k} as dbt_unique_key_{i}" for i, k in enumerate(s.unique_key, 1))
        return f"{s.unique_key[0]} as dbt_unique_key"

    def key_join(self, s: Strategy, left: str, right: str) -> str:
        """``unique_key_join_on`` (``equals()`` without truthy nulls: dbt 1.11's default)."""
        if s.key_is_list:
            return " and ".join(f"({left}.dbt_unique_key_{i} = {right}.dbt_unique_key_{i})"
                                for i in range(1, len(s.unique_key) + 1))  # fmt: skip
        return f"{left}.dbt_unique_key = {right}.dbt_unique_key"

    def key_null(self, s: Strategy, side: str, negate: bool = False) -> str:
        """``unique_key_is_null`` / ``unique_key_is_not_null``."""
        column = "dbt_unique_key_1" if s.key_is_list else "dbt_unique_key"
        return f"{side}.{column} is {'not ' if negate else ''}null"

    def merge(self, target: str, source: str, insert_cols: list[str]) -> list[str]:
        """``duckdb__snapshot_merge_sql`` (Snowflake: ``default__snapshot_merge_sql``)."""
        c = self.col
        cols = ", ".join(insert_cols)
        if self.current:
            current = f"(DBT_INTERNAL_TARGET.{c['dbt_valid_to']} = {self.current} or " \
                      f"DBT_INTERNAL_TARGET.{c['dbt_valid_to']} is null)"  # fmt: skip
        else:
            current = f"DBT_INTERNAL_TARGET.{c['dbt_valid_to']} is null"
        if self.snowflake:
            values = ", ".join(f"DBT_INTERNAL_SOURCE.{col}" for col in insert_cols)
            return [
                f"merge into {target} as DBT_INTERNAL_TARGET using {source} as DBT_INTERNAL_SOURCE"
                f" on DBT_INTERNAL_SOURCE.{c['dbt_scd_id']} = DBT_INTERNAL_TARGET.{c['dbt_scd_id']}"
                f" when matched and {current} and DBT_INTERNAL_SOURCE.dbt_change_type in "
                f"('update', 'delete') then update set {c['dbt_valid_to']} = "
                f"DBT_INTERNAL_SOURCE.{c['dbt_valid_to']} when not matched and "
                f"DBT_INTERNAL_SOURCE.dbt_change_type = 'insert' then insert ({cols}) values "
                f"({values})"
            ]
        return [
            f"update {target} as DBT_INTERNAL_TARGET\nset {c['dbt_valid_to']} = "
            f"DBT_INTERNAL_SOURCE.{c['dbt_valid_to']}\nfrom {source} as DBT_INTERNAL_SOURCE\n"
            f"where DBT_INTERNAL_SOURCE.{c['dbt_scd_id']}::text = "
            f"DBT_INTERNAL_TARGET.{c['dbt_scd_id']}::text\n"
            f"  and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update'::text, 'delete'::text)\n"
            f"  and {current}",
            f"insert into {target} ({cols})\nselect "
            + ", ".join(f"DBT_INTERNAL_SOURCE.{col}" for col in insert_cols)
            + f"\nfrom {source} as DBT_INTERNAL_SOURCE\n"
            f"where DBT_INTERNAL_SOURCE.dbt_change_type::text = 'insert'::text",
        ]


def hash_arguments(args: list[str]) -> str:
    """``default__snapshot_hash_arguments``: md5 over the values joined by ``|``."""
    inner = " || '|' || ".join(f"coalesce(cast({a} as varchar ), '')" for a in args)
    return f"md5({inner})"


def build_snapshot(
    node: Node, adapter: Adapter, relation: Relation, staged: Relation
) -> tuple[int | None, str]:
    """Create the snapshot table, or record the query's changes in it (one transaction, the
    changes staged in ``staged``). Returns the rows written and ``create`` or ``merge``."""
    gen = SnapshotSql(node, adapter)
    sql = node.compiled_code
    target = adapter.render(relation)
    kind = adapter.relation_type(relation)
    if kind is not None and kind != "table":
        raise ModelFailedError(
            f"snapshot '{node.name}': {relation} is a {kind}, not a table",
            hint="Drop it (or choose another schema/alias): a snapshot keeps its history in a "
            "table",
        )
    check_cols, column_added = _check_cols(gen, adapter, relation, sql, kind is not None)
    strategy = gen.strategy(check_cols, column_added)
    if kind is None:
        rows = adapter.create_table_as(relation, gen.build_table(sql, strategy))
        return rows, "create"
    existing = {c.name.lower() for c in adapter.columns(relation)}
    needed = [gen.col[c] for c in META_COLUMNS[:4]]
    if strategy.hard_deletes == "new_record":
        needed.append(gen.col["dbt_is_deleted"])
    missing = [c for c in needed if c.lower() not in existing]
    if missing:
        raise ModelFailedError(
            f"snapshot '{node.name}': the table {relation} lacks the snapshot column(s) "
            f"{', '.join(missing)}",
            hint="Check snapshot_meta_column_names / hard_deletes, or rebuild the snapshot",
        )
    source_cols = _query_columns(adapter, sql)
    target_cols = [c.name for c in adapter.columns(relation)]
    adapter.drop_relation(staged)
    with adapter.transaction():
        adapter.create_table_as(
            staged, gen.staging(sql, target, strategy, source_cols, target_cols)
        )
        try:
            removed = {*_STAGING_ONLY, *(f"dbt_unique_key_{i}"
                       for i in range(1, len(strategy.unique_key) + 1))}  # fmt: skip
            staged_cols = [c for c in adapter.columns(staged) if c.name.lower() not in removed]
            have = {c.lower() for c in target_cols}
            for column in staged_cols:  # create_columns: what the query gained
                if column.name.lower() not in have:
                    adapter.execute(f"alter table {target} add column "
                                    f"{adapter.quote(column.name)} {column.data_type}")  # fmt: skip
            insert_cols = [adapter.quote(c.name) for c in staged_cols]
            rows = 0
            for statement in gen.merge(target, adapter.render(staged), insert_cols):
                rows = adapter.execute(statement) or 0
        finally:
            adapter.drop_relation(staged)
    return rows, "merge"


def _query_columns(adapter: Adapter, sql: str) -> list[str]:
    return list(adapter.fetch_arrow(f"select * from (\n{sql}\n) as q limit 0").column_names)


def _check_cols(
    gen: SnapshotSql, adapter: Adapter, relation: Relation, sql: str, exists: bool
) -> tuple[list[str], bool]:
    """``snapshot_check_all_get_existing_columns``: the check columns the table has (quoted),
    and whether the query gained one (then every row counts as changed)."""
    if gen.extra.get("strategy") != "check" or not exists:
        return [], False
    config = gen.extra.get("check_cols")
    if config == "all":
        query_cols = _query_columns(adapter, sql)
    else:
        select = f"select {', '.join(config or [])} from (\n{sql}\n) subq"
        query_cols = _query_columns(adapter, select)
    existing = {c.name for c in adapter.columns(relation)}
    present = [adapter.quote(c) for c in query_cols if c in existing]
    return present, any(c not in existing for c in query_cols)
