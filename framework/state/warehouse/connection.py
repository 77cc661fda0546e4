"""The warehouse store's statements: sqlglot expressions over the ``_orch`` tables, run
through the adapter, and the schema's creation and migration.

Every statement is a sqlglot expression rendered in the adapter's dialect; values are sqlglot
literals (``exp.convert``), never pasted text. Writes are idempotent so the adapter may retry a
statement after a transient error without applying it twice: row ids are made here (microseconds
since 2020 shifted left 12 bits plus 12 random bits, increasing within a process) and every INSERT
is ``INSERT ... SELECT ... WHERE NOT EXISTS`` on the row's key. The "latest" queries use
``ROW_NUMBER()`` over the history instead of SQLite's pointer table, which keeps each write a single
statement.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orch.adapters.base import Adapter
from orch.errors import InternalError, UserError
from orch.names import Relation, normalize_identifier, normalize_name
from orch.state.base import RunLock, StateStore
from orch.state.records import SCHEMA_VERSION
from orch.state.warehouse.schema import ADDED, STATE_SCHEMA, TABLES

if TYPE_CHECKING:
    from sqlglot import exp
else:

    class _Sqlglot:
        """``exp``, imported on first use: the SQLite store (every DuckDB project) never writes
        SQL through sqlglot, and importing it costs ~0.1 s of every command's start."""

        def __getattr__(self, name: str) -> Any:
            from sqlglot import exp as module

            globals()["exp"] = module
            return getattr(module, name)

    exp = _Sqlglot()

_ID_EPOCH_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z in microseconds


def _lit(value: Any) -> exp.Expr:
    """A value as a sqlglot literal (NULL for None)."""
    return exp.null() if value is None else exp.convert(value)


