"""``orch show``: the first rows of a model's compiled SELECT, without building anything.

The model (or an inline query, compiled like a model) is compiled as a build would compile it,
wrapped in ``SELECT * FROM (...) LIMIT n`` and run through the adapter's fetch path. Nothing is
written to the warehouse or the state store; every relation the query reads must exist already.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orch.adapters import get_adapter
from orch.adapters.base import Adapter
from orch.compiler import compile_or_reuse
from orch.compiler.artifacts import CompileResult
from orch.config import RunOptions
from orch.errors import PartitionError, SelectionError, UserError, suggestion
from orch.events import utcnow
from orch.load.project import ModelFile, load_project
from orch.manifest import Manifest, Node, through_ephemerals
from orch.partitions import bind_partition, definition_of
from orch.run.io import IOManagers
from orch.run.io.scan import bind_file_scans, register_remote_files
from orch.run.live_render import LiveRenderer
from orch.sql import parse_query
from orch.storage import stored_outside_warehouse
from sqlglot import exp

INLINE_NAME = "__orch_inline"
INLINE_PATH = "<inline>"
DEFAULT_LIMIT = 5


@dataclass(frozen=True)
class Preview:
    """The rows a query returned: column names, rows as tuples, and the SQL that was run."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _InlineModelFile(ModelFile):
    """A model whose text comes from the command line instead of a file."""

    text: str = ""

    def read(self) -> str:
        """The inline SQL."""
        return self.text


def preview_model(
    options: RunOptions, name: str, limit: int = DEFAULT_LIMIT, partition: str | None = None
) -> Preview:
    """The first ``limit`` rows of model ``name`` (compiled, not built).

    A partitioned model's SQL reads one partition: ``partition`` names its key.
    """
    result = compile_or_reuse(options, {name})
    manifest = result.manifest
    node = manifest.nodes.get(name)
    if node is None:
        raise SelectionError(
            f"unknown model '{name}'",
            hint=suggestion(name, manifest.nodes) or "See 'orch ls' for the project's models",
        )
    return _run_preview(result, node, limit, partition=partition)


def preview_inline(options: RunOptions, sql: str, limit: int = DEFAULT_LIMIT) -> Preview:
    """The first ``limit`` rows of an inline query, compiled like a model of the project.

    Models are named as in a model file: bare names or ``{{ ref('name') }}``.
    """
    from orch.compiler.models import compile_project  # heavy: sqlglot and Jinja

    project = load_project(options)
    project.models[INLINE_NAME] = _InlineModelFile(
        name=INLINE_NAME,
        path=INLINE_PATH,
        abs_path=project.root / INLINE_PATH,
        language="sql",
        text=sql,
    )
    result = compile_project(options, {INLINE_NAME}, project=project, write_files=False)
    return _run_preview(result, result.manifest.nodes[INLINE_NAME], limit, shown="inline query")


def _run_preview(
    result: CompileResult,
    node: Node,
    limit: int,
    shown: str | None = None,
    partition: str | None = None,
) -> Preview:
    if limit < 0:
        raise UserError(f"--limit must be 0 or more, not {limit}", hint="Pass e.g. --limit 10")
    if node.resource_type != "model" or node.language != "sql" or not node.compiled_code:
        what = "a Python model" if node.language == "python" else f"a {node.resource_type}"
        raise SelectionError(
            f"'{node.name}' is {what}: orch show previews the compiled SELECT of a SQL model",
            hint=f'Build it, then query its relation: orch show --inline "select * from '
            f'{node.name}"',
        )
    dialect = result.manifest.project.target_dialect
    project = result.project
    if node.rendered_at_run_time:  # it queries the warehouse while rendering: render it now
        with get_adapter(project.target, project.root) as live:
            _require_upstream(live, result.manifest, node, shown or f"'{node.name}'",
                              project.config.resources)  # fmt: skip
            node = LiveRenderer(project, result.manifest, "show").render(node, live)
    code = _bind_partition(node, partition, dialect)
    io = IOManagers.for_project(
        project.root,
        project.target_name,
        project.config.resources,
        project_file=project.project_file,
    )
    code = bind_file_scans(code, node, result.manifest, partition, io, dialect)
    query = parse_query(code, dialect, node.path or INLINE_PATH)
    alias = exp.TableAlias(this=exp.to_identifier("__orch_show", quoted=True))
    limited = exp.select("*").from_(exp.Subquery(this=query, alias=alias)).limit(limit)
    sql = limited.sql(dialect=dialect)
    adapter = get_adapter(result.project.target, result.project.root)
    with adapter:
        _require_upstream(
            adapter,
            result.manifest,
            node,
            shown or f"'{node.name}'",
            result.project.config.resources,
        )
        register_remote_files(node, result.manifest, adapter, project.root, io)
        table = adapter.fetch_arrow(sql)
    columns = list(table.column_names)
    values = [column.to_pylist() for column in table.columns]
    rows = list(zip(*values, strict=True)) if values else []
    return Preview(node.name, columns, rows, sql, tuple(result.warnings))


def _bind_partition(node: Node, key: str | None, dialect: str) -> str:
    """The model's SQL, bound to partition ``key`` when it is partitioned."""
    spec = node.config.partitioned_by
    if spec is None:
        if key is not None:
            raise PartitionError(f"'{node.name}' is not partitioned", hint="Leave out --partition")
        return node.compiled_code
    definition = definition_of(spec, asset=node.name)
    if key is None:
        example = definition.last_complete_key(utcnow())
        raise PartitionError(
            f"'{node.name}' is partitioned ({definition.describe()}): its SQL reads one partition",
            hint="Pass --partition KEY" + (f", e.g. --partition {example}" if example else ""),
        )
    return bind_partition(node.compiled_code, definition, definition.validate(key), dialect)


def _require_upstream(
    adapter: Adapter,
    manifest: Manifest,
    node: Node,
    shown: str,
    declarations: Mapping[str, Any] | None = None,
) -> None:
    """Every relation the query reads exists (through ephemeral models, which are inlined;
    an asset stored as files is read from its files, not a relation)."""
    missing: list[str] = []
    for name in through_ephemerals(manifest.nodes, node.depends_on):
        upstream = manifest.nodes.get(name)
        if upstream is None or upstream.relation is None:  # ephemeral: its inputs count
            continue
        io = upstream.python.io_manager if upstream.python else None
        target = manifest.project.target_name
        if stored_outside_warehouse(upstream.materialized, io, declarations or {}, target):
            continue
        relation = upstream.relation.to_relation()
        if not adapter.relation_exists(relation):
            missing.append(f"'{name}' ({relation})")
    if missing:
        names = [m.split("'")[1] for m in missing]
        raise UserError(
            f"{shown} reads {', '.join(missing)}, which "
            + ("is" if len(missing) == 1 else "are")
            + " not built in the target",
            hint=f"Build it first: orch build -s {' '.join('+' + n for n in names)}",
        )
