"""The SQLite store's source observations: per (target, source) the latest fingerprint."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orch.events import utcnow
from orch.state.records import ObservationRecord, _json, _ts, observation_from_row
from orch.state.sqlite.connection import SQLiteConnection


class SQLiteObservations(SQLiteConnection):
    """Source observations, and when each source last changed."""

    def record_observation(
        self,
        *,
        target: str,
        source: str,
        fingerprint: str,
        detail: Mapping[str, Any] | None = None,
        observed_at: datetime | None = None,
    ) -> ObservationRecord:
        """Store a source's observation; ``changed_at`` moves when the fingerprint differs."""
        at = _ts(observed_at or utcnow())
        with self._write() as conn:
            row = conn.execute(
                "SELECT fingerprint, changed_at FROM source_observations"
                " WHERE target = ? AND source = ?",
                (target, source),
            ).fetchone()
            changed = row[1] if row is not None and row[0] == fingerprint else None
            if row is not None and row[0] != fingerprint:
                changed = at
            conn.execute(
                "INSERT INTO source_observations (target, source, fingerprint, detail,"
                " observed_at, changed_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (target, source) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " detail = excluded.detail, observed_at = excluded.observed_at,"
                " changed_at = excluded.changed_at",
                (target, source, fingerprint, _json(dict(detail or {})), at, changed),
            )
        return observation_from_row(
            (target, source, fingerprint, _json(dict(detail or {})), at, changed)
        )

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
