"""Materializations: how one step's asset is written, through the Adapter only.

This is the one write path of a step, for SQL models and Python assets alike:

- ``view``: create or replace the view.
- ``table``: build under a temporary name and swap in atomically (the adapter's job), so a failed
  build leaves the previous table intact.
- ``incremental``: the first build (or ``--full-refresh``) is a table build; later builds run the
  incremental variant of the SQL (``is_incremental()`` true) and append or merge on ``unique_key``.
- ``ephemeral``: never built, inlined as a CTE by the compiler.
- partitioned models (``partitioned_by``): one partition per step, in one transaction: delete the
  rows of the partition's window (or key), insert the query's rows (its placeholders bound to the
  partition's literals). Rows outside the window fail the step (rolled back) or, with
  ``out_of_window: drop``, are left out with a warning. See :func:`materialize_partition`.
- Python assets: the function's Arrow output (checked against the declared columns first, see
  :mod:`orch.run.python`) is written to a staging relation with ``Adapter.write_arrow``; from
  there the same code as a SQL model's publishes it (a rename for a table, an append, a merge, or
  a partition's delete+insert), audited first by the blocking checks.
- seeds: CSV read into Arrow (pyarrow infers integers, floats, dates, timestamps, text; empty
  values are NULL), written in bulk; declared ``column_types`` are applied with casts.

The SQL given to the adapter keeps the ``'__orch_env_var__NAME__'`` literals of ``env_var()``:
the adapter binds each as a parameter when the statement runs (see
:func:`orch.redaction.bind_placeholders`), so a secret never becomes SQL text.

The partition a step builds arrives as one :class:`~orch.assets.PartitionWindow`, built once per
step by :func:`partition_window` (the key validated there, never again).

Write-audit-publish: when the run's ``audit`` (the check hook of ``orch build``) says a table,
incremental or partitioned asset has blocking checks, its new data (the whole table, the
increment, or the partition) is first written to a staging relation (a Python asset's always is),
the blocking checks run there, and only if they pass is it published (a rename/swap, or merge /
delete+insert from the staged rows). If one fails, the published data stays as it was and the
staged data is kept as ``__orch_quarantine_<name>`` (see :func:`quarantine_relation`); the step
ends ``blocked``.

Contracts (``contract: true`` with column ``data_type``s in YAML): before anything is replaced,
the query's output columns and types are compared with the declared ones; a difference fails the
step with a diff of expected vs actual and the old table intact. See :func:`enforce_contract`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orch.adapters.base import QUARANTINE_PREFIX, STAGING_PREFIX, Adapter, WriteMode
from orch.assets import PartitionWindow
from orch.errors import BlockingCheckFailedError, ModelFailedError, WarehouseError
from orch.load.dbt_seeds import csv_null_values as dbt_csv_null_values
from orch.manifest import Manifest, Node
from orch.names import Relation, normalize_name
from orch.partitions import (
    PartitionDefinition,
    StaticKeys,
    bind_partition,
    definition_of,
    window_condition,
)
from orch.run.dbt_python import run_dbt_python
from orch.run.io import IOManagers
from orch.run.io.external import write_external
from orch.run.io.scan import bind_file_scans, register_remote_files
from orch.run.python import PythonRuntime, run_python_asset
from orch.run.schema_change import reconcile
from orch.run.snapshots import build_snapshot

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)


@dataclass
class MaterializeResult:
    """What a step wrote: row count when known and metadata for the state store."""

    rows: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # shown to the user, e.g. dropped rows


class Audit(Protocol):
    """Runs blocking checks on staged data before it is published (write-audit-publish)."""

    def wants_staging(self, node: Node) -> bool:
        """Whether ``node``'s new data must be audited before it is published."""

    def audit(self, node: Node, staged: Relation, partition: str | None) -> str | None:
        """Run the blocking checks against ``staged``; the name of one that failed, or None."""


