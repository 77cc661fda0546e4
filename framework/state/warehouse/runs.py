"""The warehouse store's runs and op steps."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from orch.errors import InternalError
from orch.events import utcnow
from orch.state.records import (
    OP_STEP_COLUMNS,
    OP_STEP_STATUSES,
    RUN_STATUSES,
    OpStepRecord,
    RunRecord,
    _json,
    _ts,
    op_step_from_row,
    run_from_row,
)
from orch.state.warehouse.connection import WarehouseConnection
from orch.state.warehouse.schema import RUN_COLUMNS


class WarehouseRuns(WarehouseConnection):
    """Runs (started, finished, read back with orphans settled) and op steps."""

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
