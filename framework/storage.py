"""IO managers: how a step's output is stored and how a downstream input loads it.

An IO manager is a :class:`orch.Resource` (pydantic-configured under ``resources:``, per target,
secrets through ``env_var()``) with two methods. Built-ins live in :mod:`orch.run.io`
(``warehouse``, ``parquet``, ``objects``, ``memory``); a project adds its own by subclassing
:class:`IOManager`::

    class JsonLines(orch.IOManager):
        base_dir: str = "data"

        def handle_output(self, context: orch.OutputContext, obj: list[dict]) -> None:
            path = Path(self.base_dir, *context.key) .with_suffix(".jsonl")
            ...
            context.add_output_metadata({"path": str(path)})

        def load_input(self, context: orch.InputContext) -> list[dict]:
            path = Path(self.base_dir, *context.upstream_output.key).with_suffix(".jsonl")
            ...

The contexts are plain data built by the run (:mod:`orch.run.io` for assets, :mod:`orch.run.ops`
for ops); nothing here imports polars, pyarrow or the warehouse.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.assets import PartitionWindow, Resource, resource_values
from orch.errors import StorageError

if TYPE_CHECKING:
    from sqlglot import exp

log = logging.getLogger(__name__)

#: The built-in IO managers' names (their classes live in orch.run.io).
BUILTIN_IO_MANAGERS = ("memory", "objects", "parquet", "warehouse")
#: Built-ins that store only tables (polars, Arrow, pandas).
TABLE_IO_MANAGERS = ("parquet", "warehouse")
#: The ``io_manager_config`` keys each built-in takes: its own fields, for one output.
BUILTIN_OUTPUT_CONFIG: dict[str, tuple[str, ...]] = {
    "memory": (),
    "objects": ("format",),
    "parquet": ("compression",),
    "warehouse": (),
}
_BUILTIN_CLASSES = {
    "MemoryIOManager": "memory",
    "ObjectsIOManager": "objects",
    "ParquetIOManager": "parquet",
    "WarehouseIOManager": "warehouse",
}
#: Where built-ins keep files by default: ``<project>/.orch/storage/<target>/<name>``.
STORAGE_DIR = (".orch", "storage")
#: The Parquet IO manager's layout: ``<base>/<asset>/[key=<partition>/]data.parquet``.
PARQUET_FILE = "data.parquet"
PARTITION_PREFIX = "key="


#: The string a partitioned SQL model's compiled SQL reads a partitioned Parquet asset through:
#: ``read_parquet('__orch_parquet_files__<asset>__')``; the run binds it to the exact files of
#: the partitions the step needs (orch.run.io.scan), so no other partition's file is opened.
PARQUET_FILES_TOKEN = "__orch_parquet_files__"


def parquet_files_placeholder(asset: str) -> str:
    """The placeholder string a step's file list replaces (see :data:`PARQUET_FILES_TOKEN`)."""
    return f"{PARQUET_FILES_TOKEN}{asset}__"


def parquet_glob(base_dir: str, asset: str, partitioned: bool) -> str:
    """An asset's Parquet files as one path or glob (what SQL reads with ``read_parquet``)."""
    base = base_dir.rstrip("/")
    if partitioned:
        return f"{base}/{asset}/{PARTITION_PREFIX}*/{PARQUET_FILE}"
    return f"{base}/{asset}/{PARQUET_FILE}"


def declared_type(decl: Any, target: str | None = None) -> str | None:
    """A resource's ``type``: ``targets.<target>.type`` when given (an IO manager may differ per
    target: Parquet files on DuckDB, the warehouse on Snowflake), else its own ``type``."""
    if not isinstance(decl, Mapping):
        return None
    per_target = decl.get("targets")
    if target is not None and isinstance(per_target, Mapping):
        override = per_target.get(target)
        if isinstance(override, Mapping) and override.get("type") is not None:
            return str(override["type"])
    value = decl.get("type")
    return None if value is None else str(value)


def builtin_of(name: str, declarations: Mapping[str, Any], target: str | None = None) -> str | None:
    """The built-in IO manager ``name`` stands for on ``target``: itself (undeclared, or declared
    without a type), or the built-in its declared ``type`` names; None for a project's own
    class."""
    text = declared_type(declarations.get(name), target)
    if text is None:
        return name if name in BUILTIN_IO_MANAGERS else None
    text = text.rsplit(".", 1)[-1]
    if text in BUILTIN_IO_MANAGERS:
        return text
    return _BUILTIN_CLASSES.get(text)


def is_remote(base: str) -> bool:
    """Whether a base folder is an fsspec URL (``s3://...``) rather than a local path."""
    head, sep, _ = base.partition("://")
    return bool(sep) and head not in ("file", "local")