@dataclass(frozen=True)
class StepContext:
    """Everything a materialization needs besides the node."""

    adapter: Adapter
    manifest: Manifest
    project_root: str
    full_refresh: bool = False
    run_id: str = ""
    window: PartitionWindow | None = None  # the partition being built (None: the whole asset)
    python: PythonRuntime | None = None  # resources, vars and the event sink of Python assets
    audit: Audit | None = None  # blocking checks on staged data (orch build)

    @property
    def partition(self) -> str | None:
        """The key of the partition being built, or None."""
        return self.window.key if self.window is not None else None


StepFunction = Callable[[Node, StepContext], MaterializeResult]


def partition_window(node: Node, key: str | None) -> PartitionWindow | None:
    """The partition ``key`` of ``node`` as a window, validated (None when not partitioned).

    Built once per step by the executor; everything downstream of it takes the window as it is.
    Raises PartitionError for a key the asset's definition does not have.
    """
    config = node.config.partitioned_by
    if key is None or config is None:
        return None
    definition = _definition(node)
    if isinstance(definition, StaticKeys):
        return PartitionWindow(definition.validate(key))
    start, end = definition.window(key)
    return PartitionWindow(key, start, end)


_definitions: dict[tuple[str, str], PartitionDefinition] = {}


def _definition(node: Node) -> PartitionDefinition:
    """The node's partition definition (cached per node version)."""
    cache_key = (node.unique_id, node.fingerprint)
    found = _definitions.get(cache_key)
    if found is None:
        config = node.config.partitioned_by
        assert config is not None
        found = _definitions.setdefault(cache_key, definition_of(config, asset=node.name))
    return found


@dataclass(frozen=True)
class NewRows:
    """A step's new data: a SQL model's query, or the rows a Python asset staged.

    ``full`` selects them for a full build, ``increment`` for an incremental one; ``staged`` is
    the relation already holding them (then both read it, and the write consumes it).
    """

    full: str
    increment: str
    staged: Relation | None = None
    rows: int | None = None

    @classmethod
    def of_model(cls, node: Node, ctx: StepContext) -> NewRows:
        """A SQL model's query (bound to the step's partition when it builds one, and to the
        exact Parquet files of the upstream partitions it reads)."""
        if ctx.window is not None and node.config.partitioned_by is not None:
            definition = _definition(node)
            bound = bind_partition(
                node.compiled_code, definition, ctx.window.key, ctx.adapter.dialect
            )
            bound = _bind_files(bound, node, ctx)
            return cls(bound, bound)
        full = _bind_files(node.compiled_code, node, ctx)
        increment = node.compiled_code_incremental
        return cls(full, _bind_files(increment, node, ctx) if increment else full)

    @classmethod
    def of_staged(cls, adapter: Adapter, staged: Relation, rows: int) -> NewRows:
        """Rows already written to ``staged`` (a Python asset's output)."""
        select = _select_all(adapter, staged)
        return cls(select, select, staged, rows)


def _bind_files(sql: str, node: Node, ctx: StepContext) -> str:
    """``sql`` reading the exact Parquet files of the step's upstream partitions (and the
    warehouse able to reach external models' URLs)."""
    target = ctx.manifest.project.target_name
    io = (
        ctx.python.io
        if ctx.python is not None
        else IOManagers.for_project(ctx.project_root, target)
    )
    register_remote_files(node, ctx.manifest, ctx.adapter, ctx.project_root, io)
    return bind_file_scans(sql, node, ctx.manifest, ctx.partition, io, ctx.adapter.dialect)


