"""The SQLite store's schedule and sensor ticks, sensor cursors and run keys."""

from __future__ import annotations

from typing import Any

from orch.events import utcnow
from orch.state.records import TickRecord, _ts, tick_from_row
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.schema import INSERT_TICK


class SQLiteAutomation(SQLiteConnection):
    """What schedules and sensors record: ticks, cursors, claimed run keys."""

    def _insert_tick(self, row: dict[str, Any]) -> int:
        with self._write() as conn:
            return int(conn.execute(INSERT_TICK, row).lastrowid or 0)

    def ticks(self, name: str, limit: int = 50) -> list[TickRecord]:
        """Ticks of one schedule or sensor, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, name, tick_time, status, run_ids, skip_reason, error, recorded_at"
                " FROM ticks WHERE name = ? ORDER BY tick_time DESC, id DESC LIMIT ?",
                (name, limit),
            ).fetchall()
        return [tick_from_row(r) for r in rows]

    def get_cursor(self, sensor: str) -> str | None:
        """A sensor's cursor, None before its first ``set_cursor``."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT cursor FROM sensor_cursors WHERE name = ?", (sensor,)
            ).fetchone()
        return row[0] if row else None

    def set_cursor(self, sensor: str, cursor: str | None) -> None:
        """Store a sensor's cursor."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sensor_cursors (name, cursor, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,"
                " updated_at = excluded.updated_at",
                (sensor, cursor, _ts(utcnow())),
            )

    def run_for_key(self, name: str, run_key: str) -> str | None:
        """The run id that claimed a run key of a schedule or sensor, or None."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT run_id FROM run_keys WHERE name = ? AND run_key = ?", (name, run_key)
            ).fetchone()
        return row[0] if row else None

    def record_run_key(self, name: str, run_key: str, run_id: str) -> bool:
        """Claim a run key atomically: False if it was already used (then nothing is written)."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO run_keys (name, run_key, run_id, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name, run_key) DO NOTHING",
                (name, run_key, run_id, _ts(utcnow())),
            )
            return cur.rowcount == 1