def filesystem_problem(url: str) -> str | None:
    """Why fsspec cannot reach ``url``'s filesystem in this environment (what to install), or
    None. fsspec is imported only here, for a URL."""
    try:
        import fsspec  # optional and heavy: only for URLs
    except ImportError:
        return "fsspec is not installed (pip install fsspec)"
    try:
        fsspec.get_filesystem_class(url.split("://", 1)[0])
    except (ImportError, ValueError) as err:
        return str(err)
    return None


def builtin_base_dir(
    name: str, declarations: Mapping[str, Any], target: str, project_root: Path | str
) -> str:
    """Where a file-based built-in (``objects``, ``parquet``) named ``name`` keeps its files.

    Its declared ``base_dir`` (per target), relative to the project folder; by default
    ``<project>/.orch/storage/<target>/<name>``. The compiler (SQL reading Parquet) and the run
    ask this one function, so both agree.
    """
    values = resource_values(declarations, name, target) if name in declarations else {}
    base = values.get("base_dir")
    if base is None:
        return str(Path(project_root, *STORAGE_DIR, target, name))
    text = str(base)
    if text.startswith(("file://", "local://")):
        text = text.split("://", 1)[1]
    if is_remote(text) or Path(text).is_absolute():
        return text
    return str(Path(project_root, text))


