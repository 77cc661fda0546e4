"""The embedded DuckDB adapter: one database, one cursor per worker thread, Arrow in and out.

DuckDB allows one process to open a database file for writing. Inside that process a connection
hands out cursors (each its own DuckDB connection to the same database, with its own transaction),
so every worker thread gets one cursor, created on first use and kept until :meth:`close`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from orch.adapters.base import TEMP_PREFIX, Adapter, Column, WriteMode
from orch.config import DuckDBTargetConfig, TargetConfig
from orch.errors import WarehouseConnectionError, WarehouseError, suggestion
from orch.names import Relation
from orch.redaction import bind_placeholders, scrub

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

log = logging.getLogger(__name__)

MEMORY = ":memory:"
ARROW_VIEW_PREFIX = "__orch_arrow_"

_LOCK_PATTERN = re.compile(r'Could not set lock on file "(?P<file>[^"]+)"(?P<rest>.*)', re.S)
_PID_PATTERN = re.compile(r"\(PID (\d+)\)")
_HOLDER_PATTERN = re.compile(r"lock is held in (.+?) \(PID")
_LINE_PATTERN = re.compile(r"\bLINE (\d+):")
_LITERAL_PATTERN = re.compile(r"'(?:[^']|'')*'")


def _version_tuple(version: str) -> tuple[int, ...]:
    """``'1.4.2'`` -> ``(1, 4, 2)``; non-numeric parts (dev tags) end the tuple."""
    parts: list[int] = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


DUCKDB_VERSION = _version_tuple(version("duckdb"))  # package metadata: no import of the driver


def _import_driver() -> None:
    """Import the duckdb driver into this module's globals when an adapter opens its database.

    Not on import, nor when an adapter is made: the loader reads
    :attr:`DuckDBAdapter.target_config_class` to validate a profile, and a command that never
    connects (``orch ls``, a warm ``orch compile``, a build with nothing to do) need not pay for
    the driver. Every use of the database goes through :meth:`DuckDBAdapter.open` first.
    """
    global duckdb
    import duckdb


class _ThreadState(threading.local):
    """Per-thread cursor and transaction depth."""

    cursor: duckdb.DuckDBPyConnection | None = None
    depth: int = 0


class DuckDBAdapter(Adapter):
    """An embedded DuckDB database file (or ``:memory:``)."""

    type: ClassVar[str] = "duckdb"
    dialect: ClassVar[str] = "duckdb"
    target_config_class = DuckDBTargetConfig
    # One filtered COUNT(*) per check is faster here than one folded COUNT_IF scan: DuckDB pushes
    # WHERE filters into its compressed storage and prunes with statistics (bench/bench_checks.py).
    PREFERS_FOLDED_CHECKS = False
    # 16 count queries per UNION ALL statement: DuckDB runs the branches' pipelines on its own
    # threads and plans once per statement; 400 checks 0.41 s -> 0.22 s (bench/RESULTS.md).
    CHECK_BATCH: ClassVar[int] = 16

    # MERGE INTO arrived in DuckDB 1.4; older versions get DELETE + INSERT in one transaction.
    NATIVE_MERGE: ClassVar[bool] = DUCKDB_VERSION >= (1, 4)

    config: DuckDBTargetConfig

    def __init__(self, config: TargetConfig, project_dir: Path) -> None:
        if not isinstance(config, DuckDBTargetConfig):
            config = DuckDBTargetConfig.model_validate(config.model_dump(by_alias=True))
        super().__init__(config, project_dir)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._local = _ThreadState()
        self._lock = threading.RLock()  # reentrant: interrupt() may run in a signal handler
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._schemas: set[tuple[str | None, str]] = set()
        self._filesystems: set[str] = set()  # fsspec protocols registered on the connection

    # ---------------------------------------------------------------- names

    def quote(self, identifier: str) -> str:
        """``identifier`` quoted as sqlglot writes it for DuckDB (``"`` doubled), without importing
        sqlglot: a run of plain SQL models never needs it (tests/adapters: same text)."""
        return '"' + identifier.replace('"', '""') + '"'

    def render(self, relation: Relation) -> str:
        """``relation`` as quoted SQL (see :meth:`quote`)."""
        if relation.database and not relation.schema:
            return super().render(relation)
        parts = (relation.database, relation.schema, relation.name)
        return ".".join(self.quote(p) for p in parts if p)

    # ---------------------------------------------------------------- lifecycle

    @property
    def database_path(self) -> str:
        """The database file as DuckDB opens it: absolute, or ``:memory:``."""
        raw = self.config.path
        if raw == MEMORY or raw.startswith((MEMORY + ":", "md:", "motherduck:")):
            return raw
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = Path(self.project_dir) / path
        return str(path)

    def open(self) -> None:
        """Open the database file, apply ``settings``/``memory_limit``, load ``extensions``."""
        if self._con is not None:
            return
        _import_driver()
        path = self.database_path
        if Path(path).is_absolute():  # a file, not :memory: or a md: (MotherDuck) URL
            self._check_directory(Path(path))
        config: dict[str, Any] = dict(self.config.settings)
        if self.config.memory_limit:
            config["memory_limit"] = self.config.memory_limit
        try:
            con = duckdb.connect(path, config=config)
        except duckdb.Error as err:
            raise self._open_error(err, path) from err
        try:
            self._load_extensions(con)
            self._attach(con)
        except BaseException:
            con.close()
            raise
        self._con = con

    def close(self) -> None:
        """Close every thread's cursor and the connection."""
        with self._lock:
            cursors, self._cursors = self._cursors, []
            con, self._con = self._con, None
            self._schemas.clear()
            self._filesystems.clear()
        for cursor in cursors:
            try:
                cursor.close()
            except duckdb.Error:  # already closed or interrupted: nothing left to release
                pass
        if con is not None:
            con.close()
        self._local = _ThreadState()

    def interrupt(self) -> None:
        """Interrupt the statement running on every cursor; their transactions roll back."""
        with self._lock:
            targets = [*self._cursors, *([self._con] if self._con is not None else [])]
        for con in targets:
            try:
                con.interrupt()
            except duckdb.Error:
                pass

    def _check_directory(self, path: Path) -> None:
        """Fail early, naming the ``path`` setting, when the file's directory is unusable."""
        directory = path.parent
        setting = f"the profile setting `path` ({self.config.path!r})"
        if not directory.exists():
            raise WarehouseConnectionError(
                f"cannot open DuckDB database '{path}': directory '{directory}' does not exist",
                hint=f"Create the directory or change {setting}.",
            )
        if not directory.is_dir():
            raise WarehouseConnectionError(
                f"cannot open DuckDB database '{path}': '{directory}' is not a directory",
                hint=f"Change {setting}.",
            )
        if not path.exists() and not os.access(directory, os.W_OK | os.X_OK):
            raise WarehouseConnectionError(
                f"cannot create DuckDB database '{path}': directory '{directory}' is not writable",
                hint=f"Make the directory writable or change {setting}.",
            )

    def _open_error(self, err: duckdb.Error, path: str) -> WarehouseConnectionError:
        """Turn DuckDB's opening error into one a user can act on."""
        message = scrub(str(err))
        setting = f"the profile setting `path` ({self.config.path!r})"
        locked = _LOCK_PATTERN.search(message)
        if locked:
            pid = _PID_PATTERN.search(message)
            holder = _HOLDER_PATTERN.search(message)
            who = ""
            if holder and pid:
                who = f" by {holder.group(1)} (pid {pid.group(1)})"
            elif pid:
                who = f" by pid {pid.group(1)}"
            return WarehouseConnectionError(
                f"DuckDB database '{locked.group('file')}' is locked{who}",
                hint=f"Close the other program or use another path ({setting}).",
            )
        if "being used by another process" in message:  # Windows reports no pid
            return WarehouseConnectionError(
                f"DuckDB database '{path}' is locked by another process",
                hint=f"Close the other program or use another path ({setting}).",
            )
        if "not a valid DuckDB database file" in message or "Corrupt" in message:
            return WarehouseConnectionError(
                f"'{path}' is not a valid DuckDB database file (corrupt, or another format): "
                f"{message}",
                hint=f"Move the file away to rebuild it, or change {setting}.",
            )
        if isinstance(err, duckdb.InvalidInputException) and (
            "option" in message or "configuration" in message or "cast" in message.lower()
        ):
            return WarehouseConnectionError(
                f"cannot open DuckDB database '{path}': {message}",
                hint="Check the profile settings `settings` and `memory_limit`.",
            )
        if "Permission denied" in message or "Read-only file system" in message:
            return WarehouseConnectionError(
                f"cannot open DuckDB database '{path}': {message}",
                hint=f"Make the file and its directory writable or change {setting}.",
            )
        return WarehouseConnectionError(
            f"cannot open DuckDB database '{path}': {message}",
            hint=f"Check {setting}.",
        )

    def _attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """ATTACH each file of the profile's ``attach:`` (read-only unless it says otherwise)."""
        if not self.config.attach:
            return
        from sqlglot import exp  # late, as in Adapter.quote: opening needs no sqlglot otherwise

        for entry in self.config.attach:
            path = Path(entry.path).expanduser()
            if not path.is_absolute():
                path = Path(self.project_dir) / path
            if entry.read_only and not path.is_file():
                raise WarehouseConnectionError(
                    f"cannot attach DuckDB database '{path}' as '{entry.alias}': the file does "
                    "not exist",
                    hint="Build the project that writes it first (for a workspace member: "
                    "the member whose public model is read), or fix the path",
                )
            literal = exp.Literal.string(str(path)).sql(dialect="duckdb")
            mode = " (READ_ONLY)" if entry.read_only else ""
            try:
                con.execute(f"ATTACH {literal} AS {self.quote(entry.alias)}{mode}")
            except duckdb.Error as err:
                raise WarehouseConnectionError(
                    f"cannot attach DuckDB database '{path}' as '{entry.alias}': "
                    f"{str(err).splitlines()[0]}",
                    hint="Another process may hold the file open for writing: wait for its "
                    "build to finish",
                ) from err

    def _load_extensions(self, con: duckdb.DuckDBPyConnection) -> None:
        """LOAD each configured extension that is installed; a missing one is an error."""
        if not self.config.extensions:
            return
        rows = con.execute(
            "SELECT extension_name, installed, loaded FROM duckdb_extensions()"
        ).fetchall()
        known = {str(name): (bool(installed), bool(loaded)) for name, installed, loaded in rows}
        for name in self.config.extensions:
            state = known.get(name)
            if state is None:
                raise WarehouseConnectionError(
                    f"unknown DuckDB extension '{name}' in the profile setting `extensions`",
                    hint=suggestion(name, known) or "Check the extension's name.",
                )
            installed, loaded = state
            if loaded:
                continue
            if not installed:
                raise WarehouseConnectionError(
                    f"DuckDB extension '{name}' is not installed",
                    hint=f"Run INSTALL {name} once (e.g. `duckdb -c 'INSTALL {name}'`) "
                    "or remove it from the profile setting `extensions`.",
                )
            try:
                con.execute(f"LOAD {self.quote(name)}")
            except duckdb.Error as err:
                raise WarehouseConnectionError(
                    f"cannot load DuckDB extension '{name}': {scrub(str(err))}",
                    hint="Reinstall it with FORCE INSTALL or remove it from `extensions`.",
                ) from err

    # ---------------------------------------------------------------- cursors and errors

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The adapter's own connection (opened on first use)."""
        if self._con is None:
            self.open()
        assert self._con is not None
        return self._con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, created on first use and kept until :meth:`close`."""
        cur = self._local.cursor
        if cur is None:
            con = self.connection
            with self._lock:
                cur = con.cursor()
                self._cursors.append(cur)
            self._local.cursor = cur
        return cur

    def _run(self, sql: str, params: Sequence[object] | None = None) -> duckdb.DuckDBPyConnection:
        """Execute one statement on this thread's cursor; DuckDB errors become WarehouseError.

        env_var() placeholders in ``sql`` are bound as parameters (never pasted as text).
        """
        if log.isEnabledFor(logging.DEBUG):
            log.debug("duckdb: %s", _LITERAL_PATTERN.sub("'…'", sql))
        bound, values = bind_placeholders(sql, self.dialect, params)
        cur = self.cursor()
        try:
            return cur.execute(bound, values) if values is not None else cur.execute(bound)
        except duckdb.Error as err:
            raise self._statement_error(err, sql) from err

    def _statement_error(self, err: duckdb.Error, sql: str) -> WarehouseError:
        """A WarehouseError for a failed statement (transaction conflicts are transient)."""
        message = scrub(str(err))
        if isinstance(err, duckdb.InterruptException):
            message = "interrupted: " + message
        return WarehouseError(
            message,
            sql=scrub(sql),
            transient=isinstance(err, duckdb.TransactionException)
            and "onflict" in message,  # write-write conflicts succeed when retried
        )

    @staticmethod
    def _count(cur: duckdb.DuckDBPyConnection) -> int | None:
        """The ``Count`` DuckDB returns for DML and CTAS, else None."""
        description = cur.description
        if description and len(description) == 1 and description[0][0] == "Count":
            row = cur.fetchone()
            return int(row[0]) if row else None
        return None

    # ---------------------------------------------------------------- raw SQL

    def execute(self, sql: str) -> int | None:
        """Run one statement on this thread's cursor; rows affected for DML and CTAS."""
        return self._count(self._run(sql))

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        cur = self._run(sql)
        try:
            return cur.fetchall() if cur.description else []
        except duckdb.Error as err:
            raise self._statement_error(err, sql) from err

    def fetch_table(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query; its column names and rows (Python values, as dbt-duckdb fetches them)."""
        cur = self._run(sql)
        try:
            if not cur.description:
                return [], []
            return [str(d[0]) for d in cur.description], cur.fetchall()
        except duckdb.Error as err:
            raise self._statement_error(err, sql) from err

    def current_database(self) -> str | None:
        """The attached database relations are created in (the file's stem, as dbt-duckdb)."""
        rows = self._run("SELECT current_database()").fetchall()
        return str(rows[0][0]) if rows else None

    def fetch_arrow(self, sql: str) -> pa.Table:
        """Run a query and return an Arrow table (DuckDB's relation API: no extra copy)."""
        import pyarrow as pa  # heavy optional dependency, imported late

        if log.isEnabledFor(logging.DEBUG):
            log.debug("duckdb: %s", _LITERAL_PATTERN.sub("'…'", sql))
        bound, values = bind_placeholders(sql, self.dialect)
        try:
            rel = self.cursor().sql(bound, params=values) if values else self.cursor().sql(bound)
            if rel is None:  # a statement, not a query: executed, returns nothing
                return pa.table({})
            to_table = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
            return to_table()
        except duckdb.Error as err:
            raise self._statement_error(err, sql) from err

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN/COMMIT on this thread's cursor, ROLLBACK on error; nested blocks join the outer.

        An inner block is a no-op: its statements commit or roll back with the outermost block
        (an exception caught inside the outer block does not undo the inner block's work).
        """
        with self.nested_transaction(
            self._local,
            lambda: self._run("BEGIN TRANSACTION"),
            lambda: self._run("COMMIT"),
            self._rollback,
        ):
            yield

    def _rollback(self) -> None:
        """ROLLBACK, ignoring 'no transaction is active' (an interrupt may have ended it)."""
        try:
            self.cursor().execute("ROLLBACK")
        except duckdb.Error as err:
            log.debug("rollback: %s", err)

    # ---------------------------------------------------------------- catalog

    def ensure_schema(self, database: str | None, schema: str) -> None:
        """``CREATE SCHEMA IF NOT EXISTS``, once per schema, serialized across threads."""
        key = (database, schema)
        if key in self._schemas:
            return
        sql = f"CREATE SCHEMA IF NOT EXISTS {self._schema_sql(database, schema)}"
        con = self.connection
        with self._lock:
            if key in self._schemas:
                return
            try:  # on the adapter's own connection: autocommitted whatever this thread is doing
                con.execute(sql)
            except duckdb.Error as err:
                raise self._statement_error(err, sql) from err
            self._schemas.add(key)

    def _schema_sql(self, database: str | None, schema: str) -> str:
        """``"db"."schema"`` quoted."""
        parts = [database, schema] if database else [schema]
        return ".".join(self.quote(p) for p in parts)

    def relation_type(self, relation: Relation) -> str | None:
        """'table', 'view' or None, case-insensitively like DuckDB's name resolution."""
        rows = self._run(
            "SELECT table_type FROM information_schema.tables"
            " WHERE table_catalog = COALESCE(?, current_database())"
            " AND lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
            [relation.database, relation.schema, relation.name],
        ).fetchall()
        if not rows:
            return None
        return "view" if rows[0][0] == "VIEW" else "table"

    def relation_exists(self, relation: Relation) -> bool:
        """Whether a table or view of that name exists."""
        return self.relation_type(relation) is not None

    def columns(self, relation: Relation) -> list[Column]:
        """The relation's columns in order, with DuckDB's type names."""
        rows = self._run(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_catalog = COALESCE(?, current_database())"
            " AND lower(table_schema) = lower(?) AND lower(table_name) = lower(?)"
            " ORDER BY ordinal_position",
            [relation.database, relation.schema, relation.name],
        ).fetchall()
        return [Column(str(name), str(data_type)) for name, data_type in rows]

    def content_fingerprint(
        self, relation: Relation, where_sql: str | None = None
    ) -> tuple[int, dict[str, str], str]:
        """The base fingerprint (same values) in one query and no catalog lookup.

        ``COLUMNS(*)`` hashes every column the table has; the names come back in the cursor's
        description, so the fixed cost of a data version is this one scan (issue 19: a short
        aggregating build paid +39 % for a column-list query plus the aggregate). Two query
        levels, not three, and the HUGEINT sums fetched as Python ints (``str()`` of one is
        DuckDB's ``CAST(... AS VARCHAR)``): DuckDB binds and plans it in ~25 % less time, which
        is most of a 10,000-row table's fingerprint (issue 21 item 7).
        """
        where = f" WHERE {where_sql}" if where_sql else ""
        sql = (
            "SELECT COUNT(*), SUM(COLUMNS(*)), SUM(HASH(*COLUMNS(*)))"
            f" FROM (SELECT HASH(COLUMNS(*)) FROM {self.render(relation)}{where})"
        )
        try:
            cur = self._run(sql)
            names = [str(d[0]) for d in cur.description or ()][1:-1]
            rows = cur.fetchall()  # all of it: DuckDB refuses new work on an unfinished result
            row = rows[0] if rows else None
        except (duckdb.Error, WarehouseError):
            row = None
        if row is None or len(row) != len(names) + 2:
            return super().content_fingerprint(relation, where_sql)  # the general query
        hashes = [str(v) for v in row[1:]]
        return int(row[0]), dict(zip(names, hashes[:-1], strict=True)), hashes[-1]

    def schema_columns(self, database: str | None, schema: str) -> dict[str, list[Column]]:
        """Every relation of a schema -> its columns in order: one information_schema query."""
        rows = self._run(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_catalog = COALESCE(?, current_database())"
            " AND lower(table_schema) = lower(?) ORDER BY table_name, ordinal_position",
            [database, schema],
        ).fetchall()
        out: dict[str, list[Column]] = {}
        for table, name, data_type in rows:
            out.setdefault(str(table), []).append(Column(str(name), str(data_type)))
        return out

    def list_relations(self, database: str | None, schema: str) -> list[Relation]:
        """Every table and view in a schema, sorted by name."""
        rows = self._run(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_catalog = COALESCE(?, current_database())"
            " AND lower(table_schema) = lower(?) ORDER BY table_name",
            [database, schema],
        ).fetchall()
        return [Relation(database, schema, str(name)) for (name,) in rows]

    # ---------------------------------------------------------------- materializations

    def _temp_relation(self, relation: Relation) -> Relation:
        """A fresh temporary name in the same schema: ``TEMP_PREFIX`` + name + random suffix."""
        return relation.with_name(f"{TEMP_PREFIX}{relation.name}_{uuid.uuid4().hex[:8]}")

    def _drop_quietly(self, relation: Relation) -> None:
        """Drop a table if it exists, logging instead of raising (cleanup after a failure)."""
        try:
            self.cursor().execute(f"DROP TABLE IF EXISTS {self.render(relation)}")
        except duckdb.Error as err:
            log.warning("could not drop temporary table %s: %s", relation, err)

    def _swap_in(self, temp: Relation, relation: Relation) -> None:
        """In one transaction: drop ``relation`` (table or view), rename ``temp`` to it.

        The common case (a table or nothing there) needs no catalog lookup, which costs a scan of
        every relation in DuckDB; only a view of that name takes the slower path.
        """
        if self._local.depth == 0:
            try:
                with self.transaction():
                    self._run(f"DROP TABLE IF EXISTS {self.render(relation)}")
                    self._run(
                        f"ALTER TABLE {self.render(temp)} RENAME TO {self.quote(relation.name)}"
                    )
                return
            except WarehouseError as err:
                if "is of type View" not in err.message:
                    raise
        with self.transaction():
            kind = self.relation_type(relation)
            if kind is not None:
                keyword = "VIEW" if kind == "view" else "TABLE"
                self._run(f"DROP {keyword} {self.render(relation)}")
            self._run(f"ALTER TABLE {self.render(temp)} RENAME TO {self.quote(relation.name)}")

    def create_view(self, relation: Relation, select_sql: str) -> None:
        """``CREATE OR REPLACE VIEW``; a table of that name is dropped first, atomically.

        DuckDB binds a view's names when it is created, but a bad cast fails only when the view
        is read: so the new view reads one row in the same transaction, and a view that cannot
        be read fails its own step (the previous view stays) instead of every model below it.
        One row stops a streaming query early; a view over a blocking operator (an aggregate,
        a sort) computes it once here.
        """
        if self._local.depth == 0:
            try:
                with self.transaction():
                    self._run(f"CREATE OR REPLACE VIEW {self.render(relation)} AS {select_sql}")
                    self._read_view(relation)
                return
            except WarehouseError as err:
                if "is of type Table" not in err.message:
                    raise
        with self.transaction():
            super().create_view(relation, select_sql)
            self._read_view(relation)

    def _read_view(self, relation: Relation) -> None:
        """Read one row of a view just created; a failure names the view and what to fix."""
        probe = f"SELECT * FROM {self.render(relation)} LIMIT 1"
        try:
            self.fetch_rows(probe)
        except WarehouseError as err:
            raise WarehouseError(
                f"the view {relation} fails when read: {err.message}",
                sql=probe,
                hint="Fix the model's SQL (DuckDB checks casts only when a view is read); the"
                " previous version of the view, if any, is kept",
            ) from err

    def _replace_from(self, relation: Relation, select_sql: str) -> int | None:
        """Build ``select_sql`` under a temporary name and swap it in; clean up on failure."""
        temp = self._temp_relation(relation)
        if self._local.depth == 0:
            # One statement, autocommitted: DuckDB's CREATE OR REPLACE TABLE is atomic on its
            # own (a failure or a kill keeps the old table, leaves nothing behind) and skips
            # the temporary table, the drop and the rename (~10% of a 1,000-model build).
            # Wrapping it in BEGIN/COMMIT bought nothing and cost ~7% of a build's DuckDB CPU
            # (issue 21 item 7). Only a view of that name needs the path below.
            try:
                return self.execute(
                    f"CREATE OR REPLACE TABLE {self.render(relation)} AS {select_sql}"
                )
            except WarehouseError as err:
                if "is of type View" not in err.message:
                    raise
        try:
            count = self.execute(f"CREATE TABLE {self.render(temp)} AS {select_sql}")
            self._swap_in(temp, relation)
        except BaseException:
            if self._local.depth > 0:  # an outer transaction owns cleanup: it will roll back
                raise
            self._drop_quietly(temp)
            raise
        return count

    def create_table_as(self, relation: Relation, select_sql: str) -> int | None:
        """``CREATE TABLE relation AS select`` (the relation must not exist). Returns row count."""
        return self.execute(f"CREATE TABLE {self.render(relation)} AS {select_sql}")

    def replace_table_atomically(self, relation: Relation, select_sql: str) -> int | None:
        """Build under ``TEMP_PREFIX``+name, then drop the old relation and rename, atomically."""
        return self._replace_from(relation, select_sql)

    def publish_staged(self, staged: Relation, relation: Relation) -> None:
        """Drop ``relation`` and rename ``staged`` to it, in one transaction."""
        self._swap_in(staged, relation)

    def delete_insert(self, relation: Relation, select_sql: str, where_sql: str) -> int | None:
        """In one transaction: ``DELETE ... WHERE where_sql``, then ``INSERT ... select``."""
        target = self.render(relation)
        with self.transaction():
            self._run(f"DELETE FROM {target} WHERE {where_sql}")
            return self.execute(f"INSERT INTO {target} {select_sql}")

    def merge(self, relation: Relation, select_sql: str, unique_key: Sequence[str]) -> int | None:
        """Upsert on ``unique_key`` (NULL-safe: NULL keys match NULL keys). Rows inserted/updated.

        Columns are matched by name; target columns the query lacks keep their value on update.
        """
        if not unique_key:
            raise WarehouseError(f"merge into {relation} needs a unique_key")
        source_cols = self._query_columns(select_sql)
        target = self.render(relation)
        src, tgt = self.quote("__orch_src"), self.quote("__orch_tgt")
        keys_stored = [self.normalize_name(k) for k in unique_key]  # '"Id"' -> Id (orch.names)
        on = " AND ".join(
            f"{tgt}.{self.quote(k)} IS NOT DISTINCT FROM {src}.{self.quote(k)}" for k in keys_stored
        )
        keys = {k.lower() for k in keys_stored}
        updates = [c for c in source_cols if c.lower() not in keys]
        insert_cols = ", ".join(self.quote(c) for c in source_cols)
        insert_vals = ", ".join(f"{src}.{self.quote(c)}" for c in source_cols)
        if self.NATIVE_MERGE:
            sql = f"MERGE INTO {target} AS {tgt} USING ({select_sql}) AS {src} ON {on}"
            if updates:
                assignments = ", ".join(f"{self.quote(c)} = {src}.{self.quote(c)}" for c in updates)
                sql += f" WHEN MATCHED THEN UPDATE SET {assignments}"
            sql += f" WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
            with self.transaction():
                return self.execute(sql)
        staged = self.quote(f"{TEMP_PREFIX}merge_{uuid.uuid4().hex[:8]}")
        with self.transaction():
            self._run(f"CREATE TEMP TABLE {staged} AS {select_sql}")
            self._run(
                f"DELETE FROM {target} AS {tgt} WHERE EXISTS "
                f"(SELECT 1 FROM {staged} AS {src} WHERE {on})"
            )
            count = self.execute(
                f"INSERT INTO {target} ({insert_cols}) SELECT {insert_vals} FROM {staged} AS {src}"
            )
            self._run(f"DROP TABLE {staged}")
            return count

    def _query_columns(self, select_sql: str) -> list[str]:
        """The output column names of a query, without running it."""
        return [c.name for c in self.query_columns(select_sql)]

    def query_columns(self, select_sql: str) -> list[Column]:
        """A query's output columns with DuckDB's type names (``DESCRIBE``: nothing is read)."""
        rows = self._run(
            f"DESCRIBE SELECT * FROM ({select_sql}) AS {self.quote('__orch_q')}"
        ).fetchall()
        return [Column(str(row[0]), str(row[1])) for row in rows]

    def python_session(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor: what dbt-duckdb passes a Python model as ``session``."""
        return self.cursor()

    SUPPORTS_FILE_SCANS: ClassVar[bool] = True

    def copy_csv(
        self, relation: Relation, path: str, columns: Sequence[Column], delimiter: str = ","
    ) -> int | None:
        """``CREATE TABLE`` + ``COPY ... FROM`` (dbt-duckdb's seed load: DuckDB sniffs the quote
        character, and a quoted empty value is NULL), in one transaction."""
        from sqlglot import exp

        table = self.render(relation)
        definition = ", ".join(f"{self.quote(c.name)} {c.data_type}" for c in columns)
        source = exp.Literal.string(path).sql(dialect="duckdb")
        separator = exp.Literal.string(delimiter).sql(dialect="duckdb")
        with self.transaction():
            self._run(f"CREATE TABLE {table} ({definition})")
            self._run(
                f"COPY {table} FROM {source} (FORMAT CSV, HEADER TRUE, DELIMITER {separator})"
            )
        return self.row_count(relation)

    def export_query(
        self, select_sql: str, path: str, file_format: str, partition_by: Sequence[str] = ()
    ) -> int | None:
        """``COPY (query) TO 'path' (FORMAT ..., PARTITION_BY (...))``: DuckDB writes the files."""
        options = [f"FORMAT {'CSV, HEADER true' if file_format == 'csv' else 'PARQUET'}"]
        if partition_by:
            options.append(f"PARTITION_BY ({', '.join(self.quote(c) for c in partition_by)})")
        target = "'" + path.replace("'", "''") + "'"
        rows = self._run(f"COPY ({select_sql}) TO {target} ({', '.join(options)})")
        found = rows.fetchall()
        return int(found[0][0]) if found and found[0] and found[0][0] is not None else None

    def register_filesystem(self, filesystem: Any) -> None:
        """DuckDB reads and writes the filesystem's URLs through fsspec (once per protocol)."""
        protocol = filesystem.protocol
        protocols = tuple(protocol) if isinstance(protocol, (tuple, list)) else (protocol,)
        con = self.connection
        with self._lock:
            if self._filesystems.intersection(protocols):
                return
            try:
                con.register_filesystem(filesystem)
            except duckdb.Error as err:
                raise WarehouseError(
                    f"DuckDB cannot use the {protocols[0]}:// filesystem: {err}"
                ) from err
            self._filesystems.update(protocols)

    def write_arrow(self, table: pa.Table, relation: Relation, mode: WriteMode) -> int:
        """Write an Arrow table without copying it (DuckDB scans it in place).

        REPLACE swaps atomically like :meth:`replace_table_atomically`; APPEND inserts by column
        name and creates the table when absent; CREATE fails when the relation exists.
        """
        name = f"{ARROW_VIEW_PREFIX}{uuid.uuid4().hex[:12]}"
        source = f"SELECT * FROM {self.quote(name)}"
        cur = self.cursor()
        try:
            cur.register(name, table)
        except duckdb.Error as err:
            raise self._statement_error(
                err, f"-- register {type(table).__name__} as {name}"
            ) from err
        try:
            if mode is WriteMode.REPLACE:
                self._replace_from(relation, source)
            elif mode is WriteMode.APPEND and self.relation_exists(relation):
                self._run(f"INSERT INTO {self.render(relation)} BY NAME {source}")
            else:
                self._run(f"CREATE TABLE {self.render(relation)} AS {source}")
        finally:
            try:
                cur.unregister(name)
            except duckdb.Error as err:
                log.debug("unregister %s: %s", name, err)
        return int(table.num_rows)

    # ---------------------------------------------------------------- names and SQL

    def raise_unless(self, condition_sql: str, message: str) -> str | None:
        """``CASE WHEN condition THEN TRUE ELSE error(message) END`` (DuckDB's ``error()``)."""
        from sqlglot import exp  # late, like the driver: not needed to read the class

        literal = exp.Literal.string(message).sql(dialect=self.dialect)
        return f"CASE WHEN {condition_sql} THEN TRUE ELSE error({literal}) END"

    def error_line(self, message: str) -> int | None:
        """The line of DuckDB's ``LINE 3:`` marker in an error message."""
        match = _LINE_PATTERN.search(message)
        return int(match.group(1)) if match else super().error_line(message)
