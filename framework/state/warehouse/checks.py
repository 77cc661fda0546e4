"""The warehouse store's check results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orch.state.records import CheckResultRecord, check_from_row
from orch.state.warehouse.runs import WarehouseRuns
from orch.state.warehouse.schema import CHECK_COLUMNS


class WarehouseChecks(WarehouseRuns):
    """Check results, and the latest per check."""

    def _insert_checks(self, rows: list[dict[str, Any]]) -> int:
        self._writable()
        row_id = 0
        for row in rows:
            row_id = self._new_id()
            target = self._target_of(row["run_id"]) if row["target"] is None else row["target"]
            with self._mutex:
                self._insert_unless(
                    "check_results", {"id": row_id, **row, "target": target}, ["id"]
                )
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
            "check_results", CHECK_COLUMNS, filters, ["check_name", "target", "partition_key"]
        )
        return {(r[3], r[5]): check_from_row(r) for r in rows}

    def check_history(
        self, check: str, limit: int = 50, *, target: str | None = None
    ) -> list[CheckResultRecord]:
        """Results of one check, newest first."""
        where = self._where({"check_name": check, **({"target": target} if target else {})})
        rows = self._select("check_results", CHECK_COLUMNS, where, [("id", True)], limit)
        return [check_from_row(r) for r in rows]

    def run_check_results(self, run_id: str) -> list[CheckResultRecord]:
        """Every check result of one run, in recording order, in one query."""
        rows = self._select(
            "check_results", CHECK_COLUMNS, self._eq("run_id", run_id), [("id", False)]
        )
        return [check_from_row(r) for r in rows]
