"""Run one Python asset: load its inputs as Arrow, call the function, check what it returns.

Inputs come through ``Adapter.read_arrow`` (for a partitioned asset, only the partition's window of
a partitioned upstream) and become ``pl.DataFrame`` / ``pl.LazyFrame`` / ``pa.Table`` without
copying. The return value is checked (type, declared columns, the partition column) before
anything is written and handed back as Arrow; :mod:`orch.run.materialize` stages and publishes it
with the same code as a SQL model's rows (blocking checks audit it first). An exception in the
user's function fails the step with a traceback trimmed to the user's model file.
"""

from __future__ import annotations

import inspect
import threading
import traceback
import typing
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch import names, partitions, redaction
from orch.adapters.base import Adapter
from orch.assets import (
    AssetContext,
    AssetSpec,
    PartitionWindow,
    Signature,
    build_config,
)
from orch.errors import ConfigError, Location, ModelFailedError, OrchError, StorageError
from orch.events import EventSink, LogEmitted
from orch.load.python_files import find_asset, function_line, import_python_file
from orch.manifest import Manifest, Node
from orch.run.io import IOManagers
from orch.run.io.external import read_external
from orch.run.io.parquet import as_table_type, is_table, to_polars
from orch.run.io.warehouse import WarehouseIOManager
from orch.run.resources import ResourcePool, StepResources, project_builder
from orch.storage import InputContext, IOManager, OutputContext, builtin_of

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp


# Resource objects to use instead of the project file's (set by orch.testing around a run).
RESOURCE_OVERRIDES: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "orch_resource_overrides", default=None
)


@dataclass
class PythonRuntime:
    """What Python assets need from the run besides the manifest: resources, vars, the sink."""

    project_root: Path
    target: str
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    sink: EventSink | None = None
    resource_overrides: Mapping[str, Any] = field(default_factory=dict)  # test helpers
    project_file: str = "orch_project.yml"
    model_paths: tuple[str, ...] = ("models",)
    # (asset, partition) -> the metadata its newest materialization recorded (the run's start)
    stored_metadata: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict)
    run_id: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _io: IOManagers | None = None
    _pool: ResourcePool | None = None

    @property
    def pool(self) -> ResourcePool:
        """The run's resources (set up on first use; :meth:`close` tears them down)."""
        with self._lock:
            if self._pool is None:
                self._pool = ResourcePool(
                    project_builder(self.resources, self.target, self.project_file),
                    overrides=self.resource_overrides,
                    sink=self.sink,
                    run_id=self.run_id,
                )
            return self._pool

    def close(self) -> None:
        """Tear down the run's resources (the run's end, also after a failure or Ctrl-C)."""
        if self._pool is not None:
            self._pool.close()

    @property
    def io(self) -> IOManagers:
        """The run's IO managers (built-ins and the project's, each instantiated once)."""
        with self._lock:
            if self._io is None:
                self._io = IOManagers.for_project(
                    self.project_root,
                    self.target,
                    self.resources,
                    overrides=self.resource_overrides,
                    project_file=self.project_file,
                    discover=self._import_model_files,
                )
            return self._io

    def _import_model_files(self) -> None:
        """Import every Python file under the model folders (a project's IO manager class lives
        in one)."""
        for folder in self.model_paths:
            for path in sorted((self.project_root / folder).rglob("*.py")):
                import_python_file(path.relative_to(self.project_root).as_posix(), path)

    def io_manager(self, name: str, adapter: Adapter, schema: str) -> IOManager:
        """The IO manager ``name``; the warehouse one bound to the run's adapter."""
        manager = self.pool.open(name, self.io.get(name))
        if isinstance(manager, WarehouseIOManager):
            manager.bind(adapter, schema)
        return manager

    @classmethod
    def from_project(
        cls, project: Any, sink: EventSink | None = None, run_id: str = ""
    ) -> PythonRuntime:
        """The runtime of a loaded :class:`orch.load.project.Project`."""
        return cls(
            project_root=Path(project.root),
            target=project.target_name,
            resources=project.config.resources,
            variables=project.variables,
            sink=sink,
            project_file=project.project_file,
            resource_overrides=dict(RESOURCE_OVERRIDES.get() or {}),
            model_paths=tuple(project.config.model_paths),
            run_id=run_id,
        )

    def resource(self, name: str, cls: type[Any]) -> Any:
        """The resource ``name`` as ``cls``, set up once per run."""
        return self.pool.get(name, cls)


