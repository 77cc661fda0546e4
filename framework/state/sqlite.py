"""The embedded default store: SQLite under ``<project>/.orch/state.db``.

SQLite schema (``schema_version`` 1, in table ``meta``; tables are created on first open, and
:data:`_MIGRATIONS` upgrades an older file in place):

- ``runs``: run_id (uuid4 hex) PK, command, selection, target, started_at, finished_at, status
  (running/success/failed/interrupted), pid, host, args JSON, counts JSON.
- ``materializations``: id PK, run_id, target, asset, partition_key (NULL when unpartitioned),
  status (success/failed), fingerprint, materialized, started_at, finished_at, duration_s, rows,
  metadata JSON, upstream JSON (``[{asset, partition, run_id}]``: exactly what it read), error.
- ``materialization_latest``: per (target, asset, pkey) the id of the last successful row and of the
  last attempt; ``pkey`` is the partition key or '' when unpartitioned. It is written in the same
  transaction as the history row, so "latest" queries cost one indexed join, whatever the history.
- ``check_results``: id PK, run_id, target, check_name, asset, partition_key, status
  (pass/warn/fail/error/skipped), severity, failing_rows, sample JSON (at most :data:`SAMPLE_ROWS`
  rows), duration_s, sql, message, at.
- ``ticks``: id PK, name (schedule or sensor), tick_time, status, run_ids JSON, skip_reason, error,
  recorded_at. ``sensor_cursors``: name PK, cursor, updated_at. ``run_keys``: (name, run_key) PK,
  run_id, at: the primary key is what guarantees a run key never runs twice.
- ``run_locks``: target PK, lock_id, pid, host, command, run_id, acquired_at, heartbeat_at.
- ``code_versions``, ``run_git``, ``hook_runs``: see :mod:`orch.state.sqlite_provenance`.

Timestamps are stored as fixed-width ISO 8601 UTC text (sortable) and returned timezone-aware.
Materializations and check results carry the run's target, because dev and prod builds of one
project share this file: every "latest" query takes ``target`` (None: across targets, newest wins).

Ordering contract: a ``success`` materialization is recorded only after the warehouse committed
its data (the executor emits ``StepMaterialized`` after the commit), so the state never claims data
that is not there; a crash between the two at worst re-runs the step.

Run lock: one row per target in ``run_locks``, inserted inside ``BEGIN IMMEDIATE`` (atomic across
processes). A held lock raises :class:`~orch.errors.LockHeldError` naming the holder. A lock is
stale, and taken over (its ``running`` runs marked ``interrupted``), when its pid is dead on this
host (``os.kill(pid, 0)``) or its heartbeat is older than ``stale_after`` (default
:data:`LOCK_STALE_AFTER_S`). The holder heartbeats from a daemon thread every ``heartbeat_interval``
seconds (default :data:`LOCK_HEARTBEAT_S`), so a long warehouse query never looks stale.

Concurrency: one connection per store, guarded by a lock (safe from worker threads); WAL mode and
``busy_timeout`` let readers (``readonly=True``) read while a build writes. A read-only store on a
missing file answers empty and creates nothing; in a folder it cannot write (a read-only
filesystem) it opens the file ``immutable``, so ``orch status`` and ``orch docs generate`` work.
A write that fails on the file (a full disk, a read-only file) is a
:class:`~orch.errors.FilesystemError` naming it; a lock row edited into something unreadable is a
user error saying how to remove it.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from orch.errors import FilesystemError, InternalError, UserError
from orch.events import (
    utcnow,
)
from orch.state.base import RunLock, StateStore
from orch.state.records import (
    BUSY_TIMEOUT_MS,
    CHECK_STATUSES,
    LOCK_HEARTBEAT_S,
    LOCK_STALE_AFTER_S,
    MATERIALIZATION_STATUSES,
    OP_STEP_COLUMNS,
    OP_STEP_STATUSES,
    RUN_STATUSES,
    SCHEMA_VERSION,
    STATE_DIR,
    CheckResultRecord,
    LockInfo,
    LockOwner,
    MaterializationRecord,
    ObservationRecord,
    OpStepRecord,
    RunRecord,
    TickRecord,
    UpstreamRef,
    _at,
    _json,
    _loads,
    _ts,
    check_from_row,
    lock_from_row,
    lock_held_error,
    lock_is_stale,
    materialization_from_row,
    observation_from_row,
    op_step_from_row,
    orphaned_runs,
    run_from_row,
    sample_json,
    state_path,
    upstream_dict,
)
from orch.state.sqlite_provenance import PROVENANCE_SCHEMA, SQLiteProvenance

log = logging.getLogger(__name__)
_INSERT_CHECK = (
    "INSERT INTO check_results (run_id, target, check_name, asset, partition_key, status,"
    " severity, failing_rows, sample, duration_s, sql, message, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# --------------------------------------------------------------------------- SQLite

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, command TEXT NOT NULL, selection TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
    pid INTEGER, host TEXT, args TEXT NOT NULL DEFAULT '{}', counts TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE INDEX IF NOT EXISTS runs_by_target ON runs (target, status);
CREATE TABLE IF NOT EXISTS materializations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, target TEXT NOT NULL,
    asset TEXT NOT NULL, partition_key TEXT, status TEXT NOT NULL, fingerprint TEXT,
    materialized TEXT, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    duration_s REAL NOT NULL, rows INTEGER, metadata TEXT NOT NULL DEFAULT '{}',
    upstream TEXT NOT NULL DEFAULT '[]', error TEXT, data_version TEXT, versions TEXT
);
CREATE INDEX IF NOT EXISTS materializations_by_asset
    ON materializations (asset, partition_key, id);
CREATE INDEX IF NOT EXISTS materializations_by_run ON materializations (run_id);
CREATE TABLE IF NOT EXISTS materialization_latest (
    target TEXT NOT NULL, asset TEXT NOT NULL, pkey TEXT NOT NULL,
    success_id INTEGER, attempt_id INTEGER NOT NULL,
    PRIMARY KEY (target, asset, pkey)
);
CREATE INDEX IF NOT EXISTS materialization_latest_by_asset
    ON materialization_latest (asset, pkey);
CREATE TABLE IF NOT EXISTS check_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, target TEXT NOT NULL,
    check_name TEXT NOT NULL, asset TEXT, partition_key TEXT, status TEXT NOT NULL,
    severity TEXT NOT NULL, failing_rows INTEGER NOT NULL, sample TEXT NOT NULL DEFAULT '[]',
    duration_s REAL NOT NULL, sql TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS check_results_by_check
    ON check_results (check_name, target, partition_key, id);
CREATE INDEX IF NOT EXISTS check_results_by_run ON check_results (run_id);
CREATE TABLE IF NOT EXISTS op_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, job TEXT NOT NULL,
    step_key TEXT NOT NULL, op TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, duration_s REAL NOT NULL,
    outputs TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}', error TEXT,
    path TEXT, attempt_errors TEXT NOT NULL DEFAULT '[]', reused_from TEXT
);
CREATE INDEX IF NOT EXISTS op_steps_by_run ON op_steps (run_id, id);
CREATE TABLE IF NOT EXISTS ticks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, tick_time TEXT NOT NULL,
    status TEXT NOT NULL, run_ids TEXT NOT NULL DEFAULT '[]', skip_reason TEXT, error TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticks_by_name ON ticks (name, tick_time, id);
CREATE TABLE IF NOT EXISTS sensor_cursors (
    name TEXT PRIMARY KEY, cursor TEXT, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_keys (
    name TEXT NOT NULL, run_key TEXT NOT NULL, run_id TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (name, run_key)
);
CREATE TABLE IF NOT EXISTS source_observations (
    target TEXT NOT NULL, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}', observed_at TEXT NOT NULL, changed_at TEXT,
    PRIMARY KEY (target, source)
);
CREATE TABLE IF NOT EXISTS run_locks (
    target TEXT PRIMARY KEY, lock_id TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    command TEXT NOT NULL, run_id TEXT, acquired_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL
);
"""
    + PROVENANCE_SCHEMA
)

