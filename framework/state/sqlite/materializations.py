"""The SQLite store's materializations: the history, and per (target, asset, partition key) the
latest success and attempt in ``materialization_latest`` (written in the same transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from orch.errors import InternalError
from orch.events import utcnow
from orch.state.records import (
    MATERIALIZATION_STATUSES,
    MaterializationRecord,
    UpstreamRef,
    _json,
    _ts,
    check_status,
    materialization_from_row,
    upstream_dict,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.runs import target_of
from orch.state.sqlite.schema import MAT_COLUMNS


class SQLiteMaterializations(SQLiteConnection):
    """Materialization attempts and the "latest" queries on them."""

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
        check_status(status, MATERIALIZATION_STATUSES, "materialization")
        if partition_key == "":
            raise InternalError(f"empty partition key for {asset!r}; use None when unpartitioned")
        finished_at = finished_at or utcnow()
        duration = max((finished_at - started_at).total_seconds(), 0.0)
        refs = [upstream_dict(u) for u in upstream]
        with self._write() as conn:
            target = target_of(conn, run_id) if target is None else target
            cur = conn.execute(
                "INSERT INTO materializations (run_id, target, asset, partition_key, status,"
                " fingerprint, materialized, started_at, finished_at, duration_s, rows, metadata,"
                " upstream, error, data_version, versions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    target,
                    asset,
                    partition_key,
                    status,
                    fingerprint,
                    materialized,
                    _ts(started_at),
                    _ts(finished_at),
                    duration,
                    rows,
                    _json(dict(metadata or {})),
                    _json(refs),
                    error,
                    data_version,
                    _json({k: dict(v) for k, v in versions.items()}) if versions else None,
                ),
            )
            row_id = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO materialization_latest (target, asset, pkey, success_id, attempt_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target, asset, pkey) DO UPDATE SET"
                " attempt_id = excluded.attempt_id,"
                " success_id = coalesce(excluded.success_id, materialization_latest.success_id)",
                (
                    target,
                    asset,
                    partition_key or "",
                    row_id if status == "success" else None,
                    row_id,
                ),
            )
        return row_id

    def _latest(
        self,
        pointer: str,
        assets: Sequence[str] | None,
        target: str | None,
        *,
        failed_only: bool = False,
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        clauses, params = ["m.status = 'failed'"] if failed_only else [], []
        if assets is not None:
            clauses.append("l.asset IN (SELECT value FROM json_each(?))")
            params.append(_json(list(assets)))
        if target is not None:
            clauses.append("l.target = ?")
            params.append(target)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ORDER BY m.id" if target is None else ""  # only several targets need ordering
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {MAT_COLUMNS} FROM materialization_latest l"
                f" JOIN materializations m ON m.id = l.{pointer} {where} {order}",
                params,
            ).fetchall()
        return {
            (r[3], r[4]): materialization_from_row(r) for r in rows
        }  # newest wins across targets

    def latest_materializations(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last successful materialization per (asset, partition_key), in one query."""
        return self._latest("success_id", assets, target)

    def latest_attempts(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt, failed or not, per (asset, partition_key), in one query."""
        return self._latest("attempt_id", assets, target)

    def latest_failures(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt per (asset, partition_key) where it failed, in one query."""
        return self._latest("attempt_id", assets, target, failed_only=True)

    def partitions_of(
        self, asset: str, *, target: str | None = None
    ) -> dict[str, MaterializationRecord]:
        """The last successful materialization per partition key of one asset."""
        latest = self._latest("success_id", [asset], target)
        return {pk: rec for (_, pk), rec in latest.items() if pk is not None}

    def materialization_history(
        self, asset: str, limit: int = 50, *, target: str | None = None
    ) -> list[MaterializationRecord]:
        """Every attempt on one asset (all partitions), newest first."""
        where, params = "WHERE m.asset = ?", [asset]
        if target is not None:
            where, params = where + " AND m.target = ?", [asset, target]
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {MAT_COLUMNS} FROM materializations m {where} ORDER BY m.id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [materialization_from_row(r) for r in rows]

    def run_materializations(self, run_id: str) -> list[MaterializationRecord]:
        """Every materialization attempt of one run, in recording order, in one query."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {MAT_COLUMNS} FROM materializations m WHERE m.run_id = ? ORDER BY m.id",
                (run_id,),
            ).fetchall()
        return [materialization_from_row(r) for r in rows]
