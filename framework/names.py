"""Frozen value objects for names: relations in a warehouse."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Relation:
    """A warehouse object: ``database.schema.name`` (database may be None for the default)."""

    database: str | None
    schema: str
    name: str

    def with_name(self, name: str) -> Relation:
        """The same schema and database, another object name (temporary or staging relations)."""
        return Relation(self.database, self.schema, name)

    def parts(self) -> tuple[str, ...]:
        """The non-empty parts, outermost first."""
        return tuple(p for p in (self.database, self.schema, self.name) if p)

    def __str__(self) -> str:
        return ".".join(self.parts())
