"""The warehouse store's materializations: the history, and the "latest" queries over it
(``ROW_NUMBER()`` per (target, asset, partition key) instead of SQLite's pointer table)."""

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
    materialization_from_row,
    upstream_dict,
)
from orch.state.warehouse.runs import WarehouseRuns
from orch.state.warehouse.schema import MAT_COLUMNS


class WarehouseMaterializations(WarehouseRuns):
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
            "materializations", MAT_COLUMNS, filters, ["target", "asset", "partition_key"], keep
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
        rows = self._select("materializations", MAT_COLUMNS, where, [("id", True)], limit)
        return [materialization_from_row(r) for r in rows]

    def run_materializations(self, run_id: str) -> list[MaterializationRecord]:
        """Every materialization attempt of one run, in recording order, in one query."""
        rows = self._select(
            "materializations", MAT_COLUMNS, self._eq("run_id", run_id), [("id", False)]
        )
        return [materialization_from_row(r) for r in rows]
