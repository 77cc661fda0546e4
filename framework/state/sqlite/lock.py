"""The SQLite store's run lock.

Run lock: one row per target in ``run_locks``, inserted inside ``BEGIN IMMEDIATE`` (atomic across
processes). A held lock raises :class:`~orch.errors.LockHeldError` naming the holder. A lock is
stale, and taken over (its ``running`` runs marked ``interrupted``), when its pid is dead on this
host (``os.kill(pid, 0)``) or its heartbeat is older than ``stale_after`` (default
:data:`LOCK_STALE_AFTER_S`). The holder heartbeats from a daemon thread every ``heartbeat_interval``
seconds (default :data:`LOCK_HEARTBEAT_S`), so a long warehouse query never looks stale.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from typing import Any

from orch.errors import UserError
from orch.events import utcnow
from orch.state.base import RunLock
from orch.state.records import (
    LOCK_HEARTBEAT_S,
    LOCK_STALE_AFTER_S,
    LockInfo,
    LockOwner,
    _ts,
    lock_from_row,
    orphaned_runs,
    refuse_live_lock,
    run_from_row,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.schema import LOCK_COLUMNS, RUN_COLUMNS

log = logging.getLogger(__name__)


class SQLiteLock(SQLiteConnection):
    """The run lock: one row per target in ``run_locks``, taken inside ``BEGIN IMMEDIATE``."""

    def acquire_lock(
        self,
        target: str,
        owner: LockOwner,
        *,
        stale_after: float = LOCK_STALE_AFTER_S,
        heartbeat_interval: float | None = LOCK_HEARTBEAT_S,
    ) -> RunLock:
        """Take the run lock of ``target`` or raise LockHeldError; use the result as a context.

        A lock whose pid is dead on this host, or whose heartbeat is older than ``stale_after``
        seconds, is taken over, and its holder's ``running`` runs on that target are marked
        ``interrupted``; so is, in the same transaction, every other ``running`` run of the
        target that is orphaned (:func:`~orch.state.records.orphaned_runs`).
        """
        now = utcnow()
        info = LockInfo.from_owner(target, owner, now=now)
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {LOCK_COLUMNS} FROM run_locks WHERE target = ?", (target,)
            ).fetchone()
            if row is not None:
                held = self._lock_info(row)
                refuse_live_lock(
                    held, now=now, stale_after=stale_after, how_to_clear=self._how_to_clear
                )
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE target = ?"
                    " AND status = 'running' AND pid = ? AND host = ?",
                    (_ts(now), target, held.pid, held.host),
                )
            conn.execute(
                f"INSERT OR REPLACE INTO run_locks ({LOCK_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    target,
                    info.lock_id,
                    info.pid,
                    info.host,
                    info.command,
                    info.run_id,
                    _ts(now),
                    _ts(now),
                ),
            )
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE target = ? AND status = 'running'",
                (target,),
            ).fetchall()
            orphans = orphaned_runs([run_from_row(r) for r in rows], info, now=now)
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE run_id = ?"
                " AND status = 'running'",
                [(_ts(now), run.run_id) for run in orphans],
            )
        lock = RunLock(self, info, heartbeat_interval=heartbeat_interval)
        with self._mutex:
            self._locks.append(lock)
        return lock

    def _lock_info(self, row: Sequence[Any]) -> LockInfo:
        """A stored lock row, or a clear error when it was edited into something unreadable."""
        try:
            return lock_from_row(row)
        except (ValueError, TypeError) as err:
            target = str(row[0])
            raise UserError(
                f"the run lock of target '{target}' in the state store {self.path} is unreadable"
                f" ({err})",
                hint=f"It was edited by hand or damaged: {self._how_to_clear(target)}",
            ) from err

    def _how_to_clear(self, target: str) -> str:
        statement = f"DELETE FROM run_locks WHERE target = '{target}'"
        return f'remove the lock: sqlite3 {shlex.quote(str(self.path))} "{statement}"'

    def heartbeat_lock(self, target: str, lock_id: str) -> bool:
        """Refresh a lock's heartbeat; False if it is no longer ours."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE run_locks SET heartbeat_at = ? WHERE target = ? AND lock_id = ?",
                (_ts(utcnow()), target, lock_id),
            )
            return cur.rowcount == 1

    def release_lock(self, target: str, lock_id: str) -> None:
        """Drop a lock if it is still ours."""
        with self._mutex:
            self._locks = [lk for lk in self._locks if lk.info.lock_id != lock_id]
        with self._write() as conn:
            conn.execute(
                "DELETE FROM run_locks WHERE target = ? AND lock_id = ?", (target, lock_id)
            )

    def break_lock(self, target: str) -> LockInfo | None:
        """Remove a target's lock, whoever holds it (``orch unlock``); returns what it removed."""
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {LOCK_COLUMNS} FROM run_locks WHERE target = ?", (target,)
            ).fetchone()
            conn.execute("DELETE FROM run_locks WHERE target = ?", (target,))
        try:
            return lock_from_row(row) if row else None
        except (ValueError, TypeError):  # an unreadable lock is removed all the same
            return None

    def lock_holder(self, target: str) -> LockInfo | None:
        """The current run lock of a target, stale or not, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {LOCK_COLUMNS} FROM run_locks WHERE target = ?", (target,)
            ).fetchone()
        return self._lock_info(row) if row else None
