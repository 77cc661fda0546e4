"""The ``objects`` IO manager: any picklable Python object (a trained model, a dict) as a file.

Each output goes to ``base_dir/<key parts>`` (``base_dir/metrics`` for an asset,
``base_dir/metrics/2024-01-01`` for one partition, ``base_dir/<run_id>/<step>/<output>`` for an
op), written to a temporary name and renamed into place. The format is pluggable: ``pickle`` (the
default), ``cloudpickle`` or ``joblib`` where installed. Type, bytes, format and URI are recorded
with the materialization.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import sys
from typing import Any, Literal

from orch.errors import StorageError
from orch.load.python_files import MODULE_PREFIX
from orch.run.io.location import Location, joined, missing_input
from orch.storage import InputContext, IOManager, OutputContext

ObjectFormat = Literal["pickle", "cloudpickle", "joblib"]


class ObjectsIOManager(IOManager):
    """Stores each output as one file under ``base_dir`` (a folder, or an fsspec URL)."""

    base_dir: str = "objects"
    format: ObjectFormat = "pickle"

    @property
    def location(self) -> Location:
        """The base folder or URL."""
        return Location(self.base_dir)

    def path_for(self, key: tuple[str, ...]) -> str:
        """Where the output of ``key`` is stored."""
        return self.location.join(*key)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Serialize ``obj`` and write it atomically; records type, bytes, format and URI."""
        path = self.path_for(context.key)
        what = _what(context)
        fmt = self.configured(context.config, what).format
        try:
            data = _dumps(obj, fmt)
        except Exception as err:  # pickling runs user code (__reduce__): any error is possible
            raise StorageError(
                f"{what}: the output ({_type(obj)}) cannot be stored with {fmt}: "
                f"{type(err).__name__}: {err}",
                path=path,
                hint="Return a picklable object, set the IO manager's format to cloudpickle, "
                "or store it with another IO manager (io_manager=...)",
            ) from err
        with self.location.atomic_write(path, what) as handle:
            handle.write(data)
        context.add_output_metadata(
            {
                "uri": self.location.uri(path),
                "format": fmt,
                "type": _type(obj),
                "bytes": len(data),
            }
        )

    def load_input(self, context: InputContext) -> Any:
        """Read back what :meth:`handle_output` stored (``{partition: object}`` for several)."""
        loaded: dict[str, Any] = {}
        fmt = self.configured(context.upstream_output.config, _what_input(context)).format
        for key in context.upstream_keys():
            path = self.path_for(key)
            if not self.location.exists(path):
                raise missing_input(_what_input(context), context.name, path)
            with self.location.open_read(path) as handle:
                data = handle.read()
            try:
                loaded[key[-1]] = _loads(data, fmt)
            except Exception as err:  # unpickling runs user code too
                raise StorageError(
                    f"{_what_input(context)}: input '{context.name}' cannot be loaded from "
                    f"{path}: {type(err).__name__}: {err}",
                    path=path,
                    hint="Rebuild the upstream (orch build -s <asset> --full-refresh); the file "
                    f"may come from another version of its class or another format than "
                    f"{fmt}",
                ) from err
        if context.partition_keys is None:
            return next(iter(loaded.values()))
        return context.combine(loaded)

    def has_output(self, context: OutputContext) -> bool:
        """Whether the file of ``context.key`` exists."""
        return self.location.exists(self.path_for(context.key))

    def owned_files(self, key: tuple[str, ...]) -> list[str]:
        """The files stored for ``key``: its own file, or its partitions' files (one level
        below; ``--full-refresh`` removes them)."""
        path = self.path_for(key)
        if self.location.remote:
            return [path] if self.location.exists(path) else []
        if os.path.isfile(path):
            return [path]
        if not os.path.isdir(path):
            return []
        return sorted(
            os.path.join(path, name)
            for name in os.listdir(path)
            if os.path.isfile(os.path.join(path, name)) and not name.startswith(".orch-tmp-")
        )


def _dumps(obj: Any, fmt: ObjectFormat) -> bytes:
    if fmt == "pickle":
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if fmt == "cloudpickle":
        cloudpickle = _optional("cloudpickle")
        return cloudpickle.dumps(obj)  # type: ignore[no-any-return]
    joblib = _optional("joblib")
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def _loads(data: bytes, fmt: ObjectFormat) -> Any:
    if fmt == "joblib":
        return _optional("joblib").load(io.BytesIO(data))
    return pickle.loads(data)  # cloudpickle writes standard pickles


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise StorageError(
            f"the objects IO manager's format '{module}' needs the {module} package, which is "
            "not installed",
            hint=f"pip install {module}, or use format: pickle",
        ) from err


def _type(obj: Any) -> str:
    """``module.Class``; for a class of a model file, ``Class (file.py)`` (its module's name is
    orch's own)."""
    cls = type(obj)
    if cls.__module__.startswith(MODULE_PREFIX + "."):
        path = getattr(sys.modules.get(cls.__module__), "__file__", None) or ""
        return f"{cls.__qualname__} ({os.path.basename(path)})" if path else cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _what(context: OutputContext) -> str:
    if context.asset:
        return f"asset '{context.asset}'"
    if context.op:
        return f"op '{context.op}' output '{context.output}'"
    return f"output {joined(context.key)}"


def _what_input(context: InputContext) -> str:
    if context.asset:
        return f"asset '{context.asset}'"
    if context.op:
        return f"op '{context.op}'"
    return f"input '{context.name}'"