def materialize(node: Node, ctx: StepContext) -> MaterializeResult:
    """Write ``node`` to the warehouse according to its materialization."""
    adapter = ctx.adapter
    if node.relation is None:
        raise ModelFailedError(f"'{node.name}' has no relation to write")
    relation = node.relation.to_relation()
    adapter.ensure_schema(relation.database, relation.schema)
    if node.resource_type == "seed":
        return load_seed(node, ctx, relation)
    if node.language == "python" and node.python is None:  # a dbt Python model
        incremental = (
            node.materialized == "incremental"
            and not ctx.full_refresh
            and (adapter.relation_type(relation) == "table")
        )
        table = run_dbt_python(node, ctx.manifest, adapter, Path(ctx.project_root), incremental)
        return publish_arrow(node, ctx, relation, table)
    if node.language == "python":
        return _python(node, ctx, relation)
    if node.materialized == "external":
        return _external(node, ctx)
    if node.materialized == "snapshot":
        rows, mode = build_snapshot(node, adapter, relation, staging_relation(relation))
        return MaterializeResult(rows=rows, metadata={"materialized": "snapshot", "mode": mode})
    header = node.config.extra.get("sql_header")
    if header:  # dbt sends it before the model's statement, on the same session
        adapter.execute(str(header))
    partition = node.config.partitioned_by is not None and ctx.window is not None
    if node.materialized == "view" and not partition:  # a partition is always written
        if node.config.contract:
            enforce_contract(node, adapter, relation, node.compiled_code)
        adapter.create_view(relation, node.compiled_code)
        return MaterializeResult(rows=None, metadata={"materialized": "view"})
    new = NewRows.of_model(node, ctx)
    if node.config.contract:
        enforce_contract(node, adapter, relation, new.full)
    return write_new_rows(node, ctx, relation, new)


def _external(node: Node, ctx: StepContext) -> MaterializeResult:
    """A ``materialized='external'`` model: its rows written as files (orch.run.io.external)."""
    if not ctx.adapter.SUPPORTS_FILE_SCANS:
        raise ModelFailedError(
            f"'{node.name}' is materialized='external', which the {ctx.adapter.type} adapter "
            "cannot write",
            hint="Use materialized='table' on this target",
        )
    new = NewRows.of_model(node, ctx)
    if node.config.contract:
        enforce_contract(node, ctx.adapter, node.relation.to_relation(), new.full)  # type: ignore[union-attr]
    metadata = write_external(
        node, ctx.adapter, new.full, ctx.project_root, ctx.manifest.project.target_name
    )
    rows = metadata.get("rows")
    return MaterializeResult(rows=rows if isinstance(rows, int) else None, metadata=metadata)


def write_new_rows(
    node: Node, ctx: StepContext, relation: Relation, new: NewRows
) -> MaterializeResult:
    """Publish a step's new rows with its materialization's semantics (audited when asked).

    The one place a table, an increment or a partition is written, for SQL and Python alike.
    """
    if node.config.partitioned_by is not None and ctx.window is not None:
        return _partition(node, ctx, relation, new)
    kind = node.materialized
    audited = {"audited": True} if _audited(node, ctx) else {}
    if kind == "table":
        rows = write_audit_publish(node, ctx, relation, new.full, staged=new.staged, rows=new.rows)
        return MaterializeResult(rows=rows, metadata={"materialized": "table", **audited})
    if kind == "incremental":
        return _incremental(node, ctx, relation, new)
    raise ModelFailedError(f"'{node.name}': materialization '{kind}' cannot be built here")


def _python(node: Node, ctx: StepContext, relation: Relation) -> MaterializeResult:
    """Run a Python asset, stage its Arrow output, publish it like a SQL model's rows."""
    adapter = ctx.adapter
    runtime = ctx.python or PythonRuntime(
        project_root=Path(ctx.project_root), target=ctx.manifest.project.target_name
    )
    output = run_python_asset(
        node,
        adapter=adapter,
        manifest=ctx.manifest,
        runtime=runtime,
        run_id=ctx.run_id,
        window=ctx.window,
    )
    if output.table is None:  # materialized='none': nothing to write
        return MaterializeResult(rows=output.rows, metadata=output.metadata)
    result = publish_arrow(node, ctx, relation, output.table)
    result.metadata = {**result.metadata, **output.metadata}
    return result


def publish_arrow(
    node: Node, ctx: StepContext, relation: Relation, table: pa.Table
) -> MaterializeResult:
    """Stage an Arrow table with ``write_arrow``, then audit and publish it like SQL rows.

    The publication is :func:`write_new_rows`, the one SQL models use; the staging relation is
    gone afterwards (published, quarantined or dropped).
    """
    adapter = ctx.adapter
    staged = staging_relation(relation, ctx.partition)
    adapter.drop_relation(staged)  # left by a killed run outside the workflow's cleanup
    rows = adapter.write_arrow(table, staged, WriteMode.CREATE)
    try:
        return write_new_rows(node, ctx, relation, NewRows.of_staged(adapter, staged, rows))
    except BaseException:
        _drop_staged(adapter, staged)  # usually gone already: consumed by the write
        raise