@dataclass
class PythonOutput:
    """What a Python asset returned, checked: its rows as Arrow for the warehouse (None: nothing
    to write there: ``materialized='none'``, or stored by another IO manager already)."""

    table: pa.Table | None
    rows: int | None
    metadata: dict[str, Any]


def output_schema(table: pa.Table) -> list[list[str]]:
    """The columns an asset actually produced, ``[[name, Arrow type], ...]`` in order (recorded
    with its materialization, so the site lists them)."""
    return [[f.name, str(f.type)] for f in table.schema]


def run_python_asset(
    node: Node,
    *,
    adapter: Adapter,
    manifest: Manifest,
    runtime: PythonRuntime,
    run_id: str,
    window: PartitionWindow | None,
) -> PythonOutput:
    """Call one Python asset (for one partition, when ``window`` is given); its checked output.

    Raises ModelFailedError (or ConfigError) when the function fails or returns something that
    breaks its declared columns or partition column: then nothing is written; ResourceError
    when a resource it needs failed to set up.
    """
    with runtime.pool.step(node.name) as scope:
        return _run_python_asset(
            node, adapter=adapter, manifest=manifest, runtime=runtime, run_id=run_id,
            window=window, scope=scope,
        )  # fmt: skip


def _run_python_asset(
    node: Node,
    *,
    adapter: Adapter,
    manifest: Manifest,
    runtime: PythonRuntime,
    run_id: str,
    window: PartitionWindow | None,
    scope: StepResources,
) -> PythonOutput:
    info = node.python
    if info is None or node.relation is None:
        raise ModelFailedError(f"'{node.name}' is not a Python asset")
    spec, sig = find_asset(info.module_path, runtime.project_root, node.name)
    key = window.key if window is not None else None
    kwargs: dict[str, Any] = {}
    resources = {name: scope.get(name, cls) for name, cls in sig.resource_classes.items()}
    params = _parameters(spec)
    for param, upstream in sig.inputs.items():
        kwargs[param] = load_input(
            adapter,
            manifest,
            node,
            manifest.nodes[upstream],
            sig.input_types[param],
            key,
            runtime=runtime,
            run_id=run_id,
            param=param,
            annotation=params.get(param),
            resources=resources,
        )
    context = None
    if sig.config_param is not None and sig.config_class is not None:
        location = Location(info.module_path, function_line(spec.fn))
        kwargs[sig.config_param] = build_config(
            sig.config_class, node.name, runtime.variables, location
        )
    for param, name in sig.resource_params.items():
        kwargs[param] = resources[name]
    if sig.context_param is not None:
        sink = runtime.sink

        def emit(level: str, message: str) -> None:
            if sink is not None:
                sink.emit(LogEmitted(run_id, node.name, level, message))

        context = AssetContext(
            node.name,
            run_id=run_id,
            partition=window,
            resources=resources,
            target=runtime.target,
            config=kwargs.get(sig.config_param) if sig.config_param else None,
            emit=emit,
        )
        kwargs[sig.context_param] = context
    value = call_asset(spec, info.module_path, runtime.project_root, kwargs)
    metadata: dict[str, Any] = {"language": "python"}
    if context is not None:
        metadata.update(redaction.scrub_data(context.output_metadata))  # a resource's secret
    if node.materialized == "none":
        rows = None
        if value is not None and is_table(value):
            produced = to_arrow(value, node, spec)
            rows = int(produced.num_rows)
            metadata["output_schema"] = output_schema(produced)
        return PythonOutput(None, rows, {"materialized": "none", **metadata})
    where = Location(info.module_path, function_line(spec.fn))
    if value is None:
        raise ModelFailedError(
            f"asset '{node.name}' returned None",
            location=where,
            hint="Return a polars DataFrame/LazyFrame, a pyarrow Table or (stored by "
            "io_manager='objects') another Python object, or declare materialized='none' for "
            "an asset that only has side effects",
        )
    io_name = info.io_manager or ("warehouse" if is_table(value) else "objects")
    if builtin_of(io_name, runtime.resources, runtime.target) == "warehouse":
        table = to_arrow(value, node, spec)
        check_columns(table, node, spec, sig)
        if window is not None:
            check_partition_column(table, node)
        if info.io_manager is None:  # by type: a table now, so no object of it stays behind
            _forget_object(runtime, node, window)
        metadata["io_manager"] = io_name
        metadata["output_schema"] = output_schema(table)
        return PythonOutput(table, int(table.num_rows), metadata)
    rows = None
    if is_table(value):
        table = to_arrow(value, node, spec)
        check_columns(table, node, spec, sig)
        if window is not None:
            check_partition_column(table, node)
        rows, value = int(table.num_rows), _same_kind(value, table)
        metadata["output_schema"] = output_schema(table)
    manager = runtime.io_manager(io_name, adapter, node.relation.schema_name)
    if not manager.accepts(value):
        raise StorageError(
            f"asset '{node.name}' returned a {_type(value)}, which its IO manager '{io_name}' "
            "does not store",
            location=where,
            hint="Return a type it stores, or choose another IO manager with io_manager= "
            "('objects' stores any picklable object, 'parquet' and 'warehouse' tables); nothing "
            "was written",
        )
    out = OutputContext(
        key=(node.name, window.key) if window is not None else (node.name,),
        asset=node.name,
        run_id=run_id,
        partition=window,
        annotation=sig.output_annotation,
        resources=resources,
        config=dict(node.config.io_manager_config),
    )
    try:
        manager.handle_output(out, value)
    except OrchError:
        raise
    except Exception as err:  # a project's IO manager: any error fails only this step
        raise StorageError(
            f"asset '{node.name}': its IO manager '{io_name}' ({type(manager).__name__}) failed "
            f"to store the output: {type(err).__name__}: {err}",
            location=where,
            hint="Fix the IO manager's handle_output; the previously stored output is unchanged "
            "unless the IO manager itself replaced it",
        ) from err
    stored = redaction.scrub_data(out.metadata)
    with runtime._lock:
        runtime.stored_metadata[(node.name, window.key if window else None)] = dict(stored)
    if rows is None and isinstance(stored.get("rows"), int):
        rows = stored["rows"]
    partition = {"partition": window.key} if window is not None else {}
    return PythonOutput(
        None,
        rows,
        {
            "materialized": "partition" if window is not None else node.materialized,
            **partition,
            **metadata,
            "io_manager": io_name,
            **stored,
        },
    )