@dataclass
class OutputContext:
    """What an IO manager knows when it stores one output.

    Attributes:
        key: where the output lives, as path parts: ``("orders",)`` for an asset, plus the
            partition key for a partitioned asset; ``(run_id, step_key, output)`` for an op.
        asset: the asset's name, or None for an op output.
        op: the op's name (``step_key`` for a mapped op: ``train[fold_1]``), or None for an asset.
        output: the output's name (``result`` when the op or asset has one).
        run_id: the run writing it.
        partition: the partition being written, or None.
        annotation: the output's declared type (the annotation, or ``Out(type)``), if any.
        resources: resources by name, as the step sees them.
        config: the IO manager-specific settings of this asset/op output (``io_manager_config``).
        metadata: what :meth:`add_output_metadata` recorded (URI, bytes, rows, format...).
    """

    key: tuple[str, ...]
    output: str = "result"
    asset: str | None = None
    op: str | None = None
    run_id: str = ""
    partition: PartitionWindow | None = None
    annotation: Any = None
    resources: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def partition_key(self) -> str | None:
        """The partition key being written, or None."""
        return self.partition.key if self.partition else None

    @property
    def step_name(self) -> str:
        """The asset's or op's name, for messages."""
        return self.asset or self.op or ".".join(self.key)

    def add_output_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Record JSON-able facts about the stored output (recorded with the materialization)."""
        for k, v in metadata.items():
            try:
                json.dumps(v)
            except TypeError:
                v = str(v)
            self.metadata[str(k)] = v


@dataclass
class InputContext:
    """What an IO manager knows when it loads one input of a step.

    Attributes:
        name: the input's (parameter's) name in the downstream step.
        upstream_output: the context the upstream output was stored with (its key, and the
            metadata recorded when it was stored, e.g. its URI and rows).
        asset: the downstream asset's name, or None for an op.
        op: the downstream op's name, or None for an asset.
        partition_keys: the upstream partition keys the step reads (None: an unpartitioned
            upstream, or every stored partition when ``all_partitions``).
        all_partitions: the upstream is partitioned and the step reads all of its partitions.
        annotation: the input's declared type (load as this: polars, Arrow, pandas...).
        resources: resources by name, as the step sees them.
    """

    name: str
    upstream_output: OutputContext
    asset: str | None = None
    op: str | None = None
    run_id: str = ""
    partition_keys: list[str] | None = None
    annotation: Any = None
    resources: Mapping[str, Any] = field(default_factory=dict)
    all_partitions: bool = False

    @property
    def step_name(self) -> str:
        """The downstream asset's or op's name, for messages."""
        return self.asset or self.op or self.name

    def upstream_keys(self) -> list[tuple[str, ...]]:
        """The keys to load: the upstream's key, or one key per partition in ``partition_keys``.

        For a partitioned upstream the run passes its asset key (without a partition) in
        ``upstream_output.key`` and the partitions the step reads in ``partition_keys``.
        """
        base = self.upstream_output.key
        if self.partition_keys is None:
            return [base]
        return [(*base, k) for k in self.partition_keys]

    def combine(self, loaded: Mapping[str, Any]) -> Any:
        """What a per-partition IO manager hands over: the one object of a single partition,
        or ``{partition_key: object}`` for several (Dagster's convention)."""
        if self.partition_keys is not None and len(self.partition_keys) == 1:
            return loaded[self.partition_keys[0]]
        return dict(loaded)


class IOManager(Resource, ABC):
    """Base of an IO manager: store an output (:meth:`handle_output`), load an input
    (:meth:`load_input`). Subclass it with typed fields; configure it under ``resources:``."""

    @abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Store ``obj``, atomically where the storage allows it (readers never see half)."""

    @abstractmethod
    def load_input(self, context: InputContext) -> Any:
        """Load what :meth:`handle_output` stored for ``context.upstream_output``."""

    def accepts(self, obj: Any) -> bool:
        """Whether this IO manager can store ``obj`` (checked before :meth:`handle_output`)."""
        return True

    def has_output(self, context: OutputContext) -> bool:
        """Whether an output is stored for ``context`` (``--from-failure`` and status use it)."""
        return False

    def configured(self, config: Mapping[str, Any], what: str) -> Any:
        """This IO manager with an output's ``io_manager_config`` over its fields (how the
        built-ins take per-asset settings), validated; StorageError naming ``what`` if bad."""
        if not config:
            return self
        try:
            return type(self).model_validate({**self.model_dump(), **config})
        except ValueError as err:  # pydantic's ValidationError
            raise StorageError(
                f"{what}: io_manager_config {dict(config)} is not valid for "
                f"{type(self).__name__}: {err}".splitlines()[0],
                hint="Fix io_manager_config (e.g. compression: snappy for parquet, format: "
                "joblib for objects)",
            ) from None


# --------------------------------------------------------------------------- external SQL models


@dataclass(frozen=True)
class ExternalFiles:
    """Where a ``materialized='external'`` SQL model's files are (dbt-duckdb's settings).

    Attributes:
        location: the file (or, with ``partition_by``, the folder), absolute or a URL.
        format: ``parquet`` or ``csv``.
        partition_by: columns the files are split by (hive-style folders), or empty.
    """

    location: str
    format: str
    partition_by: tuple[str, ...] = ()

    @property
    def scan_path(self) -> str:
        """What a reader scans: the file, or every data file under the partition folders."""
        if self.partition_by:
            return f"{self.location.rstrip('/')}/**/*.{self.format}"
        return self.location


EXTERNAL_FORMATS = ("parquet", "csv")


def scan_select(path: str, fmt: str, hive: bool) -> exp.Select:
    """``SELECT * FROM read_parquet(path, hive_partitioning = ...)`` (``read_csv_auto`` for
    CSV): how SQL reads files stored outside the warehouse (the compiler inlines it, the run
    reads external files at a URL with it)."""
    from sqlglot import exp

    function = "read_csv_auto" if fmt == "csv" else "read_parquet"
    args: list[exp.Expr] = [exp.Literal.string(path)]
    if fmt == "parquet":
        flag = exp.true() if hive else exp.false()
        args.append(exp.EQ(this=exp.column("hive_partitioning"), expression=flag))
    scan = exp.Table(this=exp.Anonymous(this=function, expressions=args))
    return exp.select(exp.Star()).from_(scan)


def external_files(
    name: str, extra: Mapping[str, Any], project_root: Path | str, target: str
) -> ExternalFiles:
    """The files of external model ``name`` from its settings (``location``, ``format``,
    ``partition_by``); default location ``<project>/.orch/storage/<target>/external/<name>.<fmt>``,
    a relative one relative to the project folder. Raises ValueError for a bad setting (the
    compiler turns it into a ConfigError naming the model)."""
    location = extra.get("location")
    fmt = extra.get("format")
    if fmt is None and isinstance(location, str) and location.lower().endswith(".csv"):
        fmt = "csv"
    fmt = str(fmt or "parquet").lower()
    if fmt not in EXTERNAL_FORMATS:
        raise ValueError(f"format '{fmt}' is not supported (use parquet or csv)")
    raw = extra.get("partition_by")
    if raw is None:
        columns: tuple[str, ...] = ()
    elif isinstance(raw, str):
        columns = tuple(c.strip() for c in raw.split(",") if c.strip())
    elif isinstance(raw, list | tuple) and all(isinstance(c, str) for c in raw):
        columns = tuple(raw)
    else:
        raise ValueError("partition_by must be a column name or a list of column names")
    if location is None:
        suffix = "" if columns else f".{fmt}"
        text = str(Path(project_root, *STORAGE_DIR, target, "external", f"{name}{suffix}"))
    else:
        text = str(location)
        if text.startswith(("file://", "local://")):
            text = text.split("://", 1)[1]
        if not is_remote(text) and not Path(text).is_absolute():
            text = str(Path(project_root, text))
    return ExternalFiles(text, fmt, columns)


def stored_outside_warehouse(
    materialized: str,
    io_manager: str | None,
    declarations: Mapping[str, Any],
    target: str | None = None,
) -> bool:
    """Whether an asset's data lives in files or objects rather than a warehouse relation (an
    external model, or a Python asset whose IO manager is not the warehouse)."""
    if materialized == "external":
        return True
    if io_manager is None:
        return False
    return builtin_of(io_manager, declarations, target) != "warehouse"