# from_version -> statements that bring a file to from_version + 1 (run in one transaction).
_MIGRATIONS: dict[int, list[str]] = {
    # data versions (orch.run.version); source_observations is created by the schema script
    1: [
        "ALTER TABLE materializations ADD COLUMN data_version TEXT",
        "ALTER TABLE materializations ADD COLUMN versions TEXT",
    ],
}

_MAT_COLUMNS = (
    "m.id, m.run_id, m.target, m.asset, m.partition_key, m.status, m.fingerprint, m.materialized,"
    " m.started_at, m.finished_at, m.duration_s, m.rows, m.metadata, m.upstream, m.error,"
    " m.data_version, m.versions"
)
_CHECK_COLUMNS = (
    "c.id, c.run_id, c.target, c.check_name, c.asset, c.partition_key, c.status, c.severity,"
    " c.failing_rows, c.sample, c.duration_s, c.sql, c.message, c.at"
)
_RUN_COLUMNS = (
    "run_id, command, selection, target, started_at, finished_at, status, pid, host, args, counts"
)
_LOCK_COLUMNS = "target, lock_id, pid, host, command, run_id, acquired_at, heartbeat_at"


# primary result codes (the sqlite3 module names them only from Python 3.11)
_SQLITE_FULL = 13
_SQLITE_READONLY = 8
_STORAGE_CODES = frozenset({_SQLITE_FULL, _SQLITE_READONLY, 10, 14})  # + IOERR, CANTOPEN