def _incremental(
    node: Node, ctx: StepContext, relation: Relation, new: NewRows
) -> MaterializeResult:
    adapter = ctx.adapter
    audited = {"audited": True} if _audited(node, ctx) else {}
    exists = adapter.relation_type(relation) == "table"
    if ctx.full_refresh or not exists:
        rows = write_audit_publish(node, ctx, relation, new.full, staged=new.staged, rows=new.rows)
        return MaterializeResult(
            rows=rows, metadata={"materialized": "incremental", "mode": "full build", **audited}
        )
    unknown = node.config.extra.get("incremental_strategy")
    if unknown is not None:  # a dbt strategy orch cannot run (orch.compiler.settings)
        raise ModelFailedError(
            f"'{node.name}': incremental_strategy {unknown!r} is not supported by orch, so its "
            "incremental run cannot be done (the first build was a table build)",
            hint="Use incremental_strategy 'append', 'merge' or 'delete+insert', or rebuild it "
            "with --full-refresh",
        )
    strategy = _strategy(node, ctx)
    keys = node.config.unique_key_columns
    unsupported = [k for k in _UNSUPPORTED_INCREMENTAL if node.config.extra.get(k)]
    if unsupported:  # dbt acts on them only in an incremental run; orch does not: say so
        raise ModelFailedError(
            f"'{node.name}': {', '.join(unsupported)} is not supported by orch, so its "
            "incremental run cannot be done as dbt would do it (the first build was a table build)",
            hint="Remove the setting (filter the new rows in the model's is_incremental() block "
            "instead), or rebuild it with --full-refresh",
        )
    warnings: list[str] = []

    def write(select_sql: str) -> int | None:
        # a failed write undoes the schema change where DDL is transactional (DuckDB)
        with adapter.transaction() if adapter.TRANSACTIONAL_DDL else contextlib.nullcontext():
            columns = reconcile(node, adapter, relation, select_sql, warnings)
            select = _select_columns(select_sql, columns, adapter)
            if strategy == "merge" and keys:
                return adapter.merge(relation, select, keys)
            if strategy == "delete+insert" and keys:
                return adapter.delete_insert_on_key(relation, select, keys, columns)
            return adapter.insert_into(relation, select, columns)

    rows = write_audit_publish(
        node, ctx, relation, new.increment, publish=write, staged=new.staged, rows=new.rows
    )
    return MaterializeResult(
        rows=rows,
        metadata={"materialized": "incremental", "mode": strategy, **audited},
        warnings=warnings,
    )


# dbt incremental settings that change what an incremental run writes, which orch does not do
_UNSUPPORTED_INCREMENTAL = (
    "incremental_predicates", "predicates", "merge_update_columns", "merge_exclude_columns",
    "merge_clauses", "merge_on_using_columns", "merge_update_condition", "merge_insert_condition",
    "merge_update_set_expressions",
)  # fmt: skip


def _strategy(node: Node, ctx: StepContext) -> str:
    """The incremental strategy in force. Without one, a dbt project on DuckDB gets dbt-duckdb's
    default, ``delete+insert``; otherwise a ``unique_key`` merges (dbt-snowflake's default)."""
    config = node.config
    project = ctx.manifest.project
    if config.incremental_strategy is None and config.unique_key:
        if project.flavor == "dbt" and project.target_type == "duckdb":
            return "delete+insert"
    return config.strategy


def _audited(node: Node, ctx: StepContext) -> bool:
    return ctx.audit is not None and ctx.audit.wants_staging(node)


def _select_all(adapter: Adapter, relation: Relation) -> str:
    from sqlglot import exp

    return exp.select(exp.Star()).from_(adapter.table_expression(relation)).sql(adapter.dialect)


