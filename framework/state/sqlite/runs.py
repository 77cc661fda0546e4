"""The SQLite store's runs and op steps."""

from __future__ import annotations

import sqlite3
from typing import Any

from orch.state.records import (
    OP_STEP_COLUMNS,
    OpStepRecord,
    RunRecord,
    op_step_from_row,
    run_from_row,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.schema import INSERT_OP_STEP, INSERT_RUN, RUN_COLUMNS


def target_of(conn: sqlite3.Connection, run_id: str) -> str:
    """The target a run was started on ('' for a run the store does not know)."""
    row = conn.execute("SELECT target FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return str(row[0]) if row else ""


class SQLiteRuns(SQLiteConnection):
    """Runs (started, finished, read back with orphans settled) and op steps."""

    def _insert_run(self, row: dict[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(INSERT_RUN, row)

    def _update_run(self, run_id: str, values: dict[str, Any]) -> None:
        sets = ", ".join(f"{c} = :{c}" for c in values)
        with self._write() as conn:
            conn.execute(
                f"UPDATE runs SET {sets} WHERE run_id = :run_id", {**values, "run_id": run_id}
            )

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

    def _insert_op_step(self, row: dict[str, Any]) -> int:
        with self._write() as conn:
            return int(conn.execute(INSERT_OP_STEP, row).lastrowid or 0)

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
