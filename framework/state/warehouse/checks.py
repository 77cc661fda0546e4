"""The warehouse store's check results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from orch.errors import InternalError
from orch.events import utcnow
from orch.state.records import CHECK_STATUSES, CheckResultRecord, _ts, check_from_row, sample_json
from orch.state.warehouse.runs import WarehouseRuns
from orch.state.warehouse.schema import CHECK_COLUMNS


class WarehouseChecks(WarehouseRuns):
    """Check results, and the latest per check."""

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