def _safe_key(key: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in key)


def staging_relation(relation: Relation, partition: str | None = None) -> Relation:
    """Where new data waits for its audit (one per partition: partitions build in parallel)."""
    suffix = f"__{_safe_key(partition)}" if partition is not None else ""
    return relation.with_name(f"{STAGING_PREFIX}{relation.name}{suffix}")


def quarantine_relation(node: Node, partition: str | None = None) -> Relation:
    """Where rejected data is kept for inspection (``__orch_quarantine_<name>[__<key>]``)."""
    assert node.relation is not None
    relation = node.relation.to_relation()
    suffix = f"__{_safe_key(partition)}" if partition is not None else ""
    return relation.with_name(f"{QUARANTINE_PREFIX}{relation.name}{suffix}")


def write_audit_publish(
    node: Node,
    ctx: StepContext,
    relation: Relation,
    select_sql: str,
    publish: Callable[[str], int | None] | None = None,
    *,
    staged: Relation | None = None,
    rows: int | None = None,
) -> int | None:
    """Write ``select_sql``'s rows into ``relation``; audited first when the run asks.

    ``publish(select)`` writes rows into the published relation (merge, partition delete+insert);
    by default they replace it atomically. Unaudited rows go straight there from ``select_sql``;
    audited ones are first staged (unless ``staged`` already holds them, ``rows`` of them), the
    blocking checks run on the staged relation, and only then are they published from it. The
    staged relation is consumed: published, quarantined or dropped. Returns the rows written.
    Raises BlockingCheckFailedError (the data quarantined, the published relation unchanged).
    """
    adapter = ctx.adapter
    audit = ctx.audit if _audited(node, ctx) else None
    if staged is None and audit is None:
        if publish is None:
            return adapter.replace_table_atomically(relation, select_sql)
        return publish(select_sql)
    failed = None
    try:
        if staged is None:
            staged = staging_relation(relation, ctx.partition)
            adapter.drop_relation(staged)
            rows = adapter.create_table_as(staged, select_sql)
        if audit is not None:
            rows = adapter.row_count(staged) if rows is None else rows
            failed = audit.audit(node, staged, ctx.partition)
    except BaseException:
        if staged is not None:
            _drop_staged(adapter, staged)
        raise
    if failed:
        quarantine = quarantine_relation(node, ctx.partition)
        adapter.publish_staged(staged, quarantine)
        where = f" partition {ctx.partition}" if ctx.partition is not None else ""
        raise BlockingCheckFailedError(
            f"blocking check '{failed}' failed on the new data of '{node.name}'{where}: it was "
            f"not published (the published data is unchanged); the rejected data is kept in "
            f"{quarantine}",
            check=failed,
            quarantine=str(quarantine),
            hint="Inspect it, fix the model or its input, and build again",
        )
    try:
        if publish is None:
            adapter.publish_staged(staged, relation)
            return rows if rows is not None else adapter.row_count(relation)
        written = publish(_select_all(adapter, staged))
    except BaseException:
        _drop_staged(adapter, staged)
        raise
    _drop_staged(adapter, staged)
    return rows if written is None else written


def _drop_staged(adapter: Adapter, staged: Relation) -> None:
    try:
        adapter.drop_relation(staged)
    except Exception as err:  # noqa: BLE001 - cleanup; a restart removes it anyway
        log.warning("could not drop staging table %s: %s", staged, err)


def _partition(node: Node, ctx: StepContext, relation: Relation, new: NewRows) -> MaterializeResult:
    """A partition write: staged and audited when asked, then delete+insert of the window."""
    result: list[MaterializeResult] = []

    def publish(select_sql: str) -> int | None:
        result.append(materialize_partition(node, ctx, relation, select_sql))
        return result[0].rows

    write_audit_publish(node, ctx, relation, new.full, publish, staged=new.staged, rows=new.rows)
    if _audited(node, ctx):
        result[0].metadata["audited"] = True
    return result[0]