def _parameters(spec: AssetSpec) -> dict[str, Any]:
    """The function's parameter annotations (resolved where possible)."""
    try:
        hints = typing.get_type_hints(spec.fn)
    except Exception:  # unresolvable string annotations: hand them over as written
        hints = {}
    out = {}
    for name, param in inspect.signature(spec.fn).parameters.items():
        annotation = hints.get(name, param.annotation)
        out[name] = None if annotation is inspect.Parameter.empty else annotation
    return out


def _same_kind(value: Any, table: pa.Table) -> Any:
    """A lazy frame collected once (its table is what is stored), other tables as they are."""
    if type(value).__name__ == "LazyFrame":
        return to_polars(table)
    return value


def _type(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _forget_object(runtime: PythonRuntime, node: Node, window: PartitionWindow | None) -> None:
    """Remove an object the ``objects`` IO manager stored for ``node`` when it returned one
    (now it returns a table: the warehouse holds it, and a stale object must not shadow it)."""
    objects = runtime.io.get("objects")
    path_for = getattr(objects, "path_for", None)
    if path_for is None:
        return
    key = (node.name, window.key) if window is not None else (node.name,)
    if objects.has_output(OutputContext(key=key, asset=node.name)):
        try:
            Path(path_for(key)).unlink()
        except OSError:
            pass


# --------------------------------------------------------------------------- calling


def call_asset(
    spec: AssetSpec, module_path: str, project_root: Path, kwargs: dict[str, Any]
) -> Any:
    """Call the user's function; an exception becomes ModelFailedError with a trimmed traceback."""
    try:
        return spec.fn(**kwargs)
    except Exception as err:
        raise user_code_error(spec.name, module_path, project_root / module_path, err) from err


def user_code_error(name: str, module_path: str, abs_path: Path, err: BaseException) -> Exception:
    """The error of a failed asset function: frames in the model file only."""
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if _same_file(f.filename, abs_path)
    ]
    line = frames[-1].lineno if frames else 0
    lines = [f"asset '{name}' raised {type(err).__name__}: {err}"]
    if frames:
        lines.append(f"Traceback (in {module_path}, most recent call last):")
        for f in frames:
            lines.append(f"  line {f.lineno}, in {f.name}")
            if f.line:
                lines.append(f"    {f.line.strip()}")
    return ModelFailedError("\n".join(lines), location=Location(module_path, line or 0))


