"""The state store: runs, materializations, check results, schedule ticks, and the run lock.

:class:`StateReader` is what the planner, ``orch status`` and the docs site read;
:class:`StateStore` adds the writes and the run lock per target. :class:`SQLiteStateStore`
(``state/sqlite/``) is the embedded default (``<project>/.orch/state.db``);
:class:`~orch.state.warehouse.WarehouseStateStore` keeps the same tables in the warehouse (schema
``_orch``). The executor never calls a store directly: it emits events and :class:`StateRecorder`
writes them.

Ordering contract: a ``success`` materialization is recorded only after the warehouse committed
its data (the executor emits ``StepMaterialized`` after the commit), so the state never claims
data that is not there; a crash between the two at worst re-runs the step.

A run whose process died cannot record its end: readers (``get_run``, ``recent_runs``) show a
``running`` run as ``interrupted`` when :func:`orphaned_because` says it is over (its pid is dead
on this host, or a run of a locking command no longer holds its target's live lock), and the
next run that takes the target's lock writes ``interrupted`` into the store, once.

Modules: ``records`` (records, constants, shared helpers), ``base`` (interfaces and the run lock),
the packages ``sqlite`` and ``warehouse`` (one module per concern of each store: schema,
connection, runs, materializations, checks, observations, automation, lock, provenance),
``kind`` (which store a target uses: :func:`~orch.state.kind.open_state_store`), ``recorder``
(the event sink), ``snapshot``.
"""

from __future__ import annotations

from orch.state.base import RunLock, StateReader, StateStore
from orch.state.recorder import StateRecorder
from orch.state.records import (
    BUSY_TIMEOUT_MS,
    CHECK_STATUSES,
    LOCK_HEARTBEAT_S,
    LOCK_STALE_AFTER_S,
    LOCKED_COMMANDS,
    MATERIALIZATION_STATUSES,
    OP_STEP_STATUSES,
    RUN_STATUSES,
    SAMPLE_ROWS,
    SCHEMA_VERSION,
    STATE_DIR,
    STATE_FILE,
    CheckResultRecord,
    LockInfo,
    LockOwner,
    MaterializationRecord,
    ObservationRecord,
    OpStepRecord,
    RunRecord,
    TickRecord,
    UpstreamRef,
    lock_held_error,
    lock_is_stale,
    orphaned_because,
    pid_alive,
    state_path,
)
from orch.state.sqlite import SQLiteStateStore

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHECK_STATUSES",
    "LOCK_HEARTBEAT_S",
    "LOCK_STALE_AFTER_S",
    "LOCKED_COMMANDS",
    "MATERIALIZATION_STATUSES",
    "RUN_STATUSES",
    "SAMPLE_ROWS",
    "SCHEMA_VERSION",
    "STATE_DIR",
    "STATE_FILE",
    "CheckResultRecord",
    "LockInfo",
    "LockOwner",
    "MaterializationRecord",
    "ObservationRecord",
    "OpStepRecord",
    "OP_STEP_STATUSES",
    "RunLock",
    "RunRecord",
    "SQLiteStateStore",
    "StateReader",
    "StateRecorder",
    "StateStore",
    "TickRecord",
    "UpstreamRef",
    "lock_held_error",
    "lock_is_stale",
    "orphaned_because",
    "pid_alive",
    "state_path",
]