def enforce_contract(node: Node, adapter: Adapter, relation: Relation, select_sql: str) -> None:
    """Fail (before anything is replaced) when the query's columns differ from the declared ones.

    Compares names (case-insensitively) and types (normalized by sqlglot for the warehouse's
    dialect; a declared type without precision matches any precision). Raises ModelFailedError
    with the diff of expected vs actual.
    """
    declared = {n: c.data_type for n, c in node.columns.items() if c.data_type}
    if not declared:
        raise ModelFailedError(
            f"'{node.name}' has contract: true but no column declares a data_type",
            hint="Declare every column with its data_type in the model's YAML",
        )
    probe = relation.with_name(f"{STAGING_PREFIX}contract_{relation.name}_{uuid.uuid4().hex[:8]}")
    adapter.create_table_as(probe, f"SELECT * FROM ({select_sql}) AS __orch_contract LIMIT 0")
    try:
        actual = {c.name: c.data_type for c in adapter.columns(probe)}
    finally:
        _drop_staged(adapter, probe)
    actual_lower = {n.lower(): (n, t) for n, t in actual.items()}
    # a declared name as the warehouse stores it ('"OrderId"' -> OrderId), then case-insensitively
    stored = {n: normalize_name(n, adapter.dialect) for n in declared}
    declared_lower = {s.lower() for s in stored.values()}
    problems = []
    for name, expected in declared.items():
        found = actual_lower.get(stored[name].lower())
        if found is None:
            problems.append(f"  missing column {name} (expected {expected})")
        elif not _same_type(expected, found[1], adapter.dialect, adapter):
            problems.append(f"  column {name}: expected {expected}, got {found[1]}")
    for name, data_type in actual.items():
        if name.lower() not in declared_lower:
            problems.append(f"  extra column {name} {data_type} (not declared)")
    if problems:
        raise ModelFailedError(
            f"'{node.name}' does not meet its contract (the old table is intact):\n"
            + "\n".join(problems),
            hint="Change the model's SQL, or the declared columns in its YAML",
        )


def _normal_type(text: str, dialect: str) -> str:
    from sqlglot import exp

    try:
        return exp.DataType.build(text, dialect=dialect, udt=True).sql(dialect=dialect).upper()
    except Exception:  # noqa: BLE001 - an unknown type name compares as written
        return text.strip().upper()


def _same_type(expected: str, actual: str, dialect: str, adapter: Adapter | None = None) -> bool:
    verdict = adapter.type_matches(expected, actual) if adapter is not None else None
    if verdict is not None:  # the warehouse's own type rules (Snowflake: NUMBER(p, s), ...)
        return verdict
    want, got = _normal_type(expected, dialect), _normal_type(actual, dialect)
    if want == got:
        return True
    return "(" not in want and got.split("(", 1)[0].strip() == want


def _select_columns(sql: str, columns: list[str], adapter: Adapter) -> str:
    """Insert by name: select the table's columns from the model's query."""
    projection = ", ".join(adapter.quote(c) for c in columns)
    return f"SELECT {projection} FROM ({sql}) AS __orch_new"


# --------------------------------------------------------------------------- partitions

_tables_known: weakref.WeakKeyDictionary[Adapter, set[Relation]] = weakref.WeakKeyDictionary()
_create_lock = threading.Lock()


