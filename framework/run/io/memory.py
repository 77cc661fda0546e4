"""The ``memory`` IO manager: outputs kept in a dict for the life of the process.

For tests and ``execute_in_process``: nothing is written, nothing survives the process. Keyed by
:attr:`orch.OutputContext.key`, so an op's outputs (``(run_id, step_key, output)``) and an asset's
partitions (``("orders", "2024-01-01")``) never collide.
"""

from __future__ import annotations

import threading
from typing import Any

from orch.errors import StorageError
from orch.run.io.location import joined
from orch.storage import InputContext, IOManager, OutputContext
from pydantic import PrivateAttr


class MemoryIOManager(IOManager):
    """Keeps each output in memory under its key; :meth:`load_input` returns the same object."""

    _values: dict[tuple[str, ...], Any] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Keep ``obj`` under ``context.key`` (replacing what was there)."""
        with self._lock:
            self._values[tuple(context.key)] = obj
        context.add_output_metadata(
            {"uri": "memory://" + joined(context.key), "format": "memory", "type": _type(obj)}
        )

    def load_input(self, context: InputContext) -> Any:
        """The object stored for the upstream (``{partition: object}`` for several)."""
        loaded: dict[str, Any] = {}
        with self._lock:
            for key in context.upstream_keys():
                if key not in self._values:
                    raise StorageError(
                        f"{_what(context)}: input '{context.name}' has no stored output in "
                        f"memory under {joined(key)}",
                        path="memory://" + joined(key),
                        hint="The memory IO manager keeps outputs only within one process: "
                        "build the upstream in the same run",
                    )
                loaded[key[-1]] = self._values[key]
        if context.partition_keys is None:
            return next(iter(loaded.values()))
        return context.combine(loaded)

    def has_output(self, context: OutputContext) -> bool:
        """Whether an output is kept under ``context.key``."""
        with self._lock:
            return tuple(context.key) in self._values

    def clear(self) -> None:
        """Forget every output."""
        with self._lock:
            self._values.clear()


def _type(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _what(context: InputContext) -> str:
    if context.asset:
        return f"asset '{context.asset}'"
    if context.op:
        return f"op '{context.op}'"
    return f"input '{context.name}'"
