"""``materialized='external'``: a SQL model's rows written as Parquet or CSV files (dbt-duckdb's
spelling: ``location``, ``format: parquet|csv``, ``partition_by``).

The warehouse writes the files (``Adapter.export_query``: DuckDB's ``COPY ... TO``) into a
temporary name next to the location, which then replaces the old file or folder with renames,
so a reader never sees half of it and a failed build leaves the old files in place. Downstream
SQL models read them with ``read_parquet``/``read_csv`` (the compiler), Python assets through
polars (:func:`read_external`).

A location may be an fsspec URL (``s3://bucket/orders.parquet``; ``memory://`` in tests): the
adapter then writes and reads it through fsspec (``Adapter.register_filesystem``), into a
temporary name beside it first and moved into place, and Python assets read it through the
warehouse too, so both kinds of reader see the same columns.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.adapters.base import Adapter
from orch.errors import ModelFailedError, StorageError
from orch.manifest import Node
from orch.run.io.location import TEMP_PREFIX, Location, unwritable
from orch.storage import ExternalFiles, external_files, is_remote, scan_select

if TYPE_CHECKING:
    import polars as pl


def files_of(node: Node, project_root: Path | str, target: str) -> ExternalFiles:
    """The external model's files (its settings resolved against the project folder)."""
    try:
        return external_files(node.name, node.config.extra, project_root, target)
    except ValueError as err:  # the compiler validated them; a hand-edited manifest
        raise ModelFailedError(f"external model '{node.name}': {err}") from None


def write_external(
    node: Node, adapter: Adapter, select_sql: str, project_root: Path | str, target: str
) -> dict[str, Any]:
    """Write ``select_sql``'s rows as the model's files, atomically; their metadata."""
    files = files_of(node, project_root, target)
    what = f"model '{node.name}'"
    if is_remote(files.location):
        return _write_remote(files, adapter, select_sql, what)
    final = Path(files.location)
    temp = final.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{final.name}.tmp")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _sweep(final.parent, final.name)
        probe = final.parent / f"{TEMP_PREFIX}probe-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise unwritable(what, str(final), err) from None
    try:
        rows = adapter.export_query(select_sql, str(temp), files.format, files.partition_by)
        _swap(temp, final)
    except BaseException:
        _remove(temp)
        raise
    size = _size(final)
    return {
        "materialized": "external",
        "uri": final.resolve().as_uri(),
        "format": files.format,
        "bytes": size,
        **({"rows": rows} if rows is not None else {}),
        **({"partition_by": list(files.partition_by)} if files.partition_by else {}),
    }


def _write_remote(
    files: ExternalFiles, adapter: Adapter, select_sql: str, what: str
) -> dict[str, Any]:
    """Write the files at a URL: the warehouse writes a temporary name beside the location
    through fsspec, which then replaces the old file or folder."""
    location = Location(files.location)
    fs = location.fs  # StorageError naming the URL and what to install
    adapter.register_filesystem(fs)
    folder, _, name = files.location.rstrip("/").rpartition("/")
    temp = f"{folder}/{TEMP_PREFIX}{uuid.uuid4().hex}-{name}.tmp"
    try:
        rows = adapter.export_query(select_sql, temp, files.format, files.partition_by)
    except BaseException:
        _remove_remote(fs, temp)
        raise
    try:
        if fs.exists(files.location):
            fs.rm(files.location, recursive=True)
        fs.mv(temp, files.location, recursive=bool(files.partition_by))
    except OSError as err:
        _remove_remote(fs, temp)
        raise unwritable(what, files.location, err) from None
    found = fs.find(files.location) if files.partition_by else [files.location]
    return {
        "materialized": "external",
        "uri": files.location,
        "format": files.format,
        "bytes": sum(int(fs.size(f)) for f in found),
        **({"rows": rows} if rows is not None else {}),
        **({"partition_by": list(files.partition_by)} if files.partition_by else {}),
    }


def _remove_remote(fs: Any, path: str) -> None:
    try:
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except OSError:
        pass


def read_external(
    upstream: Node,
    project_root: Path | str,
    target: str,
    downstream: str,
    param: str,
    adapter: Adapter | None = None,
) -> pl.DataFrame:
    """An external model's files as a polars DataFrame (a Python asset's input); files at a
    URL are read through the warehouse (``adapter``), as SQL models read them."""
    import polars as pl  # heavy: only when a Python asset reads an external model

    files = files_of(upstream, project_root, target)
    scan = files.scan_path
    if is_remote(files.location):
        if adapter is None:
            raise StorageError(
                f"asset '{downstream}': input '{param}' (external model '{upstream.name}') is "
                f"at a URL ({files.location}), which is read through the warehouse",
                path=files.location,
                hint="Read it from a run (orch build), not from a test helper without a target",
            )
        adapter.register_filesystem(Location(files.location).fs)
        select = scan_select(files.scan_path, files.format, bool(files.partition_by))
        frame = pl.from_arrow(adapter.fetch_arrow(select.sql(dialect=adapter.dialect)))
        assert isinstance(frame, pl.DataFrame)
        return frame
    if not files.partition_by and not is_remote(files.location):
        if not Path(files.location).exists():
            raise StorageError(
                f"asset '{downstream}': input '{param}' (external model '{upstream.name}') has "
                f"no files at {files.location}",
                path=files.location,
                hint=f"Build it first: orch build -s {upstream.name}",
            )
    try:
        if files.format == "csv":
            return pl.read_csv(scan, try_parse_dates=True)
        return pl.scan_parquet(scan, hive_partitioning=bool(files.partition_by)).collect()
    except (OSError, pl.exceptions.PolarsError) as err:
        raise StorageError(
            f"asset '{downstream}': input '{param}' (external model '{upstream.name}') cannot "
            f"be read from {scan}: {err}",
            path=files.location,
            hint=f"Rebuild it: orch build -s {upstream.name}",
        ) from err


def remove_external(node: Node, project_root: Path | str, target: str) -> list[str]:
    """Remove the model's files (``--full-refresh``); what was removed."""
    files = files_of(node, project_root, target)
    if is_remote(files.location):
        fs = Location(files.location).fs
        if not fs.exists(files.location):
            return []
        fs.rm(files.location, recursive=True)
        return [files.location]
    final = Path(files.location)
    if not final.exists():
        return []
    _remove(final)
    return [str(final)]


def _swap(temp: Path, final: Path) -> None:
    """Put ``temp`` where ``final`` is: a file by one rename; a folder by moving the old one
    aside first (then removing it)."""
    if temp.is_dir() or final.is_dir():
        old = final.with_name(f"{TEMP_PREFIX}old-{uuid.uuid4().hex}-{final.name}.tmp")
        if final.exists():
            os.replace(final, old)
        os.replace(temp, final)
        _remove(old)
    else:
        os.replace(temp, final)


def _sweep(folder: Path, name: str) -> None:
    """Remove what a killed build of ``name`` left in ``folder``."""
    for p in folder.glob(f"{TEMP_PREFIX}*-{name}.tmp"):
        _remove(p)


def _remove(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    except OSError:
        pass


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0