def materialize_partition(
    node: Node, ctx: StepContext, relation: Relation, select_sql: str
) -> MaterializeResult:
    """Write the step's partition: delete its rows and insert ``select_sql``'s, in one transaction.

    The table is created empty (with the query's schema) the first time. Rows the query
    produces outside the partition's window are an error (nothing is written) unless the model
    says ``out_of_window: drop``; then they are left out and counted in a warning.
    """
    spec = node.config.partitioned_by
    assert spec is not None and spec.column and ctx.window is not None
    adapter = ctx.adapter
    dialect = adapter.dialect
    definition, condition = _partition_setup(node, dialect)
    key = ctx.window.key
    select = select_sql
    where = bind_partition(condition, definition, key, dialect)
    _ensure_partitioned_table(adapter, relation, select)
    metadata: dict[str, Any] = {"materialized": "partition", "partition": key}
    if spec.out_of_window == "drop":
        total = int(adapter.fetch_rows(f"SELECT COUNT(*) FROM ({select}) AS __orch_new")[0][0])
        rows = adapter.delete_insert(
            relation, f"SELECT * FROM ({select}) AS __orch_new WHERE {where}", where
        )
        dropped = total - (rows or 0)
        warnings = []
        if dropped:
            warnings.append(
                f"{node.name}[{key}]: dropped {dropped} row(s) outside the partition's window "
                f"('{spec.column}', out_of_window: drop)"
            )
            metadata["dropped_rows"] = dropped
        return MaterializeResult(rows=rows, metadata=metadata, warnings=warnings)
    guard = adapter.raise_unless(where, OUT_OF_WINDOW)
    if guard is not None:  # one statement: the insert itself fails on the first stray row
        try:
            rows = adapter.delete_insert(
                relation, f"SELECT * FROM ({select}) AS __orch_new WHERE {guard}", where
            )
        except WarehouseError as err:
            if OUT_OF_WINDOW not in err.message:
                raise
            _raise_out_of_window(node, adapter, select, where, key)
        return MaterializeResult(rows=rows, metadata=metadata)
    target = adapter.render(relation)
    with adapter.transaction():  # no raising inside a query: count what landed in the window
        rows = adapter.delete_insert(relation, select, where)
        inside = int(adapter.fetch_rows(f"SELECT COUNT(*) FROM {target} WHERE {where}")[0][0])
        if rows is not None and inside != rows:
            _raise_out_of_window(node, adapter, select, where, key)
    return MaterializeResult(rows=rows, metadata=metadata)


OUT_OF_WINDOW = "__orch_row_outside_partition__"
_setups: dict[tuple[str, str, str], tuple[PartitionDefinition, str]] = {}


def partition_condition(node: Node, key: str, dialect: str) -> str:
    """The SQL condition selecting one partition's rows of a partitioned model's table."""
    definition, condition = _partition_setup(node, dialect)
    return bind_partition(condition, definition, key, dialect)


def _partition_setup(node: Node, dialect: str) -> tuple[PartitionDefinition, str]:
    """The node's partition definition and window condition SQL (with placeholders), cached."""
    from orch.sql import written_columns

    cache_key = (node.unique_id, node.fingerprint, dialect)
    found = _setups.get(cache_key)
    if found is None:
        spec = node.config.partitioned_by
        assert spec is not None and spec.column
        definition = _definition(node)
        written = written_columns(node.compiled_code, dialect)  # a column the SQL quoted
        condition = window_condition(definition, spec.column, dialect, written=written)
        condition_sql = condition.sql(dialect=dialect)
        found = _setups.setdefault(cache_key, (definition, condition_sql))
    return found


def _raise_out_of_window(node: Node, adapter: Adapter, select: str, where: str, key: str) -> None:
    """The step's error: how many rows the query produces outside the window (nothing written)."""
    spec = node.config.partitioned_by
    assert spec is not None
    counts = adapter.fetch_rows(
        f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {where} THEN 0 ELSE 1 END), 0)"
        f" FROM ({select}) AS __orch_new"
    )[0]
    total, outside = int(counts[0]), int(counts[1])
    narrow = (
        "Filter the returned rows to context.partition's window"
        if node.language == "python"
        else "Filter the query on {{ partition.start }} / {{ partition.end }}"
    )
    raise ModelFailedError(
        f"'{node.name}' partition {key}: {outside} of {total} row(s) have "
        f"'{spec.column}' outside the partition's window; nothing was written",
        hint=f"{narrow}, or set out_of_window: drop in partitioned_by to leave such rows out",
    )


def _ensure_partitioned_table(adapter: Adapter, relation: Relation, select: str) -> None:
    """Create the table empty, with the query's columns, unless it exists (once per run)."""
    known = _tables_known.setdefault(adapter, set())
    if relation in known:
        return
    with _create_lock:
        if relation not in known:
            if adapter.relation_type(relation) != "table":
                adapter.drop_relation(relation)  # a view of an older materialization
                adapter.create_table_as(relation, f"SELECT * FROM ({select}) AS __orch_new LIMIT 0")
            known.add(relation)


