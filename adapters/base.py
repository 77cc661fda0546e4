"""The adapter interface: the only way orch's core speaks to a warehouse.

An adapter owns its connections (one per worker thread, never one per model), turns driver errors
into :class:`orch.errors.WarehouseError` / :class:`WarehouseConnectionError`, and builds its SQL as
sqlglot expressions in its own dialect. SQL given to it by the core is already compiled for that
dialect. It imports only orch layers 0-1 (errors, names, config, redaction).

SQL given to an adapter may hold ``env_var()`` placeholders (``'__orch_env_var__NAME__'`` string
literals): where the adapter runs a statement it binds each as a parameter with
:func:`orch.redaction.bind_placeholders`, so a secret never becomes SQL text.
"""

from __future__ import annotations

import builtins
import enum
import logging
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from orch.config import GenericTargetConfig, TargetConfig
from orch.names import Relation, normalize_name

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

log = logging.getLogger(__name__)

TEMP_PREFIX = "__orch_tmp_"
STAGING_PREFIX = "__orch_stage_"
BACKUP_PREFIX = "__orch_old_"
# Staged data a blocking check rejected: kept for inspection, never cleaned up automatically.
QUARANTINE_PREFIX = "__orch_quarantine_"


@dataclass(frozen=True)
class Column:
    """A column of a relation as the warehouse reports it."""

    name: str
    data_type: str


class WriteMode(enum.Enum):
    """How :meth:`Adapter.write_arrow` treats an existing relation."""

    REPLACE = "replace"  # atomically replace the whole table
    APPEND = "append"  # insert the rows, matching columns by name; create the table when absent
    CREATE = "create"  # create; the relation must not exist


