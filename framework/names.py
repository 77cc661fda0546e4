"""Names: relations in a warehouse, and the one rule for the identifiers orch generates.

:func:`normalize_identifier` is the only place orch decides how a name it writes into SQL (a
relation's parts, a partition column, a unique key, a check's column, a state table's column) is
spelled for the target: as the target stores an unquoted name (Snowflake: upper case, DuckDB:
lower case), always quoted, unless the name was quoted by the user, which keeps its case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect


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


def normalize_identifier(
    name: str | exp.Identifier,
    dialect: str,
    written: Mapping[str, exp.Identifier] | None = None,
) -> exp.Identifier:
    """``name`` as ``dialect`` stores it, as a quoted identifier (a new node every call).

    A plain name (``ordered_at``, from YAML, a config() call or orch itself) is read as an
    unquoted identifier and normalized with the dialect's rule (sqlglot's
    ``Dialect.normalize_identifier``): ``"ORDERED_AT"`` on Snowflake, ``"ordered_at"`` on DuckDB.
    A name the user quoted keeps its case: an ``exp.Identifier`` with ``quoted`` set (taken from
    their SQL), text in double quotes (``'"OrderedAt"'`` in YAML), or a name that can only be
    written quoted (``Order Total``). On a case-insensitive dialect (DuckDB) quoting changes
    nothing, and sqlglot lower-cases every name there.

    A plain name that is one of a model's output columns is spelled as the model's SQL writes it
    when ``written`` is given (:func:`orch.sql.written_columns` of its compiled SQL): a column
    the user quoted there (``select 1 as "lineCount"``) keeps its case.

    Args:
        name: the name as text, or an identifier node from a parsed query.
        dialect: the sqlglot dialect of the target (``adapter.dialect``).
        written: the identifiers of a model's output columns, by lower-case name.

    Returns:
        A quoted ``exp.Identifier``, safe to put into any expression built for ``dialect``.
    """
    from sqlglot import exp  # late: importing orch.names (the Relation value) needs no sqlglot

    if isinstance(name, exp.Identifier):
        text, quoted = name.name, bool(name.quoted)
    else:
        text, quoted = _unquote(name)
        found = written.get(text.lower()) if written and not quoted else None
        if found is not None and found.quoted:
            text, quoted = found.name, True
    return exp.to_identifier(_normalized(text, quoted, dialect), quoted=True)


def normalize_name(name: str, dialect: str) -> str:
    """The text of :func:`normalize_identifier` (a catalog name to compare or to store)."""
    text, quoted = _unquote(name)
    return _normalized(text, quoted, dialect)


def _unquote(name: str) -> tuple[str, bool]:
    """``'"Order Total"'`` -> ``('Order Total', True)``; other text is unquoted as it is."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"'), True
    return name, False


@lru_cache(maxsize=8192)
def _normalized(text: str, quoted: bool, dialect: str) -> str:
    from sqlglot import exp

    quoted = quoted or not exp.SAFE_IDENTIFIER_RE.match(text)  # e.g. a space: never unquoted
    ident = exp.to_identifier(text, quoted=quoted)
    return _dialect(dialect).normalize_identifier(ident).name


@lru_cache(maxsize=64)
def _dialect(name: str) -> Dialect:
    """One sqlglot dialect object per name (``get_or_raise`` builds a new one on every call:
    each relation name of a compile is normalized once, through a new dialect until now)."""
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise(name)


def column(
    name: str | exp.Identifier,
    dialect: str,
    table: str | None = None,
    written: Mapping[str, exp.Identifier] | None = None,
) -> exp.Column:
    """A column reference to ``name`` (normalized, quoted), qualified by ``table`` when given.

    ``table`` is an alias orch chose in the same statement: quoted as written. ``written``: as
    in :func:`normalize_identifier`.
    """
    from sqlglot import exp

    qualifier = exp.to_identifier(table, quoted=True) if table else None
    return exp.Column(this=normalize_identifier(name, dialect, written), table=qualifier)
