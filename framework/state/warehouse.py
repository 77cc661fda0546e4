"""The state store in the warehouse: the tables of :mod:`orch.state`, in a ``_orch`` schema.

:class:`WarehouseStateStore` implements :class:`~orch.state.StateStore` on top of the
:class:`~orch.adapters.base.Adapter` interface only, so it works on every warehouse orch has an
adapter for. It is the default for Snowflake targets (a team shares one state), and selectable on
any target with ``state: warehouse`` in its profile (``state: sqlite`` keeps the embedded file).

Tables live in the schema ``_orch`` of the target's database, named as the warehouse stores
unquoted names (:func:`orch.names.normalize_identifier`, like every column and alias here:
``"_ORCH"."RUNS"."RUN_ID"`` on Snowflake), with the columns of the SQLite schema; timestamps
are fixed-width ISO 8601 UTC text and JSON is text, as there, so the two stores answer
identically. They are created on first write; a read-only store on a warehouse
without them answers empty and creates nothing.

Every statement is a sqlglot expression rendered in the adapter's dialect; values are sqlglot
literals (``exp.convert``), never pasted text. Writes are idempotent so the adapter may retry a
statement after a transient error without applying it twice: row ids are made here (microseconds
since 2020 shifted left 12 bits plus 12 random bits, increasing within a process) and every INSERT
is ``INSERT ... SELECT ... WHERE NOT EXISTS`` on the row's key. The "latest" queries use
``ROW_NUMBER()`` over the history instead of SQLite's pointer table, which keeps each write a single
statement.

Run lock: one row per target in ``run_locks``. Acquisition reads the row; a live holder raises
:func:`~orch.state.lock_held_error`; a stale one (:func:`~orch.state.lock_is_stale`: dead pid on
this host, or heartbeat older than ``stale_after``) is deleted by its ``lock_id`` and its running
runs marked ``interrupted``. Then, in one transaction, a no-op ``UPDATE`` of the target's row
(which makes concurrent acquirers queue on Snowflake's table lock) and
``INSERT ... WHERE NOT EXISTS``. After the commit the target's rows are read again: the lock is
ours only if our row is the only one. Warehouses do not enforce primary keys, so two acquirers
may both insert; each then sees the other's row, removes its own and retries after a random pause
(up to three times) or raises. Whoever re-reads first after committing cannot miss an earlier
committed row, so at most one process ever owns the lock.

Once the lock is ours, the target's other orphaned running runs
(:func:`~orch.state.records.orphaned_runs`: a dead pid on this host, or a locking command's run
that no longer holds the lock, whichever machine ran it) are marked ``interrupted``. A pid is
compared only with runs recorded on this host (``runs.host``); across machines the lock and its
heartbeat tell.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.adapters import get_adapter
from orch.adapters.base import Adapter
from orch.config import TargetConfig
from orch.errors import InternalError, UserError
from orch.events import utcnow
from orch.names import Relation, normalize_identifier, normalize_name
from orch.state.base import RunLock, StateStore
from orch.state.records import (
    CHECK_STATUSES,
    LOCK_HEARTBEAT_S,
    LOCK_STALE_AFTER_S,
    MATERIALIZATION_STATUSES,
    OP_STEP_COLUMNS,
    OP_STEP_STATUSES,
    RUN_STATUSES,
    SCHEMA_VERSION,
    CheckResultRecord,
    LockInfo,
    LockOwner,
    MaterializationRecord,
    ObservationRecord,
    OpStepRecord,
    RunRecord,
    TickRecord,
    UpstreamRef,
    _at,
    _json,
    _loads,
    _ts,
    check_from_row,
    lock_from_row,
    lock_held_error,
    lock_is_stale,
    materialization_from_row,
    observation_from_row,
    op_step_from_row,
    orphaned_runs,
    run_from_row,
    sample_json,
    upstream_dict,
)
from orch.state.sqlite import SQLiteStateStore
from orch.state.warehouse_provenance import PROVENANCE_TABLES, WarehouseProvenance

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

log = logging.getLogger(__name__)

STATE_SCHEMA = "_orch"
_ACQUIRE_ATTEMPTS = 3
_ID_EPOCH_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z in microseconds

_TEXT, _INT, _FLOAT = "VARCHAR", "BIGINT", "DOUBLE"

# table -> [(column, type, not null)], the SQLite schema's columns (ids made by the store).
_TABLES: dict[str, list[tuple[str, str, bool]]] = {
    "meta": [("key", _TEXT, True), ("value", _TEXT, True)],
    "runs": [
        ("run_id", _TEXT, True),
        ("command", _TEXT, True),
        ("selection", _TEXT, True),
        ("target", _TEXT, True),
        ("started_at", _TEXT, True),
        ("finished_at", _TEXT, False),
        ("status", _TEXT, True),
        ("pid", _INT, False),
        ("host", _TEXT, False),
        ("args", _TEXT, True),
        ("counts", _TEXT, True),
    ],
    "materializations": [
        ("id", _INT, True),
        ("run_id", _TEXT, True),
        ("target", _TEXT, True),
        ("asset", _TEXT, True),
        ("partition_key", _TEXT, False),
        ("status", _TEXT, True),
        ("fingerprint", _TEXT, False),
        ("materialized", _TEXT, False),
        ("started_at", _TEXT, True),
        ("finished_at", _TEXT, True),
        ("duration_s", _FLOAT, True),
        ("rows", _INT, False),
        ("metadata", _TEXT, True),
        ("upstream", _TEXT, True),
        ("error", _TEXT, False),
        ("data_version", _TEXT, False),  # added in schema 2
        ("versions", _TEXT, False),  # added in schema 2
    ],
    "source_observations": [
        ("target", _TEXT, True),
        ("source", _TEXT, True),
        ("fingerprint", _TEXT, True),
        ("detail", _TEXT, True),
        ("observed_at", _TEXT, True),
        ("changed_at", _TEXT, False),
    ],
    "check_results": [
        ("id", _INT, True),
        ("run_id", _TEXT, True),
        ("target", _TEXT, True),
        ("check_name", _TEXT, True),
        ("asset", _TEXT, False),
        ("partition_key", _TEXT, False),
        ("status", _TEXT, True),
        ("severity", _TEXT, True),
        ("failing_rows", _INT, True),
        ("sample", _TEXT, True),
        ("duration_s", _FLOAT, True),
        ("sql", _TEXT, True),
        ("message", _TEXT, True),
        ("at", _TEXT, True),
    ],
    "op_steps": [
        ("id", _INT, True),
        ("run_id", _TEXT, True),
        ("job", _TEXT, True),
        ("step_key", _TEXT, True),
        ("op", _TEXT, True),
        ("status", _TEXT, True),
        ("attempts", _INT, True),
        ("started_at", _TEXT, True),
        ("finished_at", _TEXT, True),
        ("duration_s", _FLOAT, True),
        ("outputs", _TEXT, True),
        ("metadata", _TEXT, True),
        ("error", _TEXT, False),
        ("path", _TEXT, False),
        ("attempt_errors", _TEXT, True),
        ("reused_from", _TEXT, False),
    ],
    "ticks": [
        ("id", _INT, True),
        ("name", _TEXT, True),
        ("tick_time", _TEXT, True),
        ("status", _TEXT, True),
        ("run_ids", _TEXT, True),
        ("skip_reason", _TEXT, False),
        ("error", _TEXT, False),
        ("recorded_at", _TEXT, True),
    ],
    "sensor_cursors": [
        ("name", _TEXT, True),
        ("cursor", _TEXT, False),
        ("updated_at", _TEXT, True),
    ],
    "run_keys": [
        ("name", _TEXT, True),
        ("run_key", _TEXT, True),
        ("run_id", _TEXT, True),
        ("at", _TEXT, True),
    ],
    "run_locks": [
        ("target", _TEXT, True),
        ("lock_id", _TEXT, True),
        ("pid", _INT, True),
        ("host", _TEXT, True),
        ("command", _TEXT, True),
        ("run_id", _TEXT, False),
        ("acquired_at", _TEXT, True),
        ("heartbeat_at", _TEXT, True),
    ],
    **PROVENANCE_TABLES,  # code_versions, run_git, op_step_code, hook_runs
}
_RUN_COLUMNS = [c for c, _, _ in _TABLES["runs"]]
_MAT_COLUMNS = [c for c, _, _ in _TABLES["materializations"]]
# (table, column, schema version that added it): added to an older schema by ``ALTER TABLE``
_ADDED = (("materializations", "data_version", 2), ("materializations", "versions", 2))
_OBSERVATION_COLUMNS = [c for c, _, _ in _TABLES["source_observations"]]
_CHECK_COLUMNS = [c for c, _, _ in _TABLES["check_results"]]
_TICK_COLUMNS = [c for c, _, _ in _TABLES["ticks"]]
_LOCK_COLUMNS = [c for c, _, _ in _TABLES["run_locks"]]


def state_kind(target: TargetConfig) -> str:
    """Where a target keeps its state: its ``state`` setting, else warehouse for Snowflake."""
    if target.state is not None:
        return target.state
    return "warehouse" if target.type == "snowflake" else "sqlite"


def open_state_store(
    project_root: Path, target: TargetConfig, *, readonly: bool = False
) -> StateStore:
    """The state store a target uses: SQLite under ``.orch/`` or the warehouse's ``_orch``."""
    if state_kind(target) == "warehouse":
        return WarehouseStateStore.for_target(target, project_root, readonly=readonly)
    return SQLiteStateStore.for_project(project_root, readonly=readonly)