class Adapter(ABC):
    """One warehouse connection pool and the operations orch needs from it.

    Where warehouses differ (atomic replace by rename or SWAP, native MERGE or delete+insert,
    which DDL is transactional) the adapter's own methods hide it; a class flag exists only where
    the core chooses between strategies (``PREFERS_FOLDED_CHECKS``, ``CHECK_BATCH``).
    """

    type: ClassVar[str]
    dialect: ClassVar[str]  # sqlglot dialect name
    # The class that validates this adapter's targets in profiles.yml (the loader asks the
    # registry for it). builtins.type: the class attribute ``type`` above shadows the builtin.
    target_config_class: ClassVar[builtins.type[TargetConfig]] = GenericTargetConfig

    # Fold row-level checks of one table into one scan (SELECT COUNT_IF(p1), COUNT_IF(p2) ...):
    # a win where every query scans the table remotely; see bench/RESULTS.md (checks).
    PREFERS_FOLDED_CHECKS: ClassVar[bool] = True
    # Checks' failing-row counts per statement (``SELECT 0, COUNT(*) FROM (q0) UNION ALL ...``):
    # above 1, independent checks share one statement's round trip and planning.
    CHECK_BATCH: ClassVar[int] = 1

    def __init__(self, config: TargetConfig, project_dir: Path) -> None:
        self.config = config
        self.project_dir = project_dir

    # ---------------------------------------------------------------- lifecycle

    @abstractmethod
    def open(self) -> None:
        """Connect. Raises WarehouseConnectionError with a message naming the setting at fault."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection this adapter opened."""

    @abstractmethod
    def interrupt(self) -> None:
        """Cancel statements running on any thread (Ctrl-C); their transactions roll back."""

    def __enter__(self) -> Adapter:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- raw SQL

    @abstractmethod
    def execute(self, sql: str) -> int | None:
        """Run one statement on this thread's connection; rows affected when the driver knows."""

    @abstractmethod
    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples (small results: checks, metadata)."""

    @abstractmethod
    def fetch_arrow(self, sql: str) -> pa.Table:
        """Run a query and return the result as an Arrow table."""

    def fetch_table(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query; its column names and rows (dbt's ``run_query`` / ``statement`` results).

        The default goes through :meth:`fetch_arrow`; an adapter may read its cursor instead.
        """
        table = self.fetch_arrow(sql)
        names = list(table.column_names)
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return names, [tuple(c[r] for c in columns) for r in range(table.num_rows)]

    def current_database(self) -> str | None:
        """The database relations without one live in (dbt renders relations with it)."""
        return getattr(self.config, "database", None)

    @contextmanager
    @abstractmethod
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT on this thread's connection; ROLLBACK when the block raises."""
        yield

    @contextmanager
    def nested_transaction(
        self,
        state: Any,
        begin: Callable[[], object],
        commit: Callable[[], object],
        rollback: Callable[[], object],
    ) -> Iterator[None]:
        """Transaction bookkeeping shared by adapters; ``state.depth`` is per thread.

        An inner block joins the outer one (its statements commit or roll back with the
        outermost block). The depth stays 1 while COMMIT runs, so an adapter can tell that a
        failed COMMIT must not be re-sent; a failed COMMIT rolls back.
        """
        if state.depth > 0:
            state.depth += 1
            try:
                yield
            finally:
                state.depth -= 1
            return
        begin()
        state.depth = 1
        try:
            yield
        except BaseException:
            state.depth = 0
            rollback()
            raise
        try:
            commit()
        except BaseException:
            state.depth = 0
            rollback()
            raise
        state.depth = 0

    # ---------------------------------------------------------------- catalog

    @abstractmethod
    def ensure_schema(self, database: str | None, schema: str) -> None:
        """Create the schema if it does not exist (idempotent, safe from several threads)."""

    @abstractmethod
    def relation_exists(self, relation: Relation) -> bool:
        """Whether a table or view of that name exists."""

    @abstractmethod
    def relation_type(self, relation: Relation) -> str | None:
        """'table', 'view' or None when absent."""

    @abstractmethod
    def columns(self, relation: Relation) -> list[Column]:
        """The relation's columns in order, with the warehouse's type names."""

    @abstractmethod
    def query_columns(self, select_sql: str) -> list[Column]:
        """A query's output columns in order, with the warehouse's type names, unread."""

    @abstractmethod
    def list_relations(self, database: str | None, schema: str) -> list[Relation]:
        """Every table and view in a schema (used to clean up temporary relations)."""

    def schema_columns(self, database: str | None, schema: str) -> dict[str, list[Column]]:
        """Every relation of a schema -> its columns in order (the docs' catalog, like dbt's).

        One call per schema, so the docs ask once for hundreds of models; adapters override it
        with one query. Names are as the warehouse stores them.
        """
        return {r.name: self.columns(r) for r in self.list_relations(database, schema)}

    def drop_relation(self, relation: Relation) -> None:
        """Drop a table or view if it exists."""
        kind = self.relation_type(relation)
        if kind is not None:
            self.execute(
                f"DROP {'VIEW' if kind == 'view' else 'TABLE'} IF EXISTS {self.render(relation)}"
            )

    def add_column(self, relation: Relation, column: Column) -> None:
        """``ALTER TABLE ... ADD COLUMN`` (dbt's ``alter_relation_add_remove_columns``)."""
        self.execute(
            f"ALTER TABLE {self.render(relation)} ADD COLUMN "
            f"{self.quote(column.name)} {column.data_type}"
        )

    def drop_column(self, relation: Relation, name: str) -> None:
        """``ALTER TABLE ... DROP COLUMN``."""
        self.execute(f"ALTER TABLE {self.render(relation)} DROP COLUMN {self.quote(name)}")

    def alter_column_type(self, relation: Relation, column: Column) -> None:
        """Give a column a new type the way dbt's ``default__alter_column_type`` does.

        A new column takes the cast values, the old one is dropped and the new one renamed: the
        column ends up last, as in dbt.
        """
        table, name = self.render(relation), self.quote(column.name)
        temporary = self.quote(f"{column.name}__dbt_alter")
        self.execute(f"ALTER TABLE {table} ADD COLUMN {temporary} {column.data_type}")
        self.execute(f"UPDATE {table} SET {temporary} = {name}")
        self.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        self.execute(f"ALTER TABLE {table} RENAME COLUMN {temporary} TO {name}")

    # ---------------------------------------------------------------- materializations

    def create_view(self, relation: Relation, select_sql: str) -> None:
        """``CREATE OR REPLACE VIEW`` (replacing a table of that name if there is one)."""
        with self.transaction():
            if self.relation_type(relation) == "table":
                self.execute(f"DROP TABLE {self.render(relation)}")
            self.execute(f"CREATE OR REPLACE VIEW {self.render(relation)} AS {select_sql}")

    def create_table_as(self, relation: Relation, select_sql: str) -> int | None:
        """``CREATE TABLE relation AS select`` (the relation must not exist). Returns row count."""
        self.execute(f"CREATE TABLE {self.render(relation)} AS {select_sql}")
        return self.row_count(relation)

    @abstractmethod
    def replace_table_atomically(self, relation: Relation, select_sql: str) -> int | None:
        """Build ``select_sql`` under a temporary name, then swap it in within one transaction.

        A failure leaves the previous table intact; readers never see a half-built table.
        Returns the new row count.
        """

    def publish_staged(self, staged: Relation, relation: Relation) -> None:
        """Atomically replace ``relation`` by the table ``staged``, which ceases to exist.

        Write-audit-publish: readers see the old table or the new one, never a mix. This default
        copies; adapters override it with a rename or a swap (DuckDB: rename, Snowflake: SWAP).
        """
        self.replace_table_atomically(relation, f"SELECT * FROM {self.render(staged)}")
        self.drop_relation(staged)

    def insert_into(
        self, relation: Relation, select_sql: str, columns: Sequence[str] | None = None
    ) -> int | None:
        """``INSERT INTO relation [(cols)] select``; rows inserted."""
        cols = f" ({', '.join(self.quote(c) for c in columns)})" if columns else ""
        return self.execute(f"INSERT INTO {self.render(relation)}{cols} {select_sql}")

    @abstractmethod
    def delete_insert(self, relation: Relation, select_sql: str, where_sql: str) -> int | None:
        """In one transaction: delete rows matching ``where_sql``, insert ``select_sql``.

        Returns the rows inserted.
        """

    def delete_insert_on_key(
        self,
        relation: Relation,
        select_sql: str,
        unique_key: Sequence[str],
        columns: Sequence[str],
    ) -> int | None:
        """dbt's ``delete+insert``, in one transaction: the new rows are staged, the table's rows
        whose key they hold are deleted (a NULL key matches nothing, as in dbt's ``IN``), and the
        new rows inserted into ``columns``. Rows inserted.

        Staged first, as dbt does: a query that reads the table itself (``max(updated_at)`` of
        ``{{ this }}``) must see it before the delete.
        """
        staged = relation.with_name(f"{TEMP_PREFIX}delete_insert_{uuid.uuid4().hex[:8]}")
        with self.transaction():
            self.create_table_as(staged, select_sql)
            count = self._delete_insert_from(relation, staged, unique_key, columns)
            self.execute(f"DROP TABLE {self.render(staged)}")
            return count

    def _delete_insert_from(
        self,
        relation: Relation,
        staged: Relation,
        unique_key: Sequence[str],
        columns: Sequence[str],
    ) -> int | None:
        target, source = self.render(relation), self.render(staged)
        keys = ", ".join(self.quote(self.normalize_name(k)) for k in unique_key)
        cols = ", ".join(self.quote(c) for c in columns)
        self.execute(f"DELETE FROM {target} WHERE ({keys}) IN (SELECT {keys} FROM {source})")
        return self.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {source}")

    # DDL (ALTER TABLE, CREATE TABLE) inside BEGIN ... COMMIT rolls back with it (DuckDB: yes;
    # Snowflake commits the open transaction instead)
    TRANSACTIONAL_DDL: ClassVar[bool] = True

    @abstractmethod
    def merge(self, relation: Relation, select_sql: str, unique_key: Sequence[str]) -> int | None:
        """Upsert ``select_sql`` into ``relation`` on ``unique_key``, in one transaction.

        Keys match NULL-safely (a NULL key matches a NULL key); columns match by name.
        """

    @abstractmethod
    def write_arrow(self, table: pa.Table, relation: Relation, mode: WriteMode) -> int:
        """Write an Arrow table in bulk (never row by row). Returns rows written."""

    def read_arrow(self, relation: Relation, where_sql: str | None = None) -> pa.Table:
        """Read a relation (optionally filtered) as Arrow."""
        where = f" WHERE {where_sql}" if where_sql else ""
        return self.fetch_arrow(f"SELECT * FROM {self.render(relation)}{where}")

    def row_count(self, relation: Relation) -> int:
        """``count(*)`` of a relation."""
        return int(self.fetch_rows(f"SELECT COUNT(*) FROM {self.render(relation)}")[0][0])

    def content_fingerprint_sql(
        self, relation: Relation, columns: Sequence[str], where_sql: str | None = None
    ) -> str:
        """One query returning ``count(*)``, an order-independent hash aggregate per column and
        one of whole rows: what :meth:`content_fingerprint` reads (one scan of the relation).

        DuckDB's flavour: each value hashed once (``hash()``), summed per column as a HUGEINT
        (so duplicate values never cancel out), and the row hash made from the column hashes.
        """
        where = f" WHERE {where_sql}" if where_sql else ""
        if not columns:
            return f"SELECT COUNT(*), '0' FROM {self.render(relation)}{where}"
        names = [f"h{i}" for i in range(len(columns))]
        hashed = ", ".join(
            f"HASH({self.quote(c)}) AS {n}" for c, n in zip(columns, names, strict=True)
        )
        parts = ["COUNT(*)", *(f"CAST(SUM({n}) AS VARCHAR)" for n in names)]
        parts.append(f"CAST(SUM(HASH({', '.join(names)})) AS VARCHAR)")
        return (
            f"SELECT {', '.join(parts)} FROM (SELECT {hashed} FROM {self.render(relation)}{where})"
            " AS __orch_fingerprint"
        )

    def content_fingerprint(
        self, relation: Relation, where_sql: str | None = None
    ) -> tuple[int, dict[str, str], str]:
        """``(rows, {column: hash}, hash of whole rows)`` of a table, computed in the warehouse."""
        names = [c.name for c in self.columns(relation)]
        row = self.fetch_rows(self.content_fingerprint_sql(relation, names, where_sql))[0]
        hashes = [str(v) for v in row[1:]]
        return int(row[0]), dict(zip(names, hashes[:-1], strict=True)), hashes[-1]

    # ---------------------------------------------------------------- names and SQL

    def quote(self, identifier: str) -> str:
        """``identifier`` quoted for this dialect."""
        from sqlglot import exp  # late: reading the class (profile validation) needs no sqlglot

        return exp.to_identifier(identifier, quoted=True).sql(dialect=self.dialect)

    def render(self, relation: Relation) -> str:
        """``relation`` as quoted SQL for this dialect."""
        return self.table_expression(relation).sql(dialect=self.dialect)

    def table_expression(self, relation: Relation) -> exp.Table:
        """``relation`` as a sqlglot Table with quoted identifiers."""
        from sqlglot import exp  # late: reading the class (profile validation) needs no sqlglot

        return exp.Table(
            this=exp.to_identifier(relation.name, quoted=True),
            db=exp.to_identifier(relation.schema, quoted=True) if relation.schema else None,
            catalog=exp.to_identifier(relation.database, quoted=True)
            if relation.database
            else None,
        )

    def normalize_name(self, name: str) -> str:
        """How the warehouse stores a name orch generates (Snowflake: upper case).

        The dialect's rule, from :func:`orch.names.normalize_name` (the one place it lives).
        """
        return normalize_name(name, self.dialect)

    def column_name(self, name: str) -> str:
        """How :meth:`write_arrow` names the column of an Arrow field (Snowflake: upper case)."""
        return name

    def type_matches(self, declared: str, actual: str) -> bool | None:
        """Whether a reported column type satisfies a declared one; None: no opinion.

        The contract check asks this first; None leaves the decision to the generic
        comparison of sqlglot-normalized types.
        """
        return None

    # Whether the warehouse reads and writes Parquet/CSV files itself (read_parquet, COPY TO):
    # SQL models reading Parquet-stored assets and ``materialized='external'`` need it.
    SUPPORTS_FILE_SCANS: ClassVar[bool] = False

    def copy_csv(
        self, relation: Relation, path: str, columns: Sequence[Column], delimiter: str = ","
    ) -> int | None:
        """Create ``relation`` with ``columns`` (in file order) and load the CSV file at
        ``path`` into it with the warehouse's own CSV reader — how dbt-duckdb loads a seed, so
        quoting and empty values read as dbt reads them. Returns the rows loaded."""
        raise NotImplementedError(f"the {self.type} adapter cannot read CSV files itself")

    def export_query(
        self, select_sql: str, path: str, file_format: str, partition_by: Sequence[str] = ()
    ) -> int | None:
        """Write a query's rows as files at ``path`` (a file, or a folder of hive-style
        partitions with ``partition_by``). Returns rows written when the warehouse says."""
        raise NotImplementedError(f"the {self.type} adapter cannot write files")

    def register_filesystem(self, filesystem: Any) -> None:
        """Let the warehouse's own file reads and writes (``read_parquet``, ``COPY TO``) reach
        an fsspec filesystem (``s3://``, ``memory://``...), for this connection."""
        raise NotImplementedError(f"the {self.type} adapter cannot use fsspec filesystems")

    def python_session(self) -> Any:
        """The ``session`` a dbt Python model receives (dbt-duckdb: this thread's DuckDB
        connection). Adapters whose dbt plugin runs Python models elsewhere do not offer one."""
        raise NotImplementedError(f"the {self.type} adapter cannot run dbt Python models")

    def raise_unless(self, condition_sql: str, message: str) -> str | None:
        """A boolean SQL expression: TRUE where ``condition_sql`` holds, else the query fails with
        ``message``. None when the warehouse cannot raise inside a query (the caller checks with
        a second query instead)."""
        return None

    def error_line(self, message: str) -> int | None:
        """The 1-based line of the SQL a driver error message points at, when it says."""
        match = re.search(r"\bline (\d+)", message, re.IGNORECASE)
        return int(match.group(1)) if match else None
