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
from typing import Any

from orch.assets import PartitionWindow, Resource

log = logging.getLogger(__name__)


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
        partition_keys: the upstream partition keys the step reads (None: all of them).
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
