"""The state store in the warehouse: the tables of :mod:`orch.state`, in a ``_orch`` schema.

:class:`WarehouseStateStore` implements :class:`~orch.state.StateStore` on top of the
:class:`~orch.adapters.base.Adapter` interface only, so it works on every warehouse orch has an
adapter for. It is the default for Snowflake targets (a team shares one state), and selectable on
any target with ``state: warehouse`` in its profile (``state: sqlite`` keeps the embedded file).

Tables live in the schema ``_orch`` of the target's database, named as the warehouse stores
unquoted names (:func:`orch.names.normalize_identifier`, like every column and alias here:
``"_ORCH"."RUNS"."RUN_ID"`` on Snowflake), with the columns of the SQLite schema; timestamps
are fixed-width ISO 8601 UTC text and JSON is text, as there, so the two stores answer
identically. They are created on first write; a read-only store on a warehouse
without them answers empty and creates nothing.

Modules: ``schema`` (the tables and their columns), ``connection`` (the statements, through the
adapter, and the schema's creation), ``runs`` (runs and op steps), ``materializations``,
``checks``, ``observations`` (source observations), ``automation`` (schedule and sensor ticks,
cursors, run keys), ``lock`` (the run lock) and ``provenance`` (code versions, git states, hook
runs): one mixin each, combined in :class:`WarehouseStateStore`.
"""

from __future__ import annotations

from pathlib import Path

from orch.adapters import get_adapter
from orch.config import TargetConfig
from orch.state.warehouse.automation import WarehouseAutomation
from orch.state.warehouse.checks import WarehouseChecks
from orch.state.warehouse.lock import WarehouseLock
from orch.state.warehouse.materializations import WarehouseMaterializations
from orch.state.warehouse.observations import WarehouseObservations
from orch.state.warehouse.provenance import WarehouseProvenance
from orch.state.warehouse.schema import STATE_SCHEMA


class WarehouseStateStore(
    WarehouseMaterializations,
    WarehouseChecks,
    WarehouseObservations,
    WarehouseAutomation,
    WarehouseLock,
    WarehouseProvenance,
):
    """A :class:`StateStore` in the ``_orch`` schema of a warehouse, through an Adapter."""

    @classmethod
    def for_target(
        cls, target: TargetConfig, project_root: Path, *, readonly: bool = False
    ) -> WarehouseStateStore:
        """Open an adapter of its own for ``target`` and the store on it (closed with it)."""
        adapter = get_adapter(target, project_root)
        adapter.open()
        try:
            return cls(adapter, database=target.database, readonly=readonly, owns_adapter=True)
        except BaseException:
            adapter.close()
            raise

    def __enter__(self) -> WarehouseStateStore:
        return self


__all__ = ["STATE_SCHEMA", "WarehouseStateStore"]