def _same_file(filename: str, abs_path: Path) -> bool:
    try:
        return Path(filename).resolve() == abs_path.resolve()
    except OSError:
        return False


# --------------------------------------------------------------------------- partitions


def upstream_filter(
    adapter: Adapter, node: Node, upstream: Node, key: str | None
) -> exp.Expr | None:
    """Which rows of ``upstream`` partition ``key`` of ``node`` reads (None: all of them)."""
    from orch.sql import written_columns
    from sqlglot import exp

    down_cfg, up_cfg = node.config.partitioned_by, upstream.config.partitioned_by
    if key is None or down_cfg is None or up_cfg is None or not down_cfg.filter_upstream:
        return None
    if up_cfg.column is None:
        return None
    down = partitions.definition_of(down_cfg, asset=node.name)
    up = partitions.definition_of(up_cfg, asset=upstream.name)
    keys = partitions.upstream_keys(down, key, up)
    if keys is None:
        return None
    written = written_columns(upstream.compiled_code, adapter.dialect)  # its quoted columns
    column = names.column(up_cfg.column, adapter.dialect, written=written)  # as stored
    if not keys:
        return exp.false()
    if isinstance(up, partitions.StaticKeys):
        return column.isin(*[exp.Literal.string(k) for k in keys])
    lo, _ = up.window(keys[0])
    _, hi = up.window(keys[-1])
    ts = exp.DataType(this=partitions.WINDOW_TYPE)
    start = exp.cast(exp.Literal.string(lo.isoformat(sep=" ")), ts)
    end = exp.cast(exp.Literal.string(hi.isoformat(sep=" ")), ts)
    return exp.and_(
        exp.GTE(this=column, expression=start), exp.LT(this=column.copy(), expression=end)
    )


# --------------------------------------------------------------------------- inputs


def remove_owned_files(
    manifest: Manifest, assets: list[str], runtime: PythonRuntime
) -> dict[str, list[str]]:
    """``--full-refresh``: remove the files the ``parquet`` and ``objects`` IO managers wrote
    for each asset (every partition's; nothing else in its folder). Returns them by asset."""
    removed: dict[str, list[str]] = {}
    for name in assets:
        node = manifest.nodes.get(name)
        info = node.python if node is not None else None
        if info is None or info.io_manager is None:
            continue
        builtin = builtin_of(info.io_manager, runtime.resources, runtime.target)
        if builtin not in ("parquet", "objects"):
            continue
        manager = runtime.io.get(info.io_manager)
        owned = getattr(manager, "owned_files", None)
        location = getattr(manager, "location", None)
        if owned is None or location is None:
            continue
        files = owned((name,))
        for f in files:
            location.remove(f)
        if files:
            removed[name] = files
    return removed


def stored_by(upstream: Node, runtime: PythonRuntime | None) -> str:
    """The IO manager holding ``upstream``'s output: ``warehouse`` for SQL models, seeds and
    sources; a Python asset's own, or (decided by type at run time) ``objects`` when an object
    of it is stored, else the warehouse."""
    info = upstream.python
    if info is None:
        return "warehouse"
    if info.io_manager is not None:
        return info.io_manager
    if runtime is None:
        return "warehouse"
    objects = runtime.io.get("objects")
    key = OutputContext(key=(upstream.name,), asset=upstream.name)
    if upstream.config.partitioned_by is None and objects.has_output(key):
        return "objects"
    folder = getattr(objects, "path_for", None)
    if upstream.config.partitioned_by is not None and folder is not None:
        if Path(folder((upstream.name,))).is_dir():
            return "objects"
    return "warehouse"


def upstream_partition_keys(node: Node, upstream: Node, partition: str | None) -> list[str] | None:
    """The upstream partitions partition ``partition`` of ``node`` reads (None: all of them)."""
    down_cfg, up_cfg = node.config.partitioned_by, upstream.config.partitioned_by
    if partition is None or down_cfg is None or up_cfg is None:
        return None
    wanted = down_cfg.filter_upstream
    if wanted is False or (isinstance(wanted, list) and upstream.name not in wanted):
        return None
    down = partitions.definition_of(down_cfg, asset=node.name)
    up = partitions.definition_of(up_cfg, asset=upstream.name)
    return partitions.upstream_keys(down, partition, up)