def _lit(value: Any) -> exp.Expr:
    """A value as a sqlglot literal (NULL for None)."""
    return exp.null() if value is None else exp.convert(value)


class WarehouseStateStore(WarehouseProvenance, StateStore):
    """A :class:`StateStore` in the ``_orch`` schema of a warehouse, through an Adapter."""

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

    @classmethod
    def for_target(
        cls, target: TargetConfig, project_root: Path, *, readonly: bool = False
    ) -> WarehouseStateStore:
        """Open an adapter of its own for ``target`` and the store on it (closed with it)."""
        adapter = get_adapter(target, project_root)
        adapter.open()
        try:
            return cls(adapter, database=target.database, readonly=readonly, owns_adapter=True)
        except BaseException:
            adapter.close()
            raise

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
        types = {c: t for c, t, _ in _TABLES[table]}
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
        return self.adapter.execute(
            self._sql(exp.Delete(this=self._table(table), where=exp.Where(this=where)))
        )

    def _new_id(self) -> int:
        """A row id: time-ordered, unique across processes with high probability."""
        now = (time.time_ns() // 1000 - _ID_EPOCH_US) << 12 | random.getrandbits(12)
        with self._mutex:
            self._last_id = max(now, self._last_id + 1)
            return self._last_id

    # ------------------------------------------------------------------ schema

    def _exists(self) -> bool:
        return self.adapter.relation_exists(self.relation("meta"))

    def _create(self) -> bool:
        """Create the schema and tables if missing; refuse a newer schema version."""
        self.adapter.ensure_schema(self.database, self.schema)
        for table, columns in _TABLES.items():
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
            for table, column, since in _ADDED:
                if version < since:
                    kind = next(t for c, t, _ in _TABLES[table] if c == column)
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

    def __enter__(self) -> WarehouseStateStore:
        return self

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        command: str,
        *,
        target: str,
        selection: str = "",
        args: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        pid: int | None = None,
        host: str | None = None,
        started_at: datetime | None = None,
    ) -> str:
        """Record a run as ``running``; returns its run_id (idempotent for a given run_id)."""
        self._writable()
        run_id = run_id or uuid.uuid4().hex
        row = {
            "run_id": run_id,
            "command": command,
            "selection": selection,
            "target": target,
            "started_at": _ts(started_at or utcnow()),
            "finished_at": None,
            "status": "running",
            "pid": pid if pid is not None else os.getpid(),
            "host": host or socket.gethostname(),
            "args": _json(dict(args or {})),
            "counts": "{}",
        }
        with self._mutex:
            self._insert_unless("runs", row, ["run_id"])
            self._run_targets[run_id] = target
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        finished_at: datetime | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """Set a run's final status: success, failed or interrupted."""
        self._writable()
        if status not in RUN_STATUSES[1:]:
            raise InternalError(f"invalid run status {status!r}; expected one of {RUN_STATUSES}")
        values = {
            "status": status,
            "finished_at": _ts(finished_at or utcnow()),
            "counts": _json(dict(counts or {})),
        }
        with self._mutex:
            self._update("runs", values, self._eq("run_id", run_id))

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or None; a ``running`` run whose process died is ``interrupted``."""
        run = self._stored_run(run_id)
        return None if run is None else self._settle_orphans([run], self._stored_run)[0]

    def _stored_run(self, run_id: str) -> RunRecord | None:
        rows = self._select("runs", _RUN_COLUMNS, self._eq("run_id", run_id))
        return run_from_row(rows[0]) if rows else None

    def recent_runs(self, limit: int = 20, *, target: str | None = None) -> list[RunRecord]:
        """The newest runs first; a ``running`` run whose process died is ``interrupted``."""
        where = self._eq("target", target) if target is not None else None
        rows = self._select(
            "runs", _RUN_COLUMNS, where, [("started_at", True), ("run_id", True)], limit
        )
        return self._settle_orphans([run_from_row(r) for r in rows], self._stored_run)

    def _target_of(self, run_id: str) -> str:
        if run_id in self._run_targets:  # saves a query per recorded step
            return self._run_targets[run_id]
        rows = self._select("runs", ["target"], self._eq("run_id", run_id))
        return str(rows[0][0]) if rows else ""

    # ------------------------------------------------------------------ materializations

    def record_materialization(
        self,
        *,
        run_id: str,
        asset: str,
        partition_key: str | None,
        status: str,
        started_at: datetime,
        finished_at: datetime | None = None,
        fingerprint: str | None = None,
        materialized: str | None = None,
        rows: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        upstream: Sequence[UpstreamRef | Mapping[str, Any]] = (),
        error: str | None = None,
        target: str | None = None,
        data_version: str | None = None,
        versions: Mapping[str, Mapping[str, str]] | None = None,
    ) -> int:
        """Record one attempt; a ``success`` only after its data committed. Returns the row id."""
        self._writable()
        if status not in MATERIALIZATION_STATUSES:
            raise InternalError(f"invalid materialization status {status!r}")
        if partition_key == "":
            raise InternalError(f"empty partition key for {asset!r}; use None when unpartitioned")
        finished_at = finished_at or utcnow()
        row_id = self._new_id()
        row = {
            "id": row_id,
            "run_id": run_id,
            "target": self._target_of(run_id) if target is None else target,
            "asset": asset,
            "partition_key": partition_key,
            "status": status,
            "fingerprint": fingerprint,
            "materialized": materialized,
            "started_at": _ts(started_at),
            "finished_at": _ts(finished_at),
            "duration_s": max((finished_at - started_at).total_seconds(), 0.0),
            "rows": rows,
            "metadata": _json(dict(metadata or {})),
            "upstream": _json([upstream_dict(u) for u in upstream]),
            "error": error,
            "data_version": data_version,
            "versions": _json({k: dict(v) for k, v in versions.items()}) if versions else None,
        }
        with self._mutex:
            self._insert_unless("materializations", row, ["id"])
        return row_id

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

    def _latest(
        self,
        success_only: bool,
        assets: Sequence[str] | None,
        target: str | None,
        *,
        failed_only: bool = False,
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        if assets is not None and not assets:
            return {}
        filters = []
        if success_only:
            filters.append(self._eq("status", "success"))
        if assets is not None:
            filters.append(self._in("asset", assets))
        if target is not None:
            filters.append(self._eq("target", target))
        keep = self._eq("status", "failed") if failed_only else None
        rows = self._latest_rows(
            "materializations", _MAT_COLUMNS, filters, ["target", "asset", "partition_key"], keep
        )
        return {
            (r[3], r[4]): materialization_from_row(r) for r in rows
        }  # newest wins across targets

    def latest_materializations(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last successful materialization per (asset, partition_key)."""
        return self._latest(True, assets, target)

    def latest_attempts(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt, failed or not, per (asset, partition_key)."""
        return self._latest(False, assets, target)

    def latest_failures(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt per (asset, partition_key) where it failed."""
        return self._latest(False, assets, target, failed_only=True)

    def partitions_of(
        self, asset: str, *, target: str | None = None
    ) -> dict[str, MaterializationRecord]:
        """The last successful materialization per partition key of one asset."""
        latest = self._latest(True, [asset], target)
        return {pk: rec for (_, pk), rec in latest.items() if pk is not None}

    def materialization_history(
        self, asset: str, limit: int = 50, *, target: str | None = None
    ) -> list[MaterializationRecord]:
        """Every attempt on one asset (all partitions), newest first."""
        where = self._where({"asset": asset, **({"target": target} if target else {})})
        rows = self._select("materializations", _MAT_COLUMNS, where, [("id", True)], limit)
        return [materialization_from_row(r) for r in rows]

    def run_materializations(self, run_id: str) -> list[MaterializationRecord]:
        """Every materialization attempt of one run, in recording order, in one query."""
        rows = self._select(
            "materializations", _MAT_COLUMNS, self._eq("run_id", run_id), [("id", False)]
        )
        return [materialization_from_row(r) for r in rows]

    # ------------------------------------------------------------------ checks

    def record_check(
        self,
        *,
        run_id: str,
        check: str,
        asset: str | None,
        partition_key: str | None,
        status: str,
        severity: str,
        failing_rows: int = 0,
        sample: Sequence[Mapping[str, Any]] = (),
        duration_s: float = 0.0,
        sql: str = "",
        message: str = "",
        at: datetime | None = None,
        target: str | None = None,
    ) -> int:
        """Record one check result (the sample is cut to ``SAMPLE_ROWS``). Returns the row id."""
        self._writable()
        if status not in CHECK_STATUSES:
            raise InternalError(f"invalid check status {status!r}")
        row_id = self._new_id()
        row = {
            "id": row_id,
            "run_id": run_id,
            "target": self._target_of(run_id) if target is None else target,
            "check_name": check,
            "asset": asset,
            "partition_key": partition_key,
            "status": status,
            "severity": severity,
            "failing_rows": failing_rows,
            "sample": sample_json(sample),
            "duration_s": float(duration_s),
            "sql": sql,
            "message": message,
            "at": _ts(at or utcnow()),
        }
        with self._mutex:
            self._insert_unless("check_results", row, ["id"])
        return row_id

    def latest_check_results(
        self, checks: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], CheckResultRecord]:
        """The last result per (check, partition_key)."""
        if checks is not None and not checks:
            return {}
        filters = []
        if checks is not None:
            filters.append(self._in("check_name", checks))
        if target is not None:
            filters.append(self._eq("target", target))
        rows = self._latest_rows(
            "check_results", _CHECK_COLUMNS, filters, ["check_name", "target", "partition_key"]
        )
        return {(r[3], r[5]): check_from_row(r) for r in rows}

    def check_history(
        self, check: str, limit: int = 50, *, target: str | None = None
    ) -> list[CheckResultRecord]:
        """Results of one check, newest first."""
        where = self._where({"check_name": check, **({"target": target} if target else {})})
        rows = self._select("check_results", _CHECK_COLUMNS, where, [("id", True)], limit)
        return [check_from_row(r) for r in rows]

    def run_check_results(self, run_id: str) -> list[CheckResultRecord]:
        """Every check result of one run, in recording order, in one query."""
        rows = self._select(
            "check_results", _CHECK_COLUMNS, self._eq("run_id", run_id), [("id", False)]
        )
        return [check_from_row(r) for r in rows]

    # ------------------------------------------------------------------ op steps

    def record_op_step(
        self,
        *,
        run_id: str,
        job: str,
        step_key: str,
        op: str,
        status: str,
        attempts: int,
        started_at: datetime,
        finished_at: datetime,
        outputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
        path: str | None = None,
        attempt_errors: Sequence[str] = (),
        reused_from: str | None = None,
    ) -> int:
        """Record one op step. Returns the row id."""
        self._writable()
        if status not in OP_STEP_STATUSES:
            raise InternalError(f"invalid op step status {status!r}")
        row_id = self._new_id()
        row = {
            "id": row_id, "run_id": run_id, "job": job, "step_key": step_key, "op": op,
            "status": status, "attempts": attempts, "started_at": _ts(started_at),
            "finished_at": _ts(finished_at),
            "duration_s": max(0.0, (finished_at - started_at).total_seconds()),
            "outputs": _json(dict(outputs or {})), "metadata": _json(dict(metadata or {})),
            "error": error, "path": path, "attempt_errors": _json(list(attempt_errors)),
            "reused_from": reused_from,
        }  # fmt: skip
        with self._mutex:
            self._insert_unless("op_steps", row, ["id"])
        return row_id

    def run_op_steps(self, run_id: str) -> list[OpStepRecord]:
        """Every op step of one run, in recording order."""
        rows = self._select(
            "op_steps", list(OP_STEP_COLUMNS), self._eq("run_id", run_id), [("id", False)]
        )
        return [op_step_from_row(r) for r in rows]

    # ------------------------------------------------------------------ schedules and sensors

    def record_tick(
        self,
        name: str,
        tick_time: datetime,
        status: str,
        run_ids: Sequence[str] = (),
        skip_reason: str | None = None,
        error: str | None = None,
    ) -> int:
        """Record one schedule or sensor evaluation. Returns the row id."""
        self._writable()
        row_id = self._new_id()
        row = {
            "id": row_id,
            "name": name,
            "tick_time": _ts(tick_time),
            "status": status,
            "run_ids": _json(list(run_ids)),
            "skip_reason": skip_reason,
            "error": error,
            "recorded_at": _ts(utcnow()),
        }
        with self._mutex:
            self._insert_unless("ticks", row, ["id"])
        return row_id

    def ticks(self, name: str, limit: int = 50) -> list[TickRecord]:
        """Ticks of one schedule or sensor, newest first."""
        rows = self._select(
            "ticks", _TICK_COLUMNS, self._eq("name", name), [("tick_time", True), ("id", True)],
            limit,
        )  # fmt: skip
        return [
            TickRecord(
                id=int(r[0]),
                name=r[1],
                tick_time=_at(r[2]),
                status=r[3],
                run_ids=tuple(_loads(r[4])),
                skip_reason=r[5],
                error=r[6],
                recorded_at=_at(r[7]),
            )
            for r in rows
        ]

    def last_tick(self, name: str) -> TickRecord | None:
        """The newest tick of one schedule or sensor."""
        found = self.ticks(name, 1)
        return found[0] if found else None

    def get_cursor(self, sensor: str) -> str | None:
        """A sensor's cursor, None before its first ``set_cursor``."""
        rows = self._select("sensor_cursors", ["cursor"], self._eq("name", sensor))
        return rows[0][0] if rows else None

    def set_cursor(self, sensor: str, cursor: str | None) -> None:
        """Store a sensor's cursor (an UPDATE, then an INSERT when there was no row)."""
        self._writable()
        now = _ts(utcnow())
        row = {"name": sensor, "cursor": cursor, "updated_at": now}
        with self._mutex, self.adapter.transaction():
            self._update("sensor_cursors", {"cursor": cursor, "updated_at": now},
                         self._eq("name", sensor))  # fmt: skip
            self._insert_unless("sensor_cursors", row, ["name"])

    def run_key_used(self, name: str, run_key: str) -> bool:
        """Whether a schedule or sensor already ran this run key."""
        return self.run_for_key(name, run_key) is not None

    def run_for_key(self, name: str, run_key: str) -> str | None:
        """The run id that claimed a run key of a schedule or sensor, or None."""
        rows = self._select("run_keys", ["run_id"], self._where({"name": name, "run_key": run_key}))
        return str(rows[0][0]) if rows else None

    def record_run_key(self, name: str, run_key: str, run_id: str) -> bool:
        """Claim a run key: False if another run already has it (then nothing is written).

        Insert-if-absent, then read back who holds the key: re-sending the insert after a
        transient error still answers True for the run that claimed it.
        """
        self._writable()
        row = {"name": name, "run_key": run_key, "run_id": run_id, "at": _ts(utcnow())}
        with self._mutex:
            self._insert_unless("run_keys", row, ["name", "run_key"])
            return self.run_for_key(name, run_key) == run_id

    # ------------------------------------------------------------------ run lock

    def _locks_of(self, target: str) -> list[LockInfo]:
        rows = self._select(
            "run_locks", _LOCK_COLUMNS, self._eq("target", target),
            [("acquired_at", False), ("lock_id", False)],
        )  # fmt: skip
        return [lock_from_row(r) for r in rows]

    def acquire_lock(
        self,
        target: str,
        owner: LockOwner,
        *,
        stale_after: float = LOCK_STALE_AFTER_S,
        heartbeat_interval: float | None = LOCK_HEARTBEAT_S,
    ) -> RunLock:
        """Take the run lock of ``target`` or raise LockHeldError; use the result as a context.

        A stale lock (dead pid on this host, heartbeat older than ``stale_after`` seconds) is
        taken over and its holder's ``running`` runs on that target marked ``interrupted``.
        """
        self._writable()
        now = utcnow()
        info = LockInfo(
            target=target,
            lock_id=uuid.uuid4().hex,
            pid=owner.pid,
            host=owner.host,
            command=owner.command,
            run_id=owner.run_id,
            acquired_at=now,
            heartbeat_at=now,
        )
        row = {
            "target": target,
            "lock_id": info.lock_id,
            "pid": info.pid,
            "host": info.host,
            "command": info.command,
            "run_id": info.run_id,
            "acquired_at": _ts(now),
            "heartbeat_at": _ts(now),
        }
        with self._mutex:
            for attempt in range(_ACQUIRE_ATTEMPTS):
                self._take_over_stale(target, now, stale_after)
                with self.adapter.transaction():
                    # A write to the table first: on Snowflake it queues concurrent acquirers
                    # behind this transaction, so their NOT EXISTS sees this row once committed.
                    self._update("run_locks", {"target": target}, self._eq("target", target))
                    self._insert_unless("run_locks", row, ["target"])
                found = self._locks_of(target)
                if [lk.lock_id for lk in found] == [info.lock_id]:
                    self._interrupt_orphans(info, now)
                    lock = RunLock(self, info, heartbeat_interval=heartbeat_interval)
                    self._locks.append(lock)
                    return lock
                # Another acquirer's row is there too (no primary keys are enforced): whoever
                # sees a second row backs off, so at most one process owns the lock.
                mine = self._where({"target": target, "lock_id": info.lock_id})
                self._delete("run_locks", mine)
                others = [lk for lk in found if lk.lock_id != info.lock_id]
                if others and attempt == _ACQUIRE_ATTEMPTS - 1:
                    raise lock_held_error(others[0], how_to_clear=self._how_to_clear(target))
                time.sleep(random.uniform(0.05, 0.25))  # both backed off: try again
        raise InternalError(f"could not take the run lock of target {target!r}")

    def _take_over_stale(self, target: str, now: datetime, stale_after: float) -> None:
        """Raise for a live holder; delete a stale lock and interrupt its running runs."""
        for held in self._locks_of(target):
            why = lock_is_stale(held, now=now, stale_after=stale_after)
            if why is None:
                raise lock_held_error(held, how_to_clear=self._how_to_clear(target))
            log.warning(
                "taking over the run lock of target %r from `%s` (pid %d on %s): %s",
                target,
                held.command,
                held.pid,
                held.host,
                why,
            )
            interrupted = {"target": target, "status": "running", "pid": held.pid}
            with self.adapter.transaction():
                self._delete("run_locks", self._where({"target": target, "lock_id": held.lock_id}))
                self._update(
                    "runs",
                    {"status": "interrupted", "finished_at": _ts(now)},
                    self._where({**interrupted, "host": held.host}),
                )

    def _interrupt_orphans(self, lock: LockInfo, now: datetime) -> None:
        """Mark the target's orphaned ``running`` runs ``interrupted``, once the lock is ours.

        Only after the lock is known to be ours: before, a concurrent acquirer's new run could
        be taken for an orphan. Each UPDATE keeps ``status = 'running'`` in its condition, so a
        retried statement, or a run that finished meanwhile, is left as it is.
        """
        where = self._where({"target": lock.target, "status": "running"})
        running = [run_from_row(r) for r in self._select("runs", _RUN_COLUMNS, where)]
        for run in orphaned_runs(running, lock, now=now):
            log.info("run %s of target %r was interrupted", run.run_id, lock.target)
            self._update(
                "runs",
                {"status": "interrupted", "finished_at": _ts(now)},
                self._where({"run_id": run.run_id, "status": "running"}),
            )

    def _how_to_clear(self, target: str) -> str:
        statement = self._sql(
            exp.Delete(this=self._table("run_locks"), where=exp.Where(this=self._eq("target",
                                                                                  target)))
        )  # fmt: skip
        return f"remove the lock in the warehouse: {statement}"

    def heartbeat_lock(self, target: str, lock_id: str) -> bool:
        """Refresh a lock's heartbeat; False if it is no longer ours."""
        where = self._where({"target": target, "lock_id": lock_id})
        with self._mutex:
            self._update("run_locks", {"heartbeat_at": _ts(utcnow())}, where)
            return bool(self._select("run_locks", ["lock_id"], where))

    def release_lock(self, target: str, lock_id: str) -> None:
        """Drop a lock if it is still ours."""
        with self._mutex:
            self._locks = [lk for lk in self._locks if lk.info.lock_id != lock_id]
            if self._closed:
                return
            self._delete("run_locks", self._where({"target": target, "lock_id": lock_id}))

    def break_lock(self, target: str) -> LockInfo | None:
        """Remove a target's lock, whoever holds it; returns what it removed."""
        self._writable()
        with self._mutex:
            found = self._locks_of(target)
            self._delete("run_locks", self._eq("target", target))
        return found[0] if found else None

    # ------------------------------------------------------------------ source observations

    def record_observation(
        self,
        *,
        target: str,
        source: str,
        fingerprint: str,
        detail: Mapping[str, Any] | None = None,
        observed_at: datetime | None = None,
    ) -> ObservationRecord:
        """Store a source's observation; ``changed_at`` moves when the fingerprint differs."""
        self._writable()
        at = _ts(observed_at or utcnow())
        key = {"target": target, "source": source}
        with self._mutex, self.adapter.transaction():
            rows = self._select("source_observations", ["fingerprint", "changed_at"],
                                self._where(key))  # fmt: skip
            changed = rows[0][1] if rows and rows[0][0] == fingerprint else None
            if rows and rows[0][0] != fingerprint:
                changed = at
            row = {**key, "fingerprint": fingerprint, "detail": _json(dict(detail or {})),
                   "observed_at": at, "changed_at": changed}  # fmt: skip
            self._delete("source_observations", self._where(key))
            self._insert_unless("source_observations", row, ["target", "source"])
        return observation_from_row(tuple(row.values()))

    def latest_observations(self, *, target: str | None = None) -> dict[str, ObservationRecord]:
        """The latest observation of each declared source (by source name)."""
        where = self._eq("target", target) if target is not None else None
        rows = self._select("source_observations", _OBSERVATION_COLUMNS, where,
                            [("observed_at", False)])  # fmt: skip
        return {r[1]: observation_from_row(r) for r in rows}

    def lock_holder(self, target: str) -> LockInfo | None:
        """The current run lock of a target, stale or not, or None."""
        found = self._locks_of(target)
        return found[0] if found else None


__all__ = ["STATE_SCHEMA", "WarehouseStateStore", "open_state_store", "state_kind"]
