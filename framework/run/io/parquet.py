"""The ``parquet`` IO manager: tables as Parquet files in a folder or at an fsspec URL.

Layout under ``base_dir`` (hive-style, one file per partition key)::

    <base_dir>/orders/data.parquet                       an unpartitioned asset
    <base_dir>/events/key=2024-01-01/data.parquet        one partition of a partitioned asset
    <base_dir>/<run_id>/<step>/<output>/data.parquet     an op's output

Writes go through polars' own Parquet writer into a temporary file in the same folder, renamed
into place (:class:`orch.run.io.location.Location`), so a reader or a killed run never sees half
a file at the final path; a killed run's temporary files are swept on the next write. Inputs read
only the files of the partitions the step needs (``InputContext.partition_keys``). polars is the
fast path; Arrow tables and pandas frames are converted without copying where Arrow allows.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from orch.assets import table_type_of
from orch.errors import StorageError
from orch.run.io.location import Location, key_part, missing_input
from orch.storage import PARQUET_FILE, PARTITION_PREFIX, InputContext, IOManager, OutputContext

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)

FILE_NAME = PARQUET_FILE
Compression = Literal["zstd", "snappy", "lz4", "gzip", "brotli", "uncompressed"]


def is_table(obj: Any) -> bool:
    """Whether ``obj`` is a table the Parquet (or warehouse) IO manager can store."""
    module = type(obj).__module__.split(".", 1)[0]
    name = type(obj).__name__
    if module == "polars":
        return name in ("DataFrame", "LazyFrame")
    if module == "pyarrow":
        return name in ("Table", "RecordBatch", "RecordBatchReader")
    if module == "pandas":
        return name == "DataFrame"
    return False


def to_polars(obj: Any) -> pl.DataFrame:
    """A table (polars, Arrow, pandas) as a polars DataFrame (no copy from Arrow)."""
    import polars as pl  # heavy: only when a table is stored

    if isinstance(obj, pl.LazyFrame):
        return obj.collect()
    if isinstance(obj, pl.DataFrame):
        return obj
    module = type(obj).__module__.split(".", 1)[0]
    if module == "pandas":
        return pl.from_pandas(obj)
    import pyarrow as pa

    if isinstance(obj, pa.RecordBatchReader):
        obj = obj.read_all()
    if isinstance(obj, pa.RecordBatch):
        obj = pa.Table.from_batches([obj])
    frame = pl.from_arrow(obj, rechunk=False)
    return frame if isinstance(frame, pl.DataFrame) else frame.to_frame()


def as_table_type(frame: pl.DataFrame, kind: str | None) -> Any:
    """``frame`` as the type an input asks for: polars (default), lazy, Arrow or pandas."""
    if kind == "lazy":
        return frame.lazy()
    if kind == "arrow":
        return frame.to_arrow()
    if kind == "pandas":
        return frame.to_pandas()
    return frame


class ParquetIOManager(IOManager):
    """Stores tables as Parquet under ``base_dir`` (a folder or an fsspec URL)."""

    base_dir: str = "parquet"
    compression: Compression = "zstd"
    fsync: bool = False  # also flush to disk before the rename (survives power loss; slower)

    @property
    def location(self) -> Location:
        """The base folder or URL."""
        return Location(self.base_dir)

    def folder_for(self, key: tuple[str, ...]) -> str:
        """The folder of an asset (or op output): ``<base_dir>/<key parts>``."""
        return self.location.join(*key)

    def path_for(self, key: tuple[str, ...], partition_key: str | None = None) -> str:
        """The file of ``key`` (and partition): ``.../key=<partition>/data.parquet``."""
        if partition_key is None:
            return self.location.join(*key, FILE_NAME)
        return self.location.join(*key, PARTITION_PREFIX + partition_key, FILE_NAME)

    def accepts(self, obj: Any) -> bool:
        """Tables only: polars DataFrame/LazyFrame, Arrow Table/RecordBatch, pandas DataFrame."""
        return is_table(obj)

    def _split(self, context: OutputContext) -> tuple[tuple[str, ...], str | None]:
        key, pk = tuple(context.key), context.partition_key
        if pk is not None and key and key[-1] == pk:
            return key[:-1], pk
        return key, pk

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Write ``obj`` as one Parquet file (one per partition), atomically."""
        if not self.accepts(obj):
            raise StorageError(
                f"{_what(context)}: the parquet IO manager stores tables, not a "
                f"{type(obj).__module__}.{type(obj).__qualname__}",
                hint="Return a polars/pandas DataFrame or a pyarrow Table, or store it with "
                "io_manager='objects'",
            )
        key, pk = self._split(context)
        path = self.path_for(key, pk)
        compression = self.configured(context.config, _what(context)).compression
        frame = to_polars(obj)
        folder = path.rsplit("/", 1)[0] if self.location.remote else _parent(path)
        self.location.sweep_temporaries(folder)
        self.location.write_with(
            path,
            _what(context),
            lambda temp: frame.write_parquet(temp, compression=compression),
            fsync=self.fsync,
        )
        context.add_output_metadata(
            {
                "uri": self.location.uri(path),
                "format": "parquet",
                "compression": compression,
                "rows": frame.height,
                "bytes": self.location.size(path),
            }
        )

    def files_for(self, context: InputContext) -> list[str]:
        """The files an input reads: its partitions' (only those), or every stored partition."""
        key = tuple(context.upstream_output.key)
        if context.all_partitions:
            folder = self.folder_for(key)
            return [f for f in self.location.list_files(folder) if f.endswith("/" + FILE_NAME)]
        if context.partition_keys is None:
            path = self.path_for(key)
            if not self.location.exists(path):
                raise missing_input(_what_input(context), context.name, path)
            return [path]
        files = []
        for pk in context.partition_keys:
            path = self.path_for(key, pk)
            if not self.location.exists(path):
                raise missing_input(_what_input(context), context.name, path)
            files.append(path)
        return files

    def load_input(self, context: InputContext) -> Any:
        """The input's files as one table, of the type its annotation asks for."""
        import polars as pl

        files = self.files_for(context)
        log.debug("%s reads %d Parquet file(s): %s", _what_input(context), len(files), files)
        kind = table_type_of(context.annotation) if context.annotation is not None else None
        if not files:
            raise missing_input(
                _what_input(context), context.name, self.folder_for(context.upstream_output.key)
            )
        try:
            if self.location.remote:  # through fsspec: any filesystem it knows
                frames = []
                for f in files:
                    with self.location.open_read(f) as handle:
                        frames.append(pl.read_parquet(handle))
                frame = pl.concat(frames, how="vertical_relaxed")
                return frame.lazy() if kind == "lazy" else as_table_type(frame, kind)
            lazy = pl.scan_parquet(files)
            if kind == "lazy":
                return lazy
            return as_table_type(lazy.collect(), kind)
        except (OSError, pl.exceptions.PolarsError) as err:
            raise StorageError(
                f"{_what_input(context)}: input '{context.name}' cannot be read from "
                f"{', '.join(files[:3])}{' ...' if len(files) > 3 else ''}: {err}",
                path=files[0],
                hint="Rebuild the upstream (orch build -s <asset> --full-refresh)",
            ) from err

    def has_output(self, context: OutputContext) -> bool:
        """Whether the file of ``context`` (its partition's) exists."""
        key, pk = self._split(context)
        return self.location.exists(self.path_for(key, pk))

    def stored_partitions(self, key: tuple[str, ...]) -> list[str]:
        """The partition keys with a file under ``key``'s folder."""
        out = []
        for f in self.location.list_files(self.folder_for(key)):
            parts = f.replace("\\", "/").split("/")
            if len(parts) >= 2 and parts[-1] == FILE_NAME and parts[-2].startswith("key="):
                out.append(_unquote(parts[-2][len(PARTITION_PREFIX) :]))
        return sorted(out)

    def owned_files(self, key: tuple[str, ...]) -> list[str]:
        """The Parquet files this IO manager wrote for ``key`` (``--full-refresh`` removes them;
        nothing else in the folder is touched)."""
        return [
            f
            for f in self.location.list_files(self.folder_for(key))
            if f.replace("\\", "/").endswith("/" + FILE_NAME)
        ]


def _unquote(text: str) -> str:
    return unquote(text)


def _parent(path: str) -> str:
    return os.path.dirname(path)


def _what(context: OutputContext) -> str:
    if context.asset:
        return f"asset '{context.asset}'"
    if context.op:
        return f"op '{context.op}' output '{context.output}'"
    return "output " + "/".join(key_part(k) for k in context.key)


def _what_input(context: InputContext) -> str:
    if context.asset:
        return f"asset '{context.asset}'"
    if context.op:
        return f"op '{context.op}'"
    return f"input '{context.name}'"
