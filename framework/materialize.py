"""Materializations: how one step's asset is written, through the Adapter only.

- ``view``: create or replace the view.
- ``table``: build under a temporary name and swap in atomically (the adapter's job), so a failed
  build leaves the previous table intact.
- ``incremental``: the first build (or ``--full-refresh``) is a table build; later builds run the
  incremental variant of the SQL (``is_incremental()`` true) and append or merge on ``unique_key``.
- ``ephemeral``: never built, inlined as a CTE by the compiler.
- seeds: CSV read into Arrow (pyarrow infers integers, floats, dates, timestamps, text; empty
  values are NULL), written in bulk; declared ``column_types`` are applied with casts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch import redaction
from orch.adapters.base import STAGING_PREFIX, Adapter, WriteMode
from orch.errors import ModelFailedError
from orch.manifest import Manifest, Node
from orch.names import Relation
from orch.python_runner import PythonRuntime, run_python_asset
from sqlglot import exp

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class MaterializeResult:
    """What a step wrote: row count when known and metadata for the state store."""

    rows: int | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepContext:
    """Everything a materialization needs besides the node."""

    adapter: Adapter
    manifest: Manifest
    project_root: str
    full_refresh: bool = False
    run_id: str = ""
    partition: str | None = None
    python: PythonRuntime | None = None  # resources, vars and the event sink of Python assets


def with_python_runtime(runtime: PythonRuntime) -> Callable[[Node, StepContext], MaterializeResult]:
    """A step function like :func:`materialize` whose Python assets use ``runtime``."""

    def step(node: Node, ctx: StepContext) -> MaterializeResult:
        return materialize(node, replace(ctx, python=runtime))

    return step


def runnable_sql(sql: str) -> str:
    """Compiled SQL with env var placeholders resolved, in memory only, right before it runs."""
    return redaction.resolve_placeholders(sql)


def materialize(node: Node, ctx: StepContext) -> MaterializeResult:
    """Write ``node`` to the warehouse according to its materialization."""
    adapter = ctx.adapter
    if node.relation is None:
        raise ModelFailedError(f"'{node.name}' has no relation to write")
    relation = node.relation.to_relation()
    adapter.ensure_schema(relation.database, relation.schema)
    if node.resource_type == "seed":
        return load_seed(node, ctx, relation)
    if node.language == "python":
        return _python(node, ctx)
    kind = node.materialized
    if kind == "view":
        adapter.create_view(relation, runnable_sql(node.compiled_code))
        return MaterializeResult(rows=None, metadata={"materialized": "view"})
    if kind == "table":
        rows = adapter.replace_table_atomically(relation, runnable_sql(node.compiled_code))
        return MaterializeResult(rows=rows, metadata={"materialized": "table"})
    if kind == "incremental":
        return _incremental(node, ctx, relation)
    raise ModelFailedError(f"'{node.name}': materialization '{kind}' cannot be built here")


def _python(node: Node, ctx: StepContext) -> MaterializeResult:
    runtime = ctx.python or PythonRuntime(
        project_root=Path(ctx.project_root), target=ctx.manifest.project.target_name
    )
    result = run_python_asset(
        node,
        adapter=ctx.adapter,
        manifest=ctx.manifest,
        runtime=runtime,
        run_id=ctx.run_id,
        partition=ctx.partition,
        full_refresh=ctx.full_refresh,
    )
    return MaterializeResult(rows=result.rows, metadata=result.metadata)


def _incremental(node: Node, ctx: StepContext, relation: Relation) -> MaterializeResult:
    adapter = ctx.adapter
    exists = adapter.relation_type(relation) == "table"
    if ctx.full_refresh or not exists:
        rows = adapter.replace_table_atomically(relation, runnable_sql(node.compiled_code))
        return MaterializeResult(
            rows=rows, metadata={"materialized": "incremental", "mode": "full build"}
        )
    sql = runnable_sql(node.compiled_code_incremental or node.compiled_code)
    strategy = node.config.strategy
    keys = node.config.unique_key_columns
    if strategy in ("merge", "delete+insert") and keys:
        rows = adapter.merge(relation, sql, keys)
    else:
        columns = [c.name for c in adapter.columns(relation)]
        rows = adapter.insert_into(relation, _select_columns(sql, columns, adapter), columns)
    return MaterializeResult(rows=rows, metadata={"materialized": "incremental", "mode": strategy})


def _select_columns(sql: str, columns: list[str], adapter: Adapter) -> str:
    """Insert by name: select the table's columns from the model's query."""
    projection = ", ".join(adapter.quote(c) for c in columns)
    return f"SELECT {projection} FROM ({sql}) AS __orch_new"


# --------------------------------------------------------------------------- seeds


def read_seed(path: str, column_types: dict[str, str]) -> pa.Table:
    """A CSV file as Arrow: types inferred, empty values NULL, header-only files allowed."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    declared = set(column_types)
    convert = pacsv.ConvertOptions(
        strings_can_be_null=True,
        column_types={c: pa.string() for c in declared},
    )
    table = pacsv.read_csv(path, convert_options=convert)
    # a header-only file infers the null type: make such columns text
    fields = []
    for f in table.schema:
        fields.append(pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f)
    return table.cast(pa.schema(fields))


def load_seed(node: Node, ctx: StepContext, relation: Relation) -> MaterializeResult:
    """Load a seed in bulk; declared column types are applied by casting in the warehouse."""
    adapter = ctx.adapter
    path = f"{ctx.project_root}/{node.path}"
    types = node.config.column_types
    table = read_seed(path, types)
    if not types:
        rows = adapter.write_arrow(table, relation, WriteMode.REPLACE)
        return MaterializeResult(rows=rows, metadata={"materialized": "seed"})
    staging = relation.with_name(f"{STAGING_PREFIX}{relation.name}")
    adapter.drop_relation(staging)
    adapter.write_arrow(table, staging, WriteMode.CREATE)
    try:
        projection = []
        for name in table.column_names:
            column = exp.column(name, quoted=True)
            if name in types:
                cast = exp.cast(column, exp.DataType.build(types[name], dialect=adapter.dialect))
                projection.append(exp.alias_(cast, name, quoted=True))
            else:
                projection.append(column)
        select = exp.select(*projection).from_(adapter.table_expression(staging))
        rows = adapter.replace_table_atomically(relation, select.sql(dialect=adapter.dialect))
    finally:
        adapter.drop_relation(staging)
    return MaterializeResult(rows=rows, metadata={"materialized": "seed"})
