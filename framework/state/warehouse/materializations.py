"""The warehouse store's materializations: the history, and the "latest" queries over it
(``ROW_NUMBER()`` per (target, asset, partition key) instead of SQLite's pointer table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orch.state.base import LatestKind
from orch.state.records import (
    MaterializationRecord,
    materialization_from_row,
)
from orch.state.warehouse.runs import WarehouseRuns
from orch.state.warehouse.schema import MAT_COLUMNS


class WarehouseMaterializations(WarehouseRuns):
    """Materialization attempts and the "latest" queries on them."""

    def _insert_materialization(self, row: dict[str, Any]) -> int:
        self._writable()
        row_id = self._new_id()
        target = self._target_of(row["run_id"]) if row["target"] is None else row["target"]
        with self._mutex:
            self._insert_unless("materializations", {"id": row_id, **row, "target": target}, ["id"])
        return row_id

    def _latest(
        self, kind: LatestKind, assets: Sequence[str] | None, target: str | None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        if assets is not None and not assets:
            return {}
        filters = []
        if kind == "success":
            filters.append(self._eq("status", "success"))
        if assets is not None:
            filters.append(self._in("asset", assets))
        if target is not None:
            filters.append(self._eq("target", target))
        keep = self._eq("status", "failed") if kind == "failure" else None
        rows = self._latest_rows(
            "materializations", MAT_COLUMNS, filters, ["target", "asset", "partition_key"], keep
        )
        return {
            (r[3], r[4]): materialization_from_row(r) for r in rows
        }  # newest wins across targets

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
