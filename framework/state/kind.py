"""Which state store a target uses, and opening it: SQLite under ``.orch/`` or the warehouse."""

from __future__ import annotations

from pathlib import Path

from orch.config import TargetConfig
from orch.state.base import StateStore
from orch.state.sqlite import SQLiteStateStore


def state_kind(target: TargetConfig) -> str:
    """Where a target keeps its state: its ``state`` setting, else warehouse for Snowflake."""
    if target.state is not None:
        return target.state
    return "warehouse" if target.type == "snowflake" else "sqlite"


def open_state_store(
    project_root: Path, target: TargetConfig, *, readonly: bool = False
) -> StateStore:
    """The state store a target uses: SQLite under ``.orch/`` or the warehouse's ``_orch``."""
    if state_kind(target) == "warehouse":
        # imported here: a DuckDB project (every inner-loop command) never loads the warehouse
        # store's modules (nor sqlglot, which it writes its SQL with)
        from orch.state.warehouse import WarehouseStateStore

        return WarehouseStateStore.for_target(target, project_root, readonly=readonly)
    return SQLiteStateStore.for_project(project_root, readonly=readonly)