def load_input(
    adapter: Adapter,
    manifest: Manifest,
    node: Node,
    upstream: Node,
    kind: str,
    partition: str | None,
    *,
    runtime: PythonRuntime | None = None,
    run_id: str = "",
    param: str | None = None,
    annotation: Any = None,
    resources: Mapping[str, Any] | None = None,
) -> Any:
    """Load an upstream asset through its IO manager, as the annotated type.

    From the warehouse (and for a partition, only its window of a partitioned upstream) it comes
    as Arrow and becomes polars/Arrow/pandas without copying where Arrow allows; from another
    IO manager as that IO manager loads it (only the partitions the step needs).
    """
    param = param or upstream.name
    if upstream.materialized == "external":
        root = runtime.project_root if runtime is not None else Path(".")
        table = read_external(
            upstream, root, manifest.project.target_name, node.name, param, adapter
        )
        return as_input(table, kind, node, param, upstream)
    io_name = stored_by(upstream, runtime)
    if (
        runtime is not None
        and builtin_of(io_name, runtime.resources, runtime.target) != "warehouse"
    ):
        assert upstream.relation is not None
        if upstream.python is not None:  # its classes, for an object stored by reference
            find_asset(upstream.python.module_path, runtime.project_root, upstream.name)
        manager = runtime.io_manager(io_name, adapter, upstream.relation.schema_name)
        keys = upstream_partition_keys(node, upstream, partition)
        partitioned = upstream.config.partitioned_by is not None
        single = keys[0] if keys is not None and len(keys) == 1 else None
        recorded = runtime.stored_metadata.get((upstream.name, None if not partitioned else single))
        context = InputContext(
            name=param,
            upstream_output=OutputContext(
                key=(upstream.name,),
                asset=upstream.name,
                metadata=dict(recorded or {}),
                config=dict(upstream.config.io_manager_config),
            ),
            asset=node.name,
            run_id=run_id,
            partition_keys=keys if partitioned else None,
            annotation=annotation,
            resources=dict(resources or {}),
            all_partitions=partitioned and keys is None,
        )
        try:
            value = manager.load_input(context)
        except OrchError:
            raise
        except Exception as err:  # a project's IO manager: any error fails only this step
            raise StorageError(
                f"asset '{node.name}': input '{param}' (from '{upstream.name}', IO manager "
                f"'{io_name}') cannot be loaded: {type(err).__name__}: {err}",
                hint="Fix the IO manager's load_input, or rebuild the upstream",
            ) from err
        return as_input(value, kind, node, param, upstream)
    where = upstream_filter(adapter, node, upstream, partition)
    where_sql = where.sql(dialect=adapter.dialect) if where is not None else None
    if upstream.relation is None:  # ephemeral: run its query
        sql = upstream.compiled_code
        if where_sql:
            sql = f"SELECT * FROM ({sql}) AS {adapter.quote('__orch_in')} WHERE {where_sql}"
        table = adapter.fetch_arrow(sql)
    else:
        table = adapter.read_arrow(upstream.relation.to_relation(), where_sql)
    if kind == "arrow":
        return table
    return as_input(table, kind, node, param, upstream)


def as_input(value: Any, kind: str, node: Node, param: str, upstream: Node) -> Any:
    """A loaded value as the parameter's type: polars (default), lazy, Arrow, pandas, or, for an
    object annotation (or an unannotated parameter reading an object), the object itself."""
    if not is_table(value):
        if kind in ("object", "polars"):
            return value
        raise StorageError(
            f"asset '{node.name}': parameter '{param}' is annotated as a table ({kind}), but "
            f"'{upstream.name}' stored a {_type(value)}",
            hint="Annotate the parameter with the stored type (or leave it unannotated)",
        )
    if kind == "object":
        return value
    module = type(value).__module__.split(".", 1)[0]
    if kind == "pandas" and module == "pandas":
        return value
    if kind == "arrow" and module == "pyarrow" and type(value).__name__ == "Table":
        return value
    if kind == "lazy" and type(value).__name__ == "LazyFrame":
        return value
    return as_table_type(to_polars(value), kind)


# --------------------------------------------------------------------------- outputs


