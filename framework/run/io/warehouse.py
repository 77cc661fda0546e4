"""The ``warehouse`` IO manager: tables in the target, as orch has always stored them.

For an asset this is not called: :mod:`orch.run.materialize` publishes a Python asset's table
itself (staged, audited by blocking checks, then swapped in: write-audit-publish). This class
gives the name ``warehouse`` a place in the registry (``io_manager="warehouse"``, ``type:
warehouse``) and stores op outputs and other keyed outputs as tables through the Adapter: one
relation per key (``<schema>.<key parts joined by __>``), replaced atomically.
"""

from __future__ import annotations

from typing import Any

from orch.adapters.base import Adapter, WriteMode
from orch.assets import table_type_of
from orch.errors import StorageError
from orch.names import Relation
from orch.run.io.parquet import as_table_type, is_table, to_polars
from orch.storage import InputContext, IOManager, OutputContext
from pydantic import Field, PrivateAttr


class WarehouseIOManager(IOManager):
    """Tables in the run's target (bound to its adapter by the run)."""

    schema_: str | None = Field(default=None, alias="schema")
    _adapter: Adapter | None = PrivateAttr(default=None)
    _default_schema: str = PrivateAttr(default="main")

    def bind(self, adapter: Adapter, schema: str) -> WarehouseIOManager:
        """This IO manager writing through ``adapter`` into ``schema`` (unless one is set)."""
        self._adapter = adapter
        self._default_schema = schema
        return self

    def relation_for(self, key: tuple[str, ...]) -> Relation:
        """The relation of ``key``: its parts joined by ``__``, as a safe identifier."""
        name = "__".join("".join(c if c.isalnum() else "_" for c in part) for part in key)
        return Relation(None, self.schema_ or self._default_schema, name)

    def _bound(self) -> Adapter:
        if self._adapter is None:
            raise StorageError(
                "the warehouse IO manager is not bound to a target here",
                hint="Use it in orch build / orch job run, or use the memory IO manager in tests",
            )
        return self._adapter

    def accepts(self, obj: Any) -> bool:
        """Tables only."""
        return is_table(obj)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Replace the key's relation with ``obj``'s rows."""
        adapter = self._bound()
        relation = self.relation_for(tuple(context.key))
        adapter.ensure_schema(relation.database, relation.schema)
        rows = adapter.write_arrow(to_polars(obj).to_arrow(), relation, WriteMode.REPLACE)
        context.add_output_metadata(
            {"uri": f"{adapter.dialect}://{relation}", "format": "table", "rows": rows}
        )

    def load_input(self, context: InputContext) -> Any:
        """The key's relation, as the input's annotated table type."""
        import polars as pl  # heavy: only when an input is loaded

        adapter = self._bound()
        relation = self.relation_for(tuple(context.upstream_output.key))
        frame = pl.from_arrow(adapter.read_arrow(relation))
        assert isinstance(frame, pl.DataFrame)
        kind = table_type_of(context.annotation) if context.annotation is not None else None
        return as_table_type(frame, kind)

    def has_output(self, context: OutputContext) -> bool:
        """Whether the key's relation exists."""
        return self._bound().relation_type(self.relation_for(tuple(context.key))) is not None
