"""SQL reading a partitioned Parquet asset: the exact files of one step, bound at run time.

A partitioned SQL model compiles its read of a partitioned Parquet-stored asset to
``read_parquet('__orch_parquet_files__<asset>__', ...)``
(:func:`orch.storage.parquet_files_placeholder`).
Each step replaces that string with the list of the files of the upstream partitions it reads —
the keys the partition mapping gives (:func:`orch.run.python.upstream_partition_keys`, the same
ones a Python asset's input loads) — so DuckDB opens only those files: not even the first file of
another partition for its schema, as a glob with hive filters would. When the mapping reads all
of the upstream (no window: a static and a time definition, ``filter_upstream: false``), the
glob of every partition's file is bound instead. A partition of the window without a file fails
the step, naming the asset and the keys.
"""

from __future__ import annotations

from pathlib import Path

from orch.adapters.base import Adapter
from orch.errors import StorageError
from orch.manifest import Manifest, Node
from orch.partitions import compress, definition_of
from orch.run.io import IOManagers
from orch.run.io.external import files_of
from orch.run.io.location import Location
from orch.run.io.parquet import ParquetIOManager
from orch.run.python import upstream_partition_keys
from orch.storage import (
    PARQUET_FILES_TOKEN,
    builtin_of,
    is_remote,
    parquet_files_placeholder,
    parquet_glob,
)


def bind_file_scans(
    sql: str,
    node: Node,
    manifest: Manifest,
    partition: str | None,
    io: IOManagers,
    dialect: str,
) -> str:
    """``sql`` with each partitioned Parquet upstream's placeholder replaced by the files step
    ``partition`` of ``node`` reads (quoted by sqlglot), or by their glob when it reads all.

    Raises StorageError naming the upstream and the keys when a needed partition has no file.
    """
    if PARQUET_FILES_TOKEN not in sql:
        return sql
    from sqlglot import exp  # only a model reading partitioned Parquet files gets here

    for parent in manifest.parents.get(node.name, []):
        upstream = manifest.nodes.get(parent)
        placeholder = exp.Literal.string(parquet_files_placeholder(parent)).sql(dialect=dialect)
        if upstream is None or placeholder not in sql:
            continue
        files = files_read(node, upstream, partition, io)
        literal: exp.Expr
        if isinstance(files, str):
            literal = exp.Literal.string(files)
        else:
            literal = exp.Array(expressions=[exp.Literal.string(f) for f in files])
        sql = sql.replace(placeholder, literal.sql(dialect=dialect))
    return sql


def register_remote_files(
    node: Node, manifest: Manifest, adapter: Adapter, root: Path | str, io: IOManagers
) -> None:
    """Let the warehouse reach the URLs ``node``'s SQL reads (fsspec): of the external models
    and the Parquet-stored assets it selects from."""
    for parent in manifest.parents.get(node.name, []):
        upstream = manifest.nodes.get(parent)
        if upstream is None:
            continue
        url: str | None = None
        if upstream.materialized == "external":
            url = files_of(upstream, root, manifest.project.target_name).location
        elif upstream.python is not None and upstream.python.io_manager is not None:
            name = upstream.python.io_manager
            if builtin_of(name, io.declarations, io.target) == "parquet":
                manager = io.get(name)
                url = manager.base_dir if isinstance(manager, ParquetIOManager) else None
        if url is not None and is_remote(url):
            adapter.register_filesystem(Location(url).fs)


def files_read(
    node: Node, upstream: Node, partition: str | None, io: IOManagers
) -> list[str] | str:
    """The Parquet files of ``upstream`` that step ``partition`` of ``node`` reads: the list of
    its window's files, or (reading all of it) the glob of every partition's file."""
    manager = _parquet_manager(upstream, io)
    keys = upstream_partition_keys(node, upstream, partition) if partition is not None else None
    if keys is None:
        return parquet_glob(manager.base_dir, upstream.name, partitioned=True)
    files = [manager.path_for((upstream.name,), k) for k in keys]
    missing = [k for k, f in zip(keys, files, strict=True) if not manager.location.exists(f)]
    if missing or not keys:
        raise _missing(node, upstream, partition, missing, manager)
    return files


def _parquet_manager(upstream: Node, io: IOManagers) -> ParquetIOManager:
    name = upstream.python.io_manager if upstream.python is not None else None
    manager = io.get(name) if name is not None else None
    if not isinstance(manager, ParquetIOManager):  # the compiler only scans Parquet files
        raise StorageError(
            f"'{upstream.name}' is not stored by a Parquet IO manager on this target "
            f"(io_manager: {name})",
            hint="Recompile the project (orch compile) after changing its io_manager",
        )
    return manager


def _missing(
    node: Node,
    upstream: Node,
    partition: str | None,
    missing: list[str],
    manager: ParquetIOManager,
) -> StorageError:
    folder = manager.folder_for((upstream.name,))
    if not missing:
        return StorageError(
            f"model '{node.name}' partition {partition} reads no partition of '{upstream.name}' "
            "(its window is outside the upstream's partitions)",
            path=folder,
            hint="Build partitions of the model that the upstream's partitions cover",
        )
    assert upstream.config.partitioned_by is not None
    definition = definition_of(upstream.config.partitioned_by, asset=upstream.name)
    runs = compress([(k, "") for k in missing], definition)
    keys = ", ".join(r.strip() for r in runs)
    first = missing[0]
    how = (
        f"orch build -s {upstream.name} --partition {first}"
        if len(missing) == 1
        else f"orch build -s {upstream.name} --start {first} --end {missing[-1]}"
    )
    return StorageError(
        f"model '{node.name}' partition {partition} reads '{upstream.name}', which has no "
        f"Parquet file for partition(s) {keys} (under {folder})",
        path=folder,
        hint=f"Build them first: {how} (or orch build -s +{node.name} --partition {partition})",
    )
