"""The warehouse store's runs and op steps."""

from __future__ import annotations

from typing import Any

from orch.state.records import (
    OP_STEP_COLUMNS,
    OpStepRecord,
    RunRecord,
    op_step_from_row,
    run_from_row,
)
from orch.state.warehouse.connection import WarehouseConnection
from orch.state.warehouse.schema import RUN_COLUMNS


class WarehouseRuns(WarehouseConnection):
    """Runs (started, finished, read back with orphans settled) and op steps."""

    def _insert_run(self, row: dict[str, Any]) -> None:
        self._writable()
        with self._mutex:
            self._insert_unless("runs", row, ["run_id"])
            self._run_targets[row["run_id"]] = row["target"]

    def _update_run(self, run_id: str, values: dict[str, Any]) -> None:
        self._writable()
        with self._mutex:
            self._update("runs", values, self._eq("run_id", run_id))

    def _stored_run(self, run_id: str) -> RunRecord | None:
        rows = self._select("runs", RUN_COLUMNS, self._eq("run_id", run_id))
        return run_from_row(rows[0]) if rows else None

    def recent_runs(self, limit: int = 20, *, target: str | None = None) -> list[RunRecord]:
        """The newest runs first; a ``running`` run whose process died is ``interrupted``."""
        where = self._eq("target", target) if target is not None else None
        rows = self._select(
            "runs", RUN_COLUMNS, where, [("started_at", True), ("run_id", True)], limit
        )
        return self._settle_orphans([run_from_row(r) for r in rows], self._stored_run)

    def _target_of(self, run_id: str) -> str:
        if run_id in self._run_targets:  # saves a query per recorded step
            return self._run_targets[run_id]
        rows = self._select("runs", ["target"], self._eq("run_id", run_id))
        return str(rows[0][0]) if rows else ""

    # ------------------------------------------------------------------ op steps

    def _insert_op_step(self, row: dict[str, Any]) -> int:
        self._writable()
        row_id = self._new_id()
        with self._mutex:
            self._insert_unless("op_steps", {"id": row_id, **row}, ["id"])
        return row_id

    def run_op_steps(self, run_id: str) -> list[OpStepRecord]:
        """Every op step of one run, in recording order."""
        rows = self._select(
            "op_steps", list(OP_STEP_COLUMNS), self._eq("run_id", run_id), [("id", False)]
        )
        return [op_step_from_row(r) for r in rows]
