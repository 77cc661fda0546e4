"""The warehouse store's schedule and sensor ticks, sensor cursors and run keys."""

from __future__ import annotations

from typing import Any

from orch.events import utcnow
from orch.state.records import TickRecord, _ts, tick_from_row
from orch.state.warehouse.connection import WarehouseConnection
from orch.state.warehouse.schema import TICK_COLUMNS


class WarehouseAutomation(WarehouseConnection):
    """What schedules and sensors record: ticks, cursors, claimed run keys."""

    def _insert_tick(self, row: dict[str, Any]) -> int:
        self._writable()
        row_id = self._new_id()
        with self._mutex:
            self._insert_unless("ticks", {"id": row_id, **row}, ["id"])
        return row_id

    def ticks(self, name: str, limit: int = 50) -> list[TickRecord]:
        """Ticks of one schedule or sensor, newest first."""
        rows = self._select(
            "ticks", TICK_COLUMNS, self._eq("name", name), [("tick_time", True), ("id", True)],
            limit,
        )  # fmt: skip
        return [tick_from_row(r) for r in rows]

    def get_cursor(self, sensor: str) -> str | None:
        """A sensor's cursor, None before its first ``set_cursor``."""
        rows = self._select("sensor_cursors", ["cursor"], self._eq("name", sensor))
        return rows[0][0] if rows else None

    def set_cursor(self, sensor: str, cursor: str | None) -> None:
        """Store a sensor's cursor (an UPDATE, then an INSERT when there was no row)."""
        self._writable()
        now = _ts(utcnow())
        row = {"name": sensor, "cursor": cursor, "updated_at": now}
        with self._mutex, self.adapter.transaction():
            self._update("sensor_cursors", {"cursor": cursor, "updated_at": now},
                         self._eq("name", sensor))  # fmt: skip
            self._insert_unless("sensor_cursors", row, ["name"])

    def run_for_key(self, name: str, run_key: str) -> str | None:
        """The run id that claimed a run key of a schedule or sensor, or None."""
        rows = self._select("run_keys", ["run_id"], self._where({"name": name, "run_key": run_key}))
        return str(rows[0][0]) if rows else None

    def record_run_key(self, name: str, run_key: str, run_id: str) -> bool:
        """Claim a run key: False if another run already has it (then nothing is written).

        Insert-if-absent, then read back who holds the key: re-sending the insert after a
        transient error still answers True for the run that claimed it.
        """
        self._writable()
        row = {"name": name, "run_key": run_key, "run_id": run_id, "at": _ts(utcnow())}
        with self._mutex:
            self._insert_unless("run_keys", row, ["name", "run_key"])
            return self.run_for_key(name, run_key) == run_id
