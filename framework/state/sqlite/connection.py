"""The SQLite store's file and connection: opening, the schema version, transactions, errors.

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
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orch.errors import FilesystemError, InternalError, UserError
from orch.state.base import RunLock, StateStore
from orch.state.records import BUSY_TIMEOUT_MS, SCHEMA_VERSION, STATE_DIR
from orch.state.sqlite.schema import MIGRATIONS, SCHEMA

log = logging.getLogger(__name__)

# primary result codes (the sqlite3 module names them only from Python 3.11)
_SQLITE_FULL = 13
_SQLITE_READONLY = 8
_STORAGE_CODES = frozenset({_SQLITE_FULL, _SQLITE_READONLY, 10, 14})  # + IOERR, CANTOPEN


class SQLiteConnection(StateStore):
    """The file, its one connection (guarded by a lock) and its transactions."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._mutex = threading.RLock()
        self._locks: list[RunLock] = []
        self._conn = self._connect()

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
        conn.executescript(SCHEMA)
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
            for statement in SCHEMA.split(";"):
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
                for statement in MIGRATIONS[version]:
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
