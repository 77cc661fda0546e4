"""The warehouse store's source observations: per (target, source) the latest fingerprint."""

from __future__ import annotations

from typing import Any

from orch.state.records import ObservationRecord, changed_at, observation_from_row
from orch.state.warehouse.connection import WarehouseConnection
from orch.state.warehouse.schema import OBSERVATION_COLUMNS


class WarehouseObservations(WarehouseConnection):
    """Source observations, and when each source last changed."""

    def _save_observation(self, row: dict[str, Any]) -> str | None:
        self._writable()
        key = {"target": row["target"], "source": row["source"]}
        with self._mutex, self.adapter.transaction():
            rows = self._select("source_observations", ["fingerprint", "changed_at"],
                                self._where(key))  # fmt: skip
            changed = changed_at(rows[0] if rows else None, row["fingerprint"], row["observed_at"])
            self._delete("source_observations", self._where(key))
            self._insert_unless(
                "source_observations", {**row, "changed_at": changed}, ["target", "source"]
            )
        return changed

    def latest_observations(self, *, target: str | None = None) -> dict[str, ObservationRecord]:
        """The latest observation of each declared source (by source name)."""
        where = self._eq("target", target) if target is not None else None
        rows = self._select("source_observations", OBSERVATION_COLUMNS, where,
                            [("observed_at", False)])  # fmt: skip
        return {r[1]: observation_from_row(r) for r in rows}
