"""The embedded default store: SQLite under ``<project>/.orch/state.db``.

Timestamps are stored as fixed-width ISO 8601 UTC text (sortable) and returned timezone-aware.
Materializations and check results carry the run's target, because dev and prod builds of one
project share this file: every "latest" query takes ``target`` (None: across targets, newest wins).

Ordering contract: a ``success`` materialization is recorded only after the warehouse committed
its data (the executor emits ``StepMaterialized`` after the commit), so the state never claims data
that is not there; a crash between the two at worst re-runs the step.

Modules: ``schema`` (the tables, their columns and migrations), ``connection`` (the file, its
connection and transactions, storage errors), ``runs`` (runs and op steps),
``materializations``, ``checks``, ``observations`` (source observations), ``automation``
(schedule and sensor ticks, cursors, run keys), ``lock`` (the run lock) and ``provenance``
(code versions, git states, hook runs): one mixin each, combined in :class:`SQLiteStateStore`.
"""

from __future__ import annotations

import os

from orch.state.records import state_path
from orch.state.sqlite.automation import SQLiteAutomation
from orch.state.sqlite.checks import SQLiteChecks
from orch.state.sqlite.lock import SQLiteLock
from orch.state.sqlite.materializations import SQLiteMaterializations
from orch.state.sqlite.observations import SQLiteObservations
from orch.state.sqlite.provenance import SQLiteProvenance
from orch.state.sqlite.runs import SQLiteRuns


class SQLiteStateStore(
    SQLiteRuns,
    SQLiteMaterializations,
    SQLiteChecks,
    SQLiteObservations,
    SQLiteAutomation,
    SQLiteLock,
    SQLiteProvenance,
):
    """The embedded state store: one SQLite file in WAL mode, one connection guarded by a lock."""

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> SQLiteStateStore:
        """Open (creating unless ``readonly``) the store at ``path``."""
        return cls(path, readonly=readonly)

    @classmethod
    def for_project(
        cls, project_dir: str | os.PathLike[str], *, readonly: bool = False
    ) -> SQLiteStateStore:
        """Open ``<project>/.orch/state.db``."""
        return cls(state_path(project_dir), readonly=readonly)

    def __enter__(self) -> SQLiteStateStore:
        return self


__all__ = ["SQLiteStateStore"]