class WarehouseConnection(StateStore):
    """The adapter, the statements the store is written in, and the schema they need."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        database: str | None = None,
        readonly: bool = False,
        owns_adapter: bool = False,
    ) -> None:
        self.adapter = adapter
        self.database = normalize_name(database, adapter.dialect) if database else None
        self.schema = normalize_name(STATE_SCHEMA, adapter.dialect)
        self.readonly = readonly
        self._owns_adapter = owns_adapter
        self._mutex = threading.RLock()
        self._locks: list[RunLock] = []
        self._last_id = 0
        self._run_targets: dict[str, str] = {}  # run_id -> target, runs started here
        self._closed = False
        self._ready = self._exists() if readonly else self._create()

    # ------------------------------------------------------------------ names and SQL

    def relation(self, table: str) -> Relation:
        """The relation of one state table, e.g. ``"_ORCH"."RUNS"`` on Snowflake."""
        return Relation(self.database, self.schema, normalize_name(table, self.adapter.dialect))

    def _table(self, table: str, alias: str | None = None) -> exp.Table:
        node = self.adapter.table_expression(self.relation(table))
        if alias:
            node.set("alias", exp.TableAlias(this=self._id(alias)))
        return node

    def _id(self, name: str) -> exp.Identifier:
        """Every identifier of the store's SQL: columns and aliases, as orch.names spells them."""
        return normalize_identifier(name, self.adapter.dialect)

    def _col(self, name: str, table: str | None = None) -> exp.Column:
        return exp.Column(this=self._id(name), table=self._id(table) if table else None)

    def _eq(self, column: str, value: Any, table: str | None = None) -> exp.Expr:
        col = self._col(column, table)
        return exp.Is(this=col, expression=exp.null()) if value is None else col.eq(_lit(value))

    def _where(self, values: Mapping[str, Any], table: str | None = None) -> exp.Expr:
        return exp.and_(*(self._eq(c, v, table) for c, v in values.items()))

    def _sql(self, node: exp.Expr) -> str:
        return node.sql(dialect=self.adapter.dialect)

    def _select(
        self,
        table: str,
        columns: Sequence[str],
        where: exp.Expr | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> list[tuple[Any, ...]]:
        query = exp.select(*(self._col(c) for c in columns)).from_(self._table(table))
        if where is not None:
            query = query.where(where)
        for column, desc in order:
            query = query.order_by(exp.Ordered(this=self._col(column), desc=desc))
        if limit is not None:
            query = query.limit(limit)
        with self._mutex:
            if not self._ready:
                return []
            return self.adapter.fetch_rows(self._sql(query))

    def _insert_unless(self, table: str, row: Mapping[str, Any], key: Sequence[str]) -> int | None:
        """``INSERT INTO t (cols) SELECT <values> WHERE NOT EXISTS (row with this key)``.

        Safe to re-send: a retried statement finds its own row and inserts nothing.
        """
        types = {c: t for c, t, _ in TABLES[table]}
        values = [
            exp.alias_(exp.cast(_lit(v), types[c], copy=False), self._id(c), copy=False)
            for c, v in row.items()
        ]
        exists = (
            exp.select(exp.Literal.number(1))
            .from_(self._table(table, "e"))
            .where(self._where({k: row[k] for k in key}, "e"))
        )
        dual = exp.select(exp.alias_(exp.Literal.number(1), self._id("one"))).subquery(
            self._id("d")
        )
        query = exp.select(*values).from_(dual).where(exp.Not(this=exp.Exists(this=exists)))
        insert = exp.Insert(
            this=exp.Schema(this=self._table(table), expressions=[self._id(c) for c in row]),
            expression=query,
        )
        return self.adapter.execute(self._sql(insert))

    def _update(self, table: str, values: Mapping[str, Any], where: exp.Expr) -> int | None:
        update = exp.Update(
            this=self._table(table),
            expressions=[self._col(c).eq(_lit(v)) for c, v in values.items()],
            where=exp.Where(this=where),
        )
        return self.adapter.execute(self._sql(update))

    def _delete(self, table: str, where: exp.Expr) -> int | None:
        return self.adapter.execute(self._delete_sql(table, where))

    def _delete_sql(self, table: str, where: exp.Expr) -> str:
        """``DELETE FROM <table> WHERE ...`` in the adapter's dialect."""
        return self._sql(exp.Delete(this=self._table(table), where=exp.Where(this=where)))

    def _new_id(self) -> int:
        """A row id: time-ordered, unique across processes with high probability."""
        now = (time.time_ns() // 1000 - _ID_EPOCH_US) << 12 | random.getrandbits(12)
        with self._mutex:
            self._last_id = max(now, self._last_id + 1)
            return self._last_id

    def _latest_rows(
        self,
        table: str,
        columns: Sequence[str],
        filters: Iterable[exp.Expr],
        partition_by: Sequence[str],
        keep: exp.Expr | None = None,
    ) -> list[tuple[Any, ...]]:
        """The newest row (highest id) per ``partition_by`` group, oldest group first (only
        those matching ``keep``, when given)."""
        ranked = exp.Window(
            this=exp.RowNumber(),
            partition_by=[self._col(c) for c in partition_by],
            order=exp.Order(expressions=[exp.Ordered(this=self._col("id"), desc=True)]),
        )
        inner = exp.select(
            *(self._col(c) for c in columns), exp.alias_(ranked, self._id("rn"))
        ).from_(self._table(table))
        conditions = list(filters)
        if conditions:
            inner = inner.where(exp.and_(*conditions))
        outer = (
            exp.select(*(self._col(c) for c in columns))
            .from_(inner.subquery(self._id("l")))
            .where(self._col("rn").eq(1) if keep is None else self._col("rn").eq(1).and_(keep))
            .order_by(self._col("id"))
        )
        with self._mutex:
            if not self._ready:
                return []
            return self.adapter.fetch_rows(self._sql(outer))

    def _in(self, column: str, values: Sequence[str]) -> exp.Expr:
        return exp.In(this=self._col(column), expressions=[_lit(v) for v in values])

    # ------------------------------------------------------------------ schema

    def _exists(self) -> bool:
        return self.adapter.relation_exists(self.relation("meta"))

    def _create(self) -> bool:
        """Create the schema and tables if missing; refuse a newer schema version."""
        self.adapter.ensure_schema(self.database, self.schema)
        for table, columns in TABLES.items():
            create = exp.Create(
                kind="TABLE",
                exists=True,
                this=exp.Schema(
                    this=self._table(table),
                    expressions=[
                        exp.ColumnDef(
                            this=self._id(c),
                            kind=exp.DataType.build(t),
                            constraints=[exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())]
                            if not_null
                            else [],
                        )
                        for c, t, not_null in columns
                    ],
                ),
            )
            self.adapter.execute(self._sql(create))
        self._ready = True
        self._insert_unless(
            "meta", {"key": "schema_version", "value": str(SCHEMA_VERSION)}, ["key"]
        )
        rows = self._select("meta", ["value"], self._eq("key", "schema_version"))
        version = int(rows[0][0]) if rows else SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise UserError(
                f"the state schema {self._sql(self._table('meta'))} has schema version "
                f"{version}, newer than this orch understands ({SCHEMA_VERSION})",
                hint="Upgrade orch",
            )
        if version < SCHEMA_VERSION:  # additive migration: the columns later schemas added
            for table, column, since in ADDED:
                if version < since:
                    kind = next(t for c, t, _ in TABLES[table] if c == column)
                    self.adapter.execute(
                        f"ALTER TABLE {self._sql(self._table(table))} ADD COLUMN IF NOT EXISTS"
                        f" {self._sql(self._id(column))} {kind}"
                    )
            self._update("meta", {"value": str(SCHEMA_VERSION)}, self._eq("key", "schema_version"))
        return True

    def _writable(self) -> None:
        if self.readonly:
            raise InternalError("the warehouse state store was opened read-only")

    def close(self) -> None:
        """Release this store's run locks and, when it opened it, the adapter (idempotent)."""
        for lock in list(self._locks):
            lock.release()
        if self._owns_adapter and not self._closed:
            self.adapter.close()
        self._closed = True
