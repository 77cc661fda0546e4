"""The warehouse store's source observations: per (target, source) the latest fingerprint."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orch.events import utcnow
from orch.state.records import ObservationRecord, _json, _ts, observation_from_row
from orch.state.warehouse.connection import WarehouseConnection
from orch.state.warehouse.schema import OBSERVATION_COLUMNS


class WarehouseObservations(WarehouseConnection):
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
        self._writable()
        at = _ts(observed_at or utcnow())
        key = {"target": target, "source": source}
        with self._mutex, self.adapter.transaction():
            rows = self._select("source_observations", ["fingerprint", "changed_at"],
                                self._where(key))  # fmt: skip
            changed = rows[0][1] if rows and rows[0][0] == fingerprint else None
            if rows and rows[0][0] != fingerprint:
                changed = at
            row = {**key, "fingerprint": fingerprint, "detail": _json(dict(detail or {})),
                   "observed_at": at, "changed_at": changed}  # fmt: skip
            self._delete("source_observations", self._where(key))
            self._insert_unless("source_observations", row, ["target", "source"])
        return observation_from_row(tuple(row.values()))

    def latest_observations(self, *, target: str | None = None) -> dict[str, ObservationRecord]:
        """The latest observation of each declared source (by source name)."""
        where = self._eq("target", target) if target is not None else None
        rows = self._select("source_observations", OBSERVATION_COLUMNS, where,
                            [("observed_at", False)])  # fmt: skip
        return {r[1]: observation_from_row(r) for r in rows}
