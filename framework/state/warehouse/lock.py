"""The warehouse store's run lock.

Run lock: one row per target in ``run_locks``. Acquisition reads the row; a live holder raises
:func:`~orch.state.lock_held_error`; a stale one (:func:`~orch.state.lock_is_stale`: dead pid on
this host, or heartbeat older than ``stale_after``) is deleted by its ``lock_id`` and its running
runs marked ``interrupted``. Then, in one transaction, a no-op ``UPDATE`` of the target's row
(which makes concurrent acquirers queue on Snowflake's table lock) and
``INSERT ... WHERE NOT EXISTS``. After the commit the target's rows are read again: the lock is
ours only if our row is the only one. Warehouses do not enforce primary keys, so two acquirers
may both insert; each then sees the other's row, removes its own and retries after a random pause
(up to three times) or raises. Whoever re-reads first after committing cannot miss an earlier
committed row, so at most one process ever owns the lock.

Once the lock is ours, the target's other orphaned running runs
(:func:`~orch.state.records.orphaned_runs`: a dead pid on this host, or a locking command's run
that no longer holds the lock, whichever machine ran it) are marked ``interrupted``. A pid is
compared only with runs recorded on this host (``runs.host``); across machines the lock and its
heartbeat tell.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime

from orch.errors import InternalError
from orch.events import utcnow
from orch.state.base import RunLock
from orch.state.records import (
    LOCK_HEARTBEAT_S,
    LOCK_STALE_AFTER_S,
    LockInfo,
    LockOwner,
    _ts,
    lock_from_row,
    lock_held_error,
    orphaned_runs,
    refuse_live_lock,
    run_from_row,
)
from orch.state.warehouse.connection import WarehouseConnection
from orch.state.warehouse.schema import LOCK_COLUMNS, RUN_COLUMNS

log = logging.getLogger(__name__)

_ACQUIRE_ATTEMPTS = 3


class WarehouseLock(WarehouseConnection):
    """The run lock: one row per target in ``run_locks``, checked again after each insert."""

    def _locks_of(self, target: str) -> list[LockInfo]:
        rows = self._select(
            "run_locks", LOCK_COLUMNS, self._eq("target", target),
            [("acquired_at", False), ("lock_id", False)],
        )  # fmt: skip
        return [lock_from_row(r) for r in rows]

    def acquire_lock(
        self,
        target: str,
        owner: LockOwner,
        *,
        stale_after: float = LOCK_STALE_AFTER_S,
        heartbeat_interval: float | None = LOCK_HEARTBEAT_S,
    ) -> RunLock:
        """Take the run lock of ``target`` or raise LockHeldError; use the result as a context.

        A stale lock (dead pid on this host, heartbeat older than ``stale_after`` seconds) is
        taken over and its holder's ``running`` runs on that target marked ``interrupted``.
        """
        self._writable()
        now = utcnow()
        info = LockInfo.from_owner(target, owner, now=now)
        row = {
            "target": target,
            "lock_id": info.lock_id,
            "pid": info.pid,
            "host": info.host,
            "command": info.command,
            "run_id": info.run_id,
            "acquired_at": _ts(now),
            "heartbeat_at": _ts(now),
        }
        with self._mutex:
            for attempt in range(_ACQUIRE_ATTEMPTS):
                self._take_over_stale(target, now, stale_after)
                with self.adapter.transaction():
                    # A write to the table first: on Snowflake it queues concurrent acquirers
                    # behind this transaction, so their NOT EXISTS sees this row once committed.
                    self._update("run_locks", {"target": target}, self._eq("target", target))
                    self._insert_unless("run_locks", row, ["target"])
                found = self._locks_of(target)
                if [lk.lock_id for lk in found] == [info.lock_id]:
                    self._interrupt_orphans(info, now)
                    lock = RunLock(self, info, heartbeat_interval=heartbeat_interval)
                    self._locks.append(lock)
                    return lock
                # Another acquirer's row is there too (no primary keys are enforced): whoever
                # sees a second row backs off, so at most one process owns the lock.
                mine = self._where({"target": target, "lock_id": info.lock_id})
                self._delete("run_locks", mine)
                others = [lk for lk in found if lk.lock_id != info.lock_id]
                if others and attempt == _ACQUIRE_ATTEMPTS - 1:
                    raise lock_held_error(others[0], how_to_clear=self._how_to_clear(target))
                time.sleep(random.uniform(0.05, 0.25))  # both backed off: try again
        raise InternalError(f"could not take the run lock of target {target!r}")

    def _take_over_stale(self, target: str, now: datetime, stale_after: float) -> None:
        """Raise for a live holder; delete a stale lock and interrupt its running runs."""
        for held in self._locks_of(target):
            refuse_live_lock(
                held, now=now, stale_after=stale_after, how_to_clear=self._how_to_clear
            )
            interrupted = {"target": target, "status": "running", "pid": held.pid}
            with self.adapter.transaction():
                self._delete("run_locks", self._where({"target": target, "lock_id": held.lock_id}))
                self._update(
                    "runs",
                    {"status": "interrupted", "finished_at": _ts(now)},
                    self._where({**interrupted, "host": held.host}),
                )

    def _interrupt_orphans(self, lock: LockInfo, now: datetime) -> None:
        """Mark the target's orphaned ``running`` runs ``interrupted``, once the lock is ours.

        Only after the lock is known to be ours: before, a concurrent acquirer's new run could
        be taken for an orphan. Each UPDATE keeps ``status = 'running'`` in its condition, so a
        retried statement, or a run that finished meanwhile, is left as it is.
        """
        where = self._where({"target": lock.target, "status": "running"})
        running = [run_from_row(r) for r in self._select("runs", RUN_COLUMNS, where)]
        for run in orphaned_runs(running, lock, now=now):
            log.info("run %s of target %r was interrupted", run.run_id, lock.target)
            self._update(
                "runs",
                {"status": "interrupted", "finished_at": _ts(now)},
                self._where({"run_id": run.run_id, "status": "running"}),
            )

    def _how_to_clear(self, target: str) -> str:
        statement = self._delete_sql("run_locks", self._eq("target", target))
        return f"remove the lock in the warehouse: {statement}"

    def heartbeat_lock(self, target: str, lock_id: str) -> bool:
        """Refresh a lock's heartbeat; False if it is no longer ours."""
        where = self._where({"target": target, "lock_id": lock_id})
        with self._mutex:
            self._update("run_locks", {"heartbeat_at": _ts(utcnow())}, where)
            return bool(self._select("run_locks", ["lock_id"], where))

    def release_lock(self, target: str, lock_id: str) -> None:
        """Drop a lock if it is still ours."""
        with self._mutex:
            self._locks = [lk for lk in self._locks if lk.info.lock_id != lock_id]
            if self._closed:
                return
            self._delete("run_locks", self._where({"target": target, "lock_id": lock_id}))

    def break_lock(self, target: str) -> LockInfo | None:
        """Remove a target's lock, whoever holds it; returns what it removed."""
        self._writable()
        with self._mutex:
            found = self._locks_of(target)
            self._delete("run_locks", self._eq("target", target))
        return found[0] if found else None

    def lock_holder(self, target: str) -> LockInfo | None:
        """The current run lock of a target, stale or not, or None."""
        found = self._locks_of(target)
        return found[0] if found else None
