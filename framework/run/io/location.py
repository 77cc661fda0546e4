"""Where file-based IO managers (``objects``, ``parquet``) put things: a local folder or a URL.

A location is a base folder (a local path, or an fsspec URL such as ``s3://bucket/lake``) plus an
output's key parts. Local paths use the standard library; fsspec is imported only for a URL that
is not local. Every write goes to a temporary name in the same folder first and is renamed into
place, so a reader or a killed run never sees half a file at the final path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from orch.errors import StorageError

TEMP_PREFIX = ".orch-tmp-"
_SAFE = "=-_.,[]@+"


def key_part(part: str) -> str:
    """One key part as a file or folder name: ``/`` and other unsafe characters percent-encoded."""
    text = quote(str(part), safe=_SAFE)
    return text.replace(".", "%2E") if text in (".", "..") else text or "%00"


def is_url(base: str) -> bool:
    """Whether ``base`` names a remote (fsspec) location rather than a local folder."""
    head, sep, _ = base.partition("://")
    return bool(sep) and head not in ("file", "local")


def local_path(base: str) -> str:
    """``file:///x`` → ``/x``; a plain path unchanged."""
    for prefix in ("file://", "local://"):
        if base.startswith(prefix):
            return base[len(prefix) :]
    return base


class Location:
    """A base folder or URL, joined with key parts; reads and atomic writes through it."""

    def __init__(self, base: str | os.PathLike[str]) -> None:
        text = os.fspath(base)
        self.remote = is_url(text)
        self.base = text.rstrip("/") if self.remote else str(Path(local_path(text)))
        self._fs: Any = None

    def join(self, *parts: str) -> str:
        """The path (or URL) of ``parts`` under the base, each part made file-name safe."""
        names = [key_part(p) for p in parts]
        if self.remote:
            return "/".join([self.base, *names])
        return str(Path(self.base, *names))

    def uri(self, path: str) -> str:
        """What is recorded and shown: a URL as is, a local path as ``file://`` + absolute path."""
        return path if self.remote else Path(path).resolve().as_uri()

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of a URL (imported only here, for a remote location)."""
        if self._fs is None:
            try:
                import fsspec  # heavy and optional: only for URLs
            except ImportError as err:
                raise StorageError(
                    f"the location {self.base} needs fsspec, which is not installed",
                    path=self.base,
                    hint="Install fsspec and the filesystem package for this URL (s3fs, gcsfs, "
                    "adlfs), or use a local folder",
                ) from err
            try:
                self._fs = fsspec.core.url_to_fs(self.base)[0]
            except (ImportError, ValueError) as err:
                raise StorageError(
                    f"cannot open the location {self.base}: {err}",
                    path=self.base,
                    hint="Install the filesystem package for this URL (s3fs for s3://, gcsfs "
                    "for gs://)",
                ) from err
        return self._fs

    def exists(self, path: str) -> bool:
        """Whether a file (or folder) is at ``path``."""
        return bool(self.fs.exists(path)) if self.remote else os.path.exists(path)

    def size(self, path: str) -> int:
        """The bytes of the file at ``path``."""
        return int(self.fs.size(path)) if self.remote else os.path.getsize(path)

    def open_read(self, path: str) -> IO[bytes]:
        """The file at ``path`` opened for reading bytes."""
        if self.remote:
            return self.fs.open(path, "rb")  # type: ignore[no-any-return]
        return open(path, "rb")

    def list_files(self, path: str) -> list[str]:
        """Every file under the folder ``path`` (recursively, temporary files left out)."""
        if self.remote:
            if not self.fs.exists(path):
                return []
            found = [str(p) for p in self.fs.find(path)]
            protocol = self.base.split("://", 1)[0]
            found = [p if "://" in p else f"{protocol}://{p}" for p in found]
        else:
            found = [str(p) for p in Path(path).rglob("*") if p.is_file()]
        return sorted(p for p in found if not _name(p).startswith(TEMP_PREFIX))

    def remove(self, path: str) -> None:
        """Remove the file at ``path`` (nothing when it is gone already)."""
        if self.remote:
            if self.fs.exists(path):
                self.fs.rm(path)
            return
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        try:
            os.rmdir(os.path.dirname(path))  # a partition's folder, when nothing else is in it
        except OSError:
            pass

    @contextmanager
    def atomic_write(self, path: str, what: str) -> Iterator[IO[bytes]]:
        """A file to write ``path``'s bytes into; renamed into place only when the block succeeds.

        ``what`` names the step for errors (``asset 'orders'``). A location that cannot be
        written raises StorageError naming it and the path; the final path is never half written.
        """
        if self.remote:
            with self._remote_write(path, what) as handle:
                yield handle
            return
        folder = os.path.dirname(path) or "."
        try:
            os.makedirs(folder, exist_ok=True)
            temp = os.path.join(folder, f"{TEMP_PREFIX}{uuid.uuid4().hex}-{_name(path)}.tmp")
            handle = open(temp, "wb")
        except OSError as err:
            raise unwritable(what, path, err) from None
        try:
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            _discard(temp)
            raise

    def write_with(
        self, path: str, what: str, writer: Callable[[str], None], *, fsync: bool = True
    ) -> None:
        """Write ``path`` by calling ``writer(temp_path)`` (a library that wants a file name),
        then rename into place; for a URL, upload the written file.

        The rename alone protects readers and killed runs; ``fsync`` also survives power loss.
        """
        if self.remote:
            with self.atomic_write(path, what) as handle:
                local = f"{TEMP_PREFIX}{uuid.uuid4().hex}-{_name(path)}.tmp"
                try:
                    writer(local)
                    with open(local, "rb") as src:
                        while chunk := src.read(1 << 20):
                            handle.write(chunk)
                finally:
                    _discard(local)
            return
        folder = os.path.dirname(path) or "."
        temp = os.path.join(folder, f"{TEMP_PREFIX}{uuid.uuid4().hex}-{_name(path)}.tmp")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(temp, "wb"):
                pass
        except OSError as err:
            _discard(temp)
            raise unwritable(what, path, err) from None
        try:
            writer(temp)
            if fsync:
                with open(temp, "rb") as written:
                    os.fsync(written.fileno())
            os.replace(temp, path)
        except BaseException:
            _discard(temp)
            raise

    @contextmanager
    def _remote_write(self, path: str, what: str) -> Iterator[IO[bytes]]:
        folder, _, name = path.rpartition("/")
        temp = f"{folder}/{TEMP_PREFIX}{uuid.uuid4().hex}-{name}.tmp"
        try:
            handle = self.fs.open(temp, "wb")
        except OSError as err:
            raise unwritable(what, path, err) from None
        try:
            with handle:
                yield handle
            self.fs.mv(temp, path)
        except BaseException:
            try:
                if self.fs.exists(temp):
                    self.fs.rm(temp)
            except OSError:
                pass
            raise

    def sweep_temporaries(self, folder: str) -> None:
        """Remove temporary files a killed run left in ``folder`` (local locations)."""
        if self.remote or not os.path.isdir(folder):
            return
        for p in Path(folder).rglob(f"{TEMP_PREFIX}*"):
            _discard(str(p))


def unwritable(what: str, path: str, err: OSError) -> StorageError:
    """The error of a location that cannot be written: the step, the path and what to do."""
    reason = err.strerror or str(err)
    return StorageError(
        f"{what}: cannot write {path}: {reason}",
        path=path,
        hint="Make the folder writable or point the IO manager's base_dir at a writable "
        "location (resources.<name>.base_dir in orch_project.yml)",
    )


def missing_input(what: str, name: str, path: str) -> StorageError:
    """The error of an input whose stored output is not there."""
    return StorageError(
        f"{what}: input '{name}' has no stored output at {path}",
        path=path,
        hint="Build the upstream first (orch build -s +<asset>), or check the IO manager's "
        "base_dir",
    )


def joined(parts: Sequence[str]) -> str:
    """Key parts for messages: ``orders/2024-01-01``."""
    return "/".join(parts)


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _discard(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