def _check_status(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InternalError(f"invalid {what} status {value!r}; expected one of {allowed}")


class SQLiteStateStore(SQLiteProvenance, StateStore):
    """The embedded state store: one SQLite file in WAL mode, one connection guarded by a lock."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._mutex = threading.RLock()
        self._locks: list[RunLock] = []
        self._conn = self._connect()

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

    # ------------------------------------------------------------------ connection

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly and not self.path.exists():
                return self._empty()
            if self.readonly:
                return self._connect_readonly()
            self._make_dir()
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._init_schema(conn)
            return conn
        except sqlite3.Error as err:
            folder = self.path.parent
            if not self.readonly and folder.is_dir() and not os.access(folder, os.W_OK):
                raise FilesystemError(
                    f"cannot write the state store {self.path}: its folder is read-only",
                    hint=f"Make {folder} writable (orch status and orch docs generate only read"
                    " it and work as it is)",
                ) from err
            if isinstance(err, sqlite3.OperationalError) and (
                "disk is full" in str(err) or "readonly" in str(err) or self._disk_full()
            ):
                raise self._write_error(err) from err
            raise UserError(
                f"cannot open the state store {self.path}: {err}",
                hint="Check that the file is a SQLite database and its folder is writable",
            ) from err

    def _connect_readonly(self) -> sqlite3.Connection:
        """A read-only connection, also where the folder cannot be written.

        SQLite in WAL mode writes a ``-shm`` file even to read; on a read-only folder or
        filesystem that fails, and the file is opened ``immutable`` instead (it cannot change
        under us there: nobody can write it).
        """
        try:
            return self._open_readonly("mode=ro")
        except sqlite3.OperationalError:
            if os.access(self.path.parent, os.W_OK):
                raise
            log.debug("%s is not writable: reading %s as immutable", self.path.parent, self.path)
            return self._open_readonly("mode=ro&immutable=1")

    def _open_readonly(self, params: str) -> sqlite3.Connection:
        uri = f"{self.path.resolve().as_uri()}?{params}"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = 1")
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone():  # a writer is creating the file right now: nothing to read yet
                conn.close()
                return self._empty()
            self._check_version(conn, writable=False)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _empty() -> sqlite3.Connection:
        """Nothing recorded yet: answer from an empty in-memory schema, create no file."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.executescript(_SCHEMA)
        return conn

    def _make_dir(self) -> None:
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise FilesystemError(
                f"cannot create the state store {self.path}: {folder} is a file, not a folder",
                hint=f"Remove or rename the file {folder}; orch keeps its run state there",
            )
        if self.path.is_dir():
            raise FilesystemError(
                f"cannot open the state store {self.path}: it is a folder, not a file",
                hint=f"Remove or rename the folder {self.path}",
            )
        if not folder.exists():
            try:
                folder.mkdir(parents=True)
                if folder.name == STATE_DIR:
                    (folder / ".gitignore").write_text("*\n", encoding="utf-8")
            except OSError as err:
                raise FilesystemError(
                    f"cannot create the state folder {folder}: {err.strerror}",
                    hint="Make the project folder writable, or free some disk space",
                ) from err

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else SCHEMA_VERSION
            if row is None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            self._raise_if_newer(version)
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),)
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _check_version(self, conn: sqlite3.Connection, *, writable: bool) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        self._raise_if_newer(version)
        if version < SCHEMA_VERSION and not writable:
            raise UserError(
                f"the state store {self.path} has schema version {version}, "
                f"this orch reads {SCHEMA_VERSION}",
                hint="Run any orch command that writes state (e.g. `orch build`) to upgrade it",
            )

    def _raise_if_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise UserError(
                f"the state store {self.path} has schema version {version}, newer than this "
                f"orch understands ({SCHEMA_VERSION})",
                hint="Upgrade orch",
            )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            yield self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        if self.readonly:
            raise InternalError(f"the state store {self.path} was opened read-only")
        with self._mutex:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                if self._storage_failed(err):
                    raise self._write_error(err) from err
                raise UserError(
                    f"the state store {self.path} stayed busy for"
                    f" {BUSY_TIMEOUT_MS // 1000}s: {err}",
                    hint="Another process holds a long write on it; try again",
                ) from err
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.OperationalError as err:
                self._rollback(conn)
                if not self._storage_failed(err):
                    raise
                raise self._write_error(err) from err
            except BaseException:
                self._rollback(conn)
                raise

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as err:  # the write failed already; that is the error to show
                log.debug("rollback failed: %s", err)

    def _storage_failed(self, err: sqlite3.Error) -> bool:
        """Whether a failed statement failed on the file (full, read-only, I/O), not on SQL."""
        code = (getattr(err, "sqlite_errorcode", None) or 0) & 0xFF
        return code in _STORAGE_CODES or any(
            text in str(err) for text in ("disk is full", "readonly", "disk I/O error")
        )

    def _disk_full(self) -> bool:
        """Whether the filesystem of the store has (almost) no space left: SQLite reports a
        full disk as an I/O error when it cannot grow its shared-memory file."""
        try:
            stat = os.statvfs(self.path.parent)
        except (OSError, AttributeError):  # no such folder; no statvfs on Windows
            return False
        return stat.f_bavail * stat.f_frsize < 64 * 1024

    def _write_error(self, err: sqlite3.Error) -> UserError:
        """A failed write (full disk, read-only file) as an error naming the file."""
        code = (getattr(err, "sqlite_errorcode", None) or 0) & 0xFF  # the primary result code
        if code == _SQLITE_FULL or "disk is full" in str(err) or self._disk_full():
            return FilesystemError(
                f"cannot write the state store {self.path}: the disk is full",
                hint=f"Free some space on the disk holding {self.path.parent} and run the command"
                " again",
            )
        if code == _SQLITE_READONLY or "readonly" in str(err):
            return FilesystemError(
                f"cannot write the state store {self.path}: it is read-only",
                hint=f"Make {self.path.parent} and the file writable, or run only commands that"
                " read the state (orch status, orch docs generate)",
            )
        return FilesystemError(
            f"cannot write the state store {self.path}: {err}",
            hint="Check the disk and the file's permissions, then run the command again",
        )

    def close(self) -> None:
        """Release this store's run locks and close the connection (idempotent)."""
        for lock in list(self._locks):
            lock.release()
        with self._mutex:
            self._conn.close()

    def __enter__(self) -> SQLiteStateStore:
        return self

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        command: str,
        *,
        target: str,
        selection: str = "",
        args: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        pid: int | None = None,
        host: str | None = None,
        started_at: datetime | None = None,
    ) -> str:
        """Record a run as ``running``; returns its run_id (idempotent for a given run_id)."""
        run_id = run_id or uuid.uuid4().hex
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, 'running', ?, ?,"
                " ?, '{}') ON CONFLICT (run_id) DO NOTHING",
                (
                    run_id,
                    command,
                    selection,
                    target,
                    _ts(started_at or utcnow()),
                    pid if pid is not None else os.getpid(),
                    host or socket.gethostname(),
                    _json(dict(args or {})),
                ),
            )
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        finished_at: datetime | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """Set a run's final status: success, failed or interrupted."""
        _check_status(status, RUN_STATUSES[1:], "run")
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, counts = ? WHERE run_id = ?",
                (status, _ts(finished_at or utcnow()), _json(dict(counts or {})), run_id),
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or None; a ``running`` run whose process died is ``interrupted``."""
        run = self._stored_run(run_id)
        return None if run is None else self._settle_orphans([run], self._stored_run)[0]

    def _stored_run(self, run_id: str) -> RunRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return run_from_row(row) if row else None

    def recent_runs(self, limit: int = 20, *, target: str | None = None) -> list[RunRecord]:
        """The newest runs first; a ``running`` run whose process died is ``interrupted``."""
        where, params = ("WHERE target = ?", [target]) if target is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, rowid DESC"
                " LIMIT ?",
                (*params, limit),
            ).fetchall()
        return self._settle_orphans([run_from_row(r) for r in rows], self._stored_run)

    # ------------------------------------------------------------------ materializations

    def record_materialization(
        self,
        *,
        run_id: str,
        asset: str,
        partition_key: str | None,
        status: str,
        started_at: datetime,
        finished_at: datetime | None = None,
        fingerprint: str | None = None,
        materialized: str | None = None,
        rows: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        upstream: Sequence[UpstreamRef | Mapping[str, Any]] = (),
        error: str | None = None,
        target: str | None = None,
        data_version: str | None = None,
        versions: Mapping[str, Mapping[str, str]] | None = None,
    ) -> int:
        """Record one attempt; a ``success`` only after its data committed. Returns the row id."""
        _check_status(status, MATERIALIZATION_STATUSES, "materialization")
        if partition_key == "":
            raise InternalError(f"empty partition key for {asset!r}; use None when unpartitioned")
        finished_at = finished_at or utcnow()
        duration = max((finished_at - started_at).total_seconds(), 0.0)
        refs = [upstream_dict(u) for u in upstream]
        with self._write() as conn:
            target = self._target_of(conn, run_id) if target is None else target
            cur = conn.execute(
                "INSERT INTO materializations (run_id, target, asset, partition_key, status,"
                " fingerprint, materialized, started_at, finished_at, duration_s, rows, metadata,"
                " upstream, error, data_version, versions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    target,
                    asset,
                    partition_key,
                    status,
                    fingerprint,
                    materialized,
                    _ts(started_at),
                    _ts(finished_at),
                    duration,
                    rows,
                    _json(dict(metadata or {})),
                    _json(refs),
                    error,
                    data_version,
                    _json({k: dict(v) for k, v in versions.items()}) if versions else None,
                ),
            )
            row_id = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO materialization_latest (target, asset, pkey, success_id, attempt_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target, asset, pkey) DO UPDATE SET"
                " attempt_id = excluded.attempt_id,"
                " success_id = coalesce(excluded.success_id, materialization_latest.success_id)",
                (
                    target,
                    asset,
                    partition_key or "",
                    row_id if status == "success" else None,
                    row_id,
                ),
            )
        return row_id

    @staticmethod
    def _target_of(conn: sqlite3.Connection, run_id: str) -> str:
        row = conn.execute("SELECT target FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return str(row[0]) if row else ""

    def _latest(
        self,
        pointer: str,
        assets: Sequence[str] | None,
        target: str | None,
        *,
        failed_only: bool = False,
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        clauses, params = ["m.status = 'failed'"] if failed_only else [], []
        if assets is not None:
            clauses.append("l.asset IN (SELECT value FROM json_each(?))")
            params.append(_json(list(assets)))
        if target is not None:
            clauses.append("l.target = ?")
            params.append(target)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ORDER BY m.id" if target is None else ""  # only several targets need ordering
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_MAT_COLUMNS} FROM materialization_latest l"
                f" JOIN materializations m ON m.id = l.{pointer} {where} {order}",
                params,
            ).fetchall()
        return {
            (r[3], r[4]): materialization_from_row(r) for r in rows
        }  # newest wins across targets

    def latest_materializations(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last successful materialization per (asset, partition_key), in one query."""
        return self._latest("success_id", assets, target)

    def latest_attempts(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt, failed or not, per (asset, partition_key), in one query."""
        return self._latest("attempt_id", assets, target)

    def latest_failures(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt per (asset, partition_key) where it failed, in one query."""
        return self._latest("attempt_id", assets, target, failed_only=True)

    def partitions_of(
        self, asset: str, *, target: str | None = None
    ) -> dict[str, MaterializationRecord]:
        """The last successful materialization per partition key of one asset."""
        latest = self._latest("success_id", [asset], target)
        return {pk: rec for (_, pk), rec in latest.items() if pk is not None}

    def materialization_history(
        self, asset: str, limit: int = 50, *, target: str | None = None
    ) -> list[MaterializationRecord]:
        """Every attempt on one asset (all partitions), newest first."""
        where, params = "WHERE m.asset = ?", [asset]
        if target is not None:
            where, params = where + " AND m.target = ?", [asset, target]
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_MAT_COLUMNS} FROM materializations m {where} ORDER BY m.id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [materialization_from_row(r) for r in rows]

    def run_materializations(self, run_id: str) -> list[MaterializationRecord]:
        """Every materialization attempt of one run, in recording order, in one query."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_MAT_COLUMNS} FROM materializations m WHERE m.run_id = ? ORDER BY m.id",
                (run_id,),
            ).fetchall()
        return [materialization_from_row(r) for r in rows]

    # ------------------------------------------------------------------ checks

    def record_check(
        self,
        *,
        run_id: str,
        check: str,
        asset: str | None,
        partition_key: str | None,
        status: str,
        severity: str,
        failing_rows: int = 0,
        sample: Sequence[Mapping[str, Any]] = (),
        duration_s: float = 0.0,
        sql: str = "",
        message: str = "",
        at: datetime | None = None,
        target: str | None = None,
    ) -> int:
        """Record one check result (the sample is cut to ``SAMPLE_ROWS``). Returns the row id."""
        _check_status(status, CHECK_STATUSES, "check")
        with self._write() as conn:
            target = self._target_of(conn, run_id) if target is None else target
            cur = conn.execute(_INSERT_CHECK, (
                run_id, target, check, asset, partition_key, status, severity, failing_rows,
                sample_json(sample), duration_s, sql, message, _ts(at or utcnow()),
            ))  # fmt: skip
            return int(cur.lastrowid or 0)

    def record_checks(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Record several check results in one transaction: all of them or none."""
        for result in results:
            _check_status(result["status"], CHECK_STATUSES, "check")
        with self._write() as conn:
            targets: dict[str, str] = {}
            rows = []
            for r in results:
                target = r.get("target")
                if target is None:
                    run_id = r["run_id"]
                    if run_id not in targets:
                        targets[run_id] = self._target_of(conn, run_id)
                    target = targets[run_id]
                rows.append((
                    r["run_id"], target, r["check"], r["asset"], r["partition_key"], r["status"],
                    r["severity"], r.get("failing_rows", 0), sample_json(r.get("sample", ())),
                    r.get("duration_s", 0.0), r.get("sql", ""), r.get("message", ""),
                    _ts(r.get("at") or utcnow()),
                ))  # fmt: skip
            conn.executemany(_INSERT_CHECK, rows)

    def latest_check_results(
        self, checks: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], CheckResultRecord]:
        """The last result per (check, partition_key), in one query."""
        clauses, params = [], []
        if checks is not None:
            clauses.append("check_name IN (SELECT value FROM json_each(?))")
            params.append(_json(list(checks)))
        if target is not None:
            clauses.append("target = ?")
            params.append(target)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_CHECK_COLUMNS} FROM check_results c JOIN (SELECT max(id) AS id"
                f" FROM check_results {where} GROUP BY check_name, target, partition_key) l"
                " ON c.id = l.id ORDER BY c.id",
                params,
            ).fetchall()
        return {(r[3], r[5]): check_from_row(r) for r in rows}

    def check_history(
        self, check: str, limit: int = 50, *, target: str | None = None
    ) -> list[CheckResultRecord]:
        """Results of one check, newest first."""
        where, params = "WHERE c.check_name = ?", [check]
        if target is not None:
            where, params = where + " AND c.target = ?", [check, target]
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_CHECK_COLUMNS} FROM check_results c {where} ORDER BY c.id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [check_from_row(r) for r in rows]

    def run_check_results(self, run_id: str) -> list[CheckResultRecord]:
        """Every check result of one run, in recording order, in one query."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_CHECK_COLUMNS} FROM check_results c WHERE c.run_id = ? ORDER BY c.id",
                (run_id,),
            ).fetchall()
        return [check_from_row(r) for r in rows]

    # ------------------------------------------------------------------ op steps

    def record_op_step(
        self,
        *,
        run_id: str,
        job: str,
        step_key: str,
        op: str,
        status: str,
        attempts: int,
        started_at: datetime,
        finished_at: datetime,
        outputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
        path: str | None = None,
        attempt_errors: Sequence[str] = (),
        reused_from: str | None = None,
    ) -> int:
        """Record one op step. Returns the row id."""
        _check_status(status, OP_STEP_STATUSES, "op step")
        duration = max(0.0, (finished_at - started_at).total_seconds())
        with self._write() as conn:
            cur = conn.execute(
                f"INSERT INTO op_steps ({', '.join(OP_STEP_COLUMNS[1:])})"
                f" VALUES ({', '.join('?' * (len(OP_STEP_COLUMNS) - 1))})",
                (
                    run_id, job, step_key, op, status, attempts, _ts(started_at),
                    _ts(finished_at), duration, _json(dict(outputs or {})),
                    _json(dict(metadata or {})), error, path, _json(list(attempt_errors)),
                    reused_from,
                ),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def run_op_steps(self, run_id: str) -> list[OpStepRecord]:
        """Every op step of one run, in recording order."""
        with self._read() as conn:
            try:
                rows = conn.execute(
                    f"SELECT {', '.join(OP_STEP_COLUMNS)} FROM op_steps WHERE run_id = ?"
                    " ORDER BY id",
                    (run_id,),
                ).fetchall()
            except sqlite3.OperationalError:  # a read-only file from before op jobs existed
                return []
        return [op_step_from_row(r) for r in rows]

    # ------------------------------------------------------------------ schedules and sensors

    def record_tick(
        self,
        name: str,
        tick_time: datetime,
        status: str,
        run_ids: Sequence[str] = (),
        skip_reason: str | None = None,
        error: str | None = None,
    ) -> int:
        """Record one schedule or sensor evaluation. Returns the row id."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO ticks (name, tick_time, status, run_ids, skip_reason, error,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    _ts(tick_time),
                    status,
                    _json(list(run_ids)),
                    skip_reason,
                    error,
                    _ts(utcnow()),
                ),
            )
            return int(cur.lastrowid or 0)

    def ticks(self, name: str, limit: int = 50) -> list[TickRecord]:
        """Ticks of one schedule or sensor, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, name, tick_time, status, run_ids, skip_reason, error, recorded_at"
                " FROM ticks WHERE name = ? ORDER BY tick_time DESC, id DESC LIMIT ?",
                (name, limit),
            ).fetchall()
        return [
            TickRecord(
                id=r[0],
                name=r[1],
                tick_time=_at(r[2]),
                status=r[3],
                run_ids=tuple(_loads(r[4])),
                skip_reason=r[5],
                error=r[6],
                recorded_at=_at(r[7]),
            )
            for r in rows
        ]

    def last_tick(self, name: str) -> TickRecord | None:
        """The newest tick of one schedule or sensor."""
        found = self.ticks(name, 1)
        return found[0] if found else None

    def get_cursor(self, sensor: str) -> str | None:
        """A sensor's cursor, None before its first ``set_cursor``."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT cursor FROM sensor_cursors WHERE name = ?", (sensor,)
            ).fetchone()
        return row[0] if row else None

    def set_cursor(self, sensor: str, cursor: str | None) -> None:
        """Store a sensor's cursor."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sensor_cursors (name, cursor, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,"
                " updated_at = excluded.updated_at",
                (sensor, cursor, _ts(utcnow())),
            )

    def run_key_used(self, name: str, run_key: str) -> bool:
        """Whether a schedule or sensor already ran this run key."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM run_keys WHERE name = ? AND run_key = ?", (name, run_key)
            ).fetchone()
        return row is not None

    def run_for_key(self, name: str, run_key: str) -> str | None:
        """The run id that claimed a run key of a schedule or sensor, or None."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT run_id FROM run_keys WHERE name = ? AND run_key = ?", (name, run_key)
            ).fetchone()
        return row[0] if row else None

    def record_run_key(self, name: str, run_key: str, run_id: str) -> bool:
        """Claim a run key atomically: False if it was already used (then nothing is written)."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO run_keys (name, run_key, run_id, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name, run_key) DO NOTHING",
                (name, run_key, run_id, _ts(utcnow())),
            )
            return cur.rowcount == 1

    # ------------------------------------------------------------------ run lock

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
        info = LockInfo(
            target=target,
            lock_id=uuid.uuid4().hex,
            pid=owner.pid,
            host=owner.host,
            command=owner.command,
            run_id=owner.run_id,
            acquired_at=now,
            heartbeat_at=now,
        )
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_LOCK_COLUMNS} FROM run_locks WHERE target = ?", (target,)
            ).fetchone()
            if row is not None:
                held = self._lock_info(row)
                why = lock_is_stale(held, now=now, stale_after=stale_after)
                if why is None:
                    raise lock_held_error(held, how_to_clear=self._how_to_clear(target))
                log.warning(
                    "taking over the run lock of target %r from `%s` (pid %d on %s): %s",
                    target,
                    held.command,
                    held.pid,
                    held.host,
                    why,
                )
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE target = ?"
                    " AND status = 'running' AND pid = ? AND host = ?",
                    (_ts(now), target, held.pid, held.host),
                )
            conn.execute(
                f"INSERT OR REPLACE INTO run_locks ({_LOCK_COLUMNS})"
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
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE target = ? AND status = 'running'",
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
                f"SELECT {_LOCK_COLUMNS} FROM run_locks WHERE target = ?", (target,)
            ).fetchone()
            conn.execute("DELETE FROM run_locks WHERE target = ?", (target,))
        try:
            return lock_from_row(row) if row else None
        except (ValueError, TypeError):  # an unreadable lock is removed all the same
            return None

    # ------------------------------------------------------------------ source observations

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

    def lock_holder(self, target: str) -> LockInfo | None:
        """The current run lock of a target, stale or not, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_LOCK_COLUMNS} FROM run_locks WHERE target = ?", (target,)
            ).fetchone()
        return self._lock_info(row) if row else None
