"""The SQLite store's source observations: per (target, source) the latest fingerprint."""

from __future__ import annotations

from typing import Any

from orch.state.records import ObservationRecord, changed_at, observation_from_row
from orch.state.sqlite.connection import SQLiteConnection


class SQLiteObservations(SQLiteConnection):
    """Source observations, and when each source last changed."""

    def _save_observation(self, row: dict[str, Any]) -> str | None:
        with self._write() as conn:
            stored = conn.execute(
                "SELECT fingerprint, changed_at FROM source_observations"
                " WHERE target = ? AND source = ?",
                (row["target"], row["source"]),
            ).fetchone()
            changed = changed_at(stored, row["fingerprint"], row["observed_at"])
            conn.execute(
                "INSERT INTO source_observations (target, source, fingerprint, detail,"
                " observed_at, changed_at) VALUES (:target, :source, :fingerprint, :detail,"
                " :observed_at, :changed_at)"
                " ON CONFLICT (target, source) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " detail = excluded.detail, observed_at = excluded.observed_at,"
                " changed_at = excluded.changed_at",
                {**row, "changed_at": changed},
            )
        return changed

    def latest_observations(self, *, target: str | None = None) -> dict[str, ObservationRecord]:
        """The latest observation of each declared source (by source name)."""
        sql = (
            "SELECT target, source, fingerprint, detail, observed_at, changed_at"
            " FROM source_observations"
        )
        params: tuple[Any, ...] = ()
        if target is not None:
            sql += " WHERE target = ?"
            params = (target,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY observed_at", params).fetchall()
        return {r[1]: observation_from_row(r) for r in rows}
