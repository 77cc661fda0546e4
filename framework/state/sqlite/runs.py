"""The SQLite store's runs and op steps."""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from orch.events import utcnow
from orch.state.records import (
    OP_STEP_COLUMNS,
    OP_STEP_STATUSES,
    RUN_STATUSES,
    OpStepRecord,
    RunRecord,
    _json,
    _ts,
    check_status,
    op_step_from_row,
    run_from_row,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.schema import RUN_COLUMNS


def target_of(conn: sqlite3.Connection, run_id: str) -> str:
    """The target a run was started on ('' for a run the store does not know)."""
    row = conn.execute("SELECT target FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return str(row[0]) if row else ""


class SQLiteRuns(SQLiteConnection):
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
        run_id = run_id or uuid.uuid4().hex
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, 'running', ?, ?,"
                " ?, '{}') ON CONFLICT (run_id) DO NOTHING",
                (
                    run_id,
                    command,
                    selection,
                    target,
                    _ts(started_at or utcnow()),
                    pid if pid is not None else os.getpid(),
                    host or socket.gethostname(),
                    _json(dict(args or {})),
                ),
            )
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
        check_status(status, RUN_STATUSES[1:], "run")
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, counts = ? WHERE run_id = ?",
                (status, _ts(finished_at or utcnow()), _json(dict(counts or {})), run_id),
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or None; a ``running`` run whose process died is ``interrupted``."""
        run = self._stored_run(run_id)
        return None if run is None else self._settle_orphans([run], self._stored_run)[0]

    def _stored_run(self, run_id: str) -> RunRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return run_from_row(row) if row else None

    def recent_runs(self, limit: int = 20, *, target: str | None = None) -> list[RunRecord]:
        """The newest runs first; a ``running`` run whose process died is ``interrupted``."""
        where, params = ("WHERE target = ?", [target]) if target is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, rowid DESC"
                " LIMIT ?",
                (*params, limit),
            ).fetchall()
        return self._settle_orphans([run_from_row(r) for r in rows], self._stored_run)

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
        check_status(status, OP_STEP_STATUSES, "op step")
        duration = max(0.0, (finished_at - started_at).total_seconds())
        with self._write() as conn:
            cur = conn.execute(
                f"INSERT INTO op_steps ({', '.join(OP_STEP_COLUMNS[1:])})"
                f" VALUES ({', '.join('?' * (len(OP_STEP_COLUMNS) - 1))})",
                (
                    run_id, job, step_key, op, status, attempts, _ts(started_at),
                    _ts(finished_at), duration, _json(dict(outputs or {})),
                    _json(dict(metadata or {})), error, path, _json(list(attempt_errors)),
                    reused_from,
                ),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def run_op_steps(self, run_id: str) -> list[OpStepRecord]:
        """Every op step of one run, in recording order."""
        with self._read() as conn:
            try:
                rows = conn.execute(
                    f"SELECT {', '.join(OP_STEP_COLUMNS)} FROM op_steps WHERE run_id = ?"
                    " ORDER BY id",
                    (run_id,),
                ).fetchall()
            except sqlite3.OperationalError:  # a read-only file from before op jobs existed
                return []
        return [op_step_from_row(r) for r in rows]