def to_arrow(value: Any, node: Node, spec: AssetSpec) -> pa.Table:
    """The returned value as an Arrow table; ModelFailedError naming the type otherwise."""
    import pyarrow as pa

    module = type(value).__module__.split(".", 1)[0]
    if module == "polars":
        import polars as pl

        if isinstance(value, pl.LazyFrame):
            value = value.collect()
        if isinstance(value, pl.DataFrame):
            return value.to_arrow()
    if isinstance(value, pa.Table):
        return value
    if module == "pandas" and type(value).__name__ == "DataFrame":  # through Arrow
        return pa.Table.from_pandas(value, preserve_index=False)
    if isinstance(value, pa.RecordBatchReader):
        return value.read_all()
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    got = f"{type(value).__module__}.{type(value).__qualname__}"
    raise StorageError(
        f"asset '{node.name}' returned a {got}, which its IO manager 'warehouse' does not store "
        "(it stores tables)",
        location=Location(node.path or "", function_line(spec.fn)),
        hint="Return a polars/pandas DataFrame or a pyarrow Table, or store the object with "
        "io_manager='objects'",
    )


_FAMILIES = {
    "integer": ("int", "bigint", "smallint", "tinyint", "hugeint", "integer", "long", "number"),
    "float": ("float", "double", "real", "decimal", "numeric"),
    "string": ("varchar", "text", "string", "char", "utf8"),
    "boolean": ("bool",),
    "date": ("date",),
    "timestamp": ("timestamp", "datetime"),
}


def _family_of_sql(data_type: str) -> str | None:
    text = data_type.lower()
    if text.startswith(("decimal", "numeric")) or (text.startswith("number") and "," in text):
        return "float"
    for family in ("timestamp", "date", "boolean", "float", "integer", "string"):
        if any(text.startswith(word) for word in _FAMILIES[family]):
            return family
    return None


def _family_of_arrow(dtype: Any) -> str | None:
    import pyarrow as pa

    t = pa.types
    if t.is_integer(dtype):
        return "integer"
    if t.is_floating(dtype) or t.is_decimal(dtype):
        return "float"
    if t.is_string(dtype) or t.is_large_string(dtype) or str(dtype) == "string_view":
        return "string"
    if t.is_boolean(dtype):
        return "boolean"
    if t.is_date(dtype):
        return "date"
    if t.is_timestamp(dtype):
        return "timestamp"
    if t.is_null(dtype):
        return "null"
    return None


def check_columns(table: pa.Table, node: Node, spec: AssetSpec, sig: Signature) -> None:
    """Declared columns must be there with a compatible type (``contract``: and nothing else).

    Runs before anything is written, so a broken schema never replaces the old table.
    """
    declared = {c: i.data_type for c, i in node.columns.items()}
    required = {c: t for c, t in declared.items() if c in spec.columns or t or node.config.contract}
    if not required:
        return
    got = {f.name: f.type for f in table.schema}
    got_lower = {n.lower(): n for n in got}
    problems = []
    for column, data_type in required.items():
        actual = got.get(column) or got.get(got_lower.get(column.lower(), ""))
        if actual is None:
            problems.append(f"column '{column}' is missing")
            continue
        if data_type:
            want, have = _family_of_sql(data_type), _family_of_arrow(actual)
            if want and have and have != "null" and want != have:
                if not (want == "float" and have == "integer"):
                    problems.append(f"column '{column}' is {actual}, declared {data_type}")
    if node.config.contract:
        extra = [n for n in got if n.lower() not in {c.lower() for c in declared}]
        problems.extend(f"column '{n}' is not declared (contract)" for n in extra)
    if problems:
        raise ModelFailedError(
            f"asset '{node.name}' returned a table that breaks its declared columns: "
            + "; ".join(problems),
            location=Location(node.path or "", function_line(spec.fn)),
            hint="Fix the function or the declared columns; nothing was written",
        )


def check_partition_column(table: pa.Table, node: Node) -> None:
    """A partition's rows need the partition column (named in ``partitioned_by.column``)."""
    config = node.config.partitioned_by
    if config is None:
        return
    if config.column is None:
        raise ConfigError(
            f"partitioned Python asset '{node.name}' needs partitioned_by.column",
            location=Location(node.path or ""),
            hint="Name the column holding the partition's time (or key), e.g. "
            "partitioned_by={'grain': 'daily', 'start': '2024-01-01', 'column': 'day'}",
        )
    if config.column not in table.column_names:
        raise ModelFailedError(
            f"asset '{node.name}' returned no partition column '{config.column}'",
            location=Location(node.path or ""),
            hint="Return the partition column; nothing was written",
        )