# --------------------------------------------------------------------------- seeds


def read_seed(
    path: str, column_types: dict[str, str], null_values: list[str] | None = None
) -> pa.Table:
    """A CSV file as Arrow: types inferred, empty values NULL, header-only files allowed.

    ``null_values``: the texts read as NULL (default: pyarrow's list; dbt projects pass dbt's).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    declared = set(column_types)
    convert = pacsv.ConvertOptions(
        strings_can_be_null=True,
        column_types={c: pa.string() for c in declared},
        **({"null_values": null_values} if null_values is not None else {}),
    )
    parse = pacsv.ParseOptions(newlines_in_values=True)  # a quoted field may hold a line break
    table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
    # a header-only file infers the null type: make such columns text; pyarrow infers
    # timestamp[s], which the warehouse would keep as a seconds type (DuckDB TIMESTAMP_S)
    fields = []
    for f in table.schema:
        if pa.types.is_null(f.type):
            f = pa.field(f.name, pa.string())
        elif pa.types.is_timestamp(f.type) and f.type.unit == "s":
            f = pa.field(f.name, pa.timestamp("us", tz=f.type.tz))
        fields.append(f)
    return table.cast(pa.schema(fields))


def load_seed(node: Node, ctx: StepContext, relation: Relation) -> MaterializeResult:
    """Load a seed in bulk; declared column types are applied by casting in the warehouse."""
    from sqlglot import exp

    adapter = ctx.adapter
    path = f"{ctx.project_root}/{node.path}"
    types = node.config.column_types
    # dbt reads only '' and 'null' as NULL (a country code 'NA' stays text); dbt-duckdb only ''
    project = ctx.manifest.project
    if project.flavor == "dbt" and adapter.SUPPORTS_FILE_SCANS and set(node.columns) <= set(types):
        return _copy_seed(node, ctx, relation, path)
    nulls = dbt_csv_null_values(project.target_type) if project.flavor == "dbt" else None
    table = read_seed(path, types, nulls)
    rows: int | None
    if not types:
        rows = adapter.write_arrow(table, relation, WriteMode.REPLACE)
        return MaterializeResult(rows=rows, metadata={"materialized": "seed"})
    staging = relation.with_name(f"{STAGING_PREFIX}{relation.name}")
    adapter.drop_relation(staging)
    adapter.write_arrow(table, staging, WriteMode.CREATE)
    try:
        projection = []
        for name in table.column_names:
            # write_arrow may have renamed it (Snowflake stores plain names upper-case)
            stored = adapter.column_name(name)
            column = exp.column(stored, quoted=True)
            if name in types:
                cast = exp.cast(column, exp.DataType.build(types[name], dialect=adapter.dialect))
                projection.append(exp.alias_(cast, stored, quoted=True))
            else:
                projection.append(column)
        select = exp.select(*projection).from_(adapter.table_expression(staging))
        rows = adapter.replace_table_atomically(relation, select.sql(dialect=adapter.dialect))
    finally:
        adapter.drop_relation(staging)
    return MaterializeResult(rows=rows, metadata={"materialized": "seed"})


def _copy_seed(node: Node, ctx: StepContext, relation: Relation, path: str) -> MaterializeResult:
    """A dbt seed on DuckDB, loaded as dbt-duckdb loads it: a table of the seed's types (agate's,
    or declared) filled by the warehouse's own CSV reader, then swapped in."""
    from orch.adapters.base import Column

    adapter = ctx.adapter
    types = node.config.column_types
    columns = [Column(name, types[name]) for name in node.columns]
    delimiter = str(node.config.extra.get("delimiter") or ",")
    staging = relation.with_name(f"{STAGING_PREFIX}{relation.name}")
    adapter.drop_relation(staging)
    try:
        rows = adapter.copy_csv(staging, path, columns, delimiter)
        adapter.publish_staged(staging, relation)
    finally:
        adapter.drop_relation(staging)
    return MaterializeResult(rows=rows, metadata={"materialized": "seed"})
