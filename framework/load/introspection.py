"""dbt's warehouse-querying context: relations, columns, query results, ``run_query``/``statement``.

dbt renders a model twice: at parse time ``execute`` is False (``run_query`` returns None, a
``statement`` block does not run, ``adapter.get_columns_in_relation`` finds nothing) and the
dependencies come from that render; right before the model runs it is rendered again with
``execute`` True and a live connection. :class:`ParseTimeWarehouse` is the first (it records that
the template asked, so the model is marked *rendered at run time*); :class:`LiveWarehouse` the
second, over a :class:`Warehouse` the run stage supplies (it talks to the adapter; this module
never does).

The values mimic dbt's: a relation is a mapping whose ``metadata.type`` ends in ``Relation``
(dbt_utils' ``_is_relation``), columns are dbt's ``Column`` (``data_type`` is ``character
varying(256)`` for a string column), query results are agate-like tables whose numbers are
``Decimal`` (agate's ``Number``).
"""

from __future__ import annotations

import collections.abc
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol


class Warehouse(Protocol):
    """What a run-time render needs from the warehouse (the run stage implements it)."""

    def columns(self, database: str | None, schema: str, name: str) -> list[tuple[str, str]]:
        """The relation's (column name, type) pairs in order; [] when it does not exist."""

    def relation_type(self, database: str | None, schema: str, name: str) -> str | None:
        """'table', 'view' or None."""

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run ``sql``; the column names and rows."""

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing."""

    def render(self, database: str | None, schema: str, name: str) -> str:
        """The relation as SQL text (quoted, fully qualified)."""


class RelationValue(str):
    """A relation in a template: renders as SQL text, reads like dbt's ``BaseRelation``.

    At parse time a ref()/source()/this renders as orch's marker, and its parts are not yet the
    real ones (the compiler decides schemas and aliases): reading ``.schema``, ``.identifier``...
    then calls ``on_read``, which marks the model rendered at run time, where they are real.
    """

    _database: str | None
    _schema: str
    _identifier: str
    type: str | None
    _rendered: str
    _on_read: Callable[[], None] | None

    def __new__(
        cls,
        text: str,
        database: str | None,
        schema: str,
        identifier: str,
        *,
        type: str | None = None,
        rendered: str | None = None,
        on_read: Callable[[], None] | None = None,
    ) -> RelationValue:
        obj = super().__new__(cls, text)
        obj._database = database
        obj._schema = schema
        obj._identifier = identifier
        obj.type = type
        obj._rendered = rendered if rendered is not None else text
        obj._on_read = on_read
        return obj

    def _read(self) -> None:
        if self._on_read is not None:
            self._on_read()

    @property
    def database(self) -> str | None:
        """The database part."""
        self._read()
        return self._database

    @property
    def schema(self) -> str:
        """The schema part."""
        self._read()
        return self._schema

    @property
    def identifier(self) -> str:
        """The relation's name."""
        self._read()
        return self._identifier

    @property
    def name(self) -> str:
        """dbt: the identifier."""
        return self.identifier

    @property
    def table(self) -> str:
        """dbt: the identifier."""
        return self.identifier

    @property
    def is_cte(self) -> bool:
        """Never a CTE (an ephemeral model is refused before it gets here)."""
        return False

    @property
    def is_table(self) -> bool:
        return self.type == "table"

    @property
    def is_view(self) -> bool:
        return self.type == "view"

    def render(self) -> str:
        """The relation's SQL text (dbt's ``relation.render()``)."""
        self._read()
        return self._rendered

    def include(
        self, database: bool = True, schema: bool = True, identifier: bool = True
    ) -> RelationValue:
        """dbt's ``include(database=False, ...)``: the relation rendered without those parts.

        While parsing, ``include(database=False)`` stays the marker: orch's compiled table
        references leave the default database out already. Leaving out the schema or the name
        needs the real parts, so the model is rendered at run time (``on_read``).
        """
        if database and schema and identifier:
            return self
        if self._on_read is not None and schema and identifier:
            return self
        self._read()
        kept = [(self._database, database), (self._schema, schema), (self._identifier, identifier)]
        text = ".".join('"' + p.replace('"', '""') + '"' for p, keep in kept if keep and p)
        return RelationValue(
            text,
            self._database if database else None,
            self._schema if schema else "",
            self._identifier if identifier else "",
            type=self.type,
        )

    def get(self, key: str, default: Any = None) -> Any:
        """Mapping access, as dbt's relation (a dict-like dataclass) allows."""
        if key == "metadata":
            return {"type": "OrchRelation"}
        if key == "path":
            return {"database": self.database, "schema": self.schema,
                    "identifier": self.identifier}  # fmt: skip
        if key in ("database", "schema", "identifier"):
            return getattr(self, key)
        return default

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return self.get(key)
        return str.__getitem__(self, key)

    def __str__(self) -> str:
        return str.__str__(self)


collections.abc.Mapping.register(RelationValue)  # jinja's "is mapping" (dbt_utils._is_relation)


_INTEGER_TYPES = frozenset(
    {"smallint", "integer", "bigint", "hugeint", "tinyint", "int", "int2", "int4", "int8",
     "serial", "bigserial"}
)  # fmt: skip


class ColumnValue:
    """dbt's ``Column`` for a warehouse column (``adapter.get_columns_in_relation``)."""

    def __init__(self, column: str, dtype: str) -> None:
        self.column = column
        self.name = column
        self.dtype = dtype
        self.char_size: int | None = None
        self.numeric_precision: int | None = None
        self.numeric_scale: int | None = None

    @property
    def quoted(self) -> str:
        return f'"{self.column}"'

    @property
    def data_type(self) -> str:
        if self.is_string():
            return f"character varying({self.string_size()})"
        return self.dtype

    def is_string(self) -> bool:
        return self.dtype.lower() in ("text", "character varying", "character", "varchar")

    def is_number(self) -> bool:
        return self.is_integer() or self.is_float() or self.is_numeric()

    def is_numeric(self) -> bool:
        return self.dtype.lower() in ("numeric", "decimal")

    def is_integer(self) -> bool:
        return self.dtype.lower() in _INTEGER_TYPES

    def is_float(self) -> bool:
        return self.dtype.lower() in ("real", "float", "float4", "float8", "double",
                                      "double precision")  # fmt: skip

    def string_size(self) -> int:
        if not self.is_string():
            raise RuntimeError("Called string_size() on non-string field!")
        return 256 if self.dtype == "text" or self.char_size is None else int(self.char_size)

    def __repr__(self) -> str:
        return f"<Column {self.column} ({self.data_type})>"


def _agate_value(value: Any) -> Any:
    """A value as agate holds it: numbers are Decimal (bool stays bool)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


class Row(Sequence[Any]):
    """A result row: by position, by column name (``row['x']``) or attribute (``row.x``)."""

    def __init__(self, names: list[str], values: tuple[Any, ...]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._names.index(key)]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._names:
            raise AttributeError(name)
        return self._values[self._names.index(name)]

    def keys(self) -> list[str]:
        return list(self._names)

    def values(self) -> list[Any]:
        return list(self._values)

    def dict(self) -> dict[str, Any]:
        return dict(zip(self._names, self._values, strict=True))


class ResultColumn:
    """A column of a query result (agate's ``Column``): ``name`` and ``values()``."""

    def __init__(self, name: str, values: list[Any]) -> None:
        self.name = name
        self._values = values

    def values(self) -> list[Any]:
        return list(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class _Columns(Sequence[ResultColumn]):
    def __init__(self, columns: list[ResultColumn]) -> None:
        self._columns = columns

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for column in self._columns:
                if column.name == key:
                    return column
            raise KeyError(key)
        return self._columns[key]

    def __len__(self) -> int:
        return len(self._columns)

    def keys(self) -> list[str]:
        return [c.name for c in self._columns]

    def values(self) -> list[ResultColumn]:
        """The columns (agate's ``table.columns.values()``)."""
        return list(self._columns)

    def items(self) -> list[tuple[str, ResultColumn]]:
        """(name, column) pairs (dbt_utils.get_query_results_as_dict)."""
        return [(c.name, c) for c in self._columns]


class ResultTable(Sequence[Row]):
    """What ``run_query`` returns: an agate-like table (``columns``, ``rows``, ``column_names``)."""

    def __init__(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        values = [tuple(_agate_value(v) for v in row) for row in rows]
        self.column_names = list(names)
        self.rows = [Row(self.column_names, r) for r in values]
        self.columns = _Columns(
            [ResultColumn(n, [r[i] for r in values]) for i, n in enumerate(names)]
        )

    def __getitem__(self, key: Any) -> Any:
        return self.rows[key]

    def __len__(self) -> int:
        return len(self.rows)

    def print_table(self, *args: Any, **kwargs: Any) -> None:
        """Refused: orch renders without printing to the console."""
        raise NotImplementedError("print_table() is not supported by orch")


class _Flag:
    """``execute`` while parsing: False, and asking marks the model rendered at run time."""

    def __init__(self, mark: Callable[[], None]) -> None:
        self._mark = mark

    def __bool__(self) -> bool:
        self._mark()
        return False

    def __str__(self) -> str:
        self._mark()
        return "False"


GRAPH_KEYS = ("nodes", "sources", "exposures", "metrics", "groups", "semantic_models",
              "saved_queries", "unit_tests")  # fmt: skip


class _ParseTimeGraph(dict[str, Any]):
    """``graph`` while parsing: dbt's flat graph is empty then (``graph.nodes`` has nothing),
    and reading it marks the model rendered again at run time, with the project's graph."""

    def __init__(self, mark: Callable[[], None]) -> None:
        super().__init__({key: {} for key in GRAPH_KEYS})
        self._mark = mark

    def __getitem__(self, key: str) -> Any:
        self._mark()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self._mark()
        return super().get(key, default)

    def __iter__(self) -> Any:
        self._mark()
        return super().__iter__()


class Flags:
    """``flags`` in a template: ``WHICH`` is the command (dbt's run/build/compile)."""

    def __init__(self, which: str) -> None:
        self.WHICH = which
        self.FULL_REFRESH = False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return None


class ParseTimeWarehouse:
    """dbt's parse-time answers (``execute`` is False): nothing is queried."""

    def __init__(self, mark: Callable[[], None]) -> None:
        self._mark = mark

    def globals(self) -> dict[str, Any]:
        """The template names that differ between parse time and run time."""
        return {
            "execute": _Flag(self._mark),
            "graph": _ParseTimeGraph(self._mark),
            "run_query": self.run_query,
            "statement": self.statement,
            "load_result": self.load_result,
            "load_relation": self.load_relation,
            "flags": Flags("build"),
        }

    def run_query(self, sql: Any = None) -> None:
        self._mark()
        return None

    def statement(self, name: Any = None, fetch_result: bool = False, auto_begin: bool = True,
                  language: str = "sql", caller: Any = None) -> str:  # fmt: skip
        self._mark()
        return ""

    def load_result(self, name: Any) -> None:
        self._mark()
        return None

    def load_relation(self, relation: Any) -> None:
        self._mark()
        return None

    def get_columns_in_relation(self, relation: Any) -> list[ColumnValue]:
        self._mark()
        return []

    def get_relation(self, database: Any = None, schema: Any = None,
                     identifier: Any = None) -> None:  # fmt: skip
        self._mark()
        return None


class LiveWarehouse:
    """The run-time answers (``execute`` is True), through a :class:`Warehouse`."""

    def __init__(
        self, warehouse: Warehouse, which: str, graph: Mapping[str, Any] | None = None
    ) -> None:
        self.warehouse = warehouse
        self.which = which
        self.results: dict[str, dict[str, Any]] = {}
        self.graph = graph if graph is not None else {key: {} for key in GRAPH_KEYS}

    def globals(self) -> dict[str, Any]:
        """The template names that differ between parse time and run time."""
        return {
            "execute": True,
            "graph": self.graph,
            "run_query": self.run_query,
            "statement": self.statement,
            "load_result": self.load_result,
            "load_relation": self.load_relation,
            "flags": Flags(self.which),
        }

    def run_query(self, sql: Any) -> ResultTable:
        names, rows = self.warehouse.query(str(sql))
        return ResultTable(names, rows)

    def statement(self, name: Any = None, fetch_result: bool = False, auto_begin: bool = True,
                  language: str = "sql", caller: Any = None) -> str:  # fmt: skip
        sql = str(caller()) if caller is not None else ""
        if language != "sql":
            raise RuntimeError(f"statement(language='{language}') is not supported by orch")
        if fetch_result:
            table = self.run_query(sql)
        else:
            if sql.strip():
                self.warehouse.execute(sql)
            table = ResultTable([], [])
        if name is not None:
            self.results[str(name)] = {
                "response": "OK",
                "data": [list(row) for row in table.rows],
                "table": table,
            }
        return ""

    def load_result(self, name: Any) -> dict[str, Any] | None:
        return self.results.get(str(name))

    def load_relation(self, relation: Any) -> RelationValue | None:
        if not isinstance(relation, RelationValue):
            return None
        return self.get_relation(relation.database, relation.schema, relation.identifier)

    def get_columns_in_relation(self, relation: Any) -> list[ColumnValue]:
        if not isinstance(relation, RelationValue):
            raise RuntimeError(f"get_columns_in_relation() expects a relation, not {relation!r}")
        pairs = self.warehouse.columns(relation.database, relation.schema, relation.identifier)
        return [ColumnValue(name, dtype) for name, dtype in pairs]

    def get_relation(self, database: Any = None, schema: Any = None,
                     identifier: Any = None) -> RelationValue | None:  # fmt: skip
        kind = self.warehouse.relation_type(database, str(schema), str(identifier))
        if kind is None:
            return None
        return self.relation(database, str(schema), str(identifier), kind)

    def relation(
        self, database: str | None, schema: str, identifier: str, kind: str | None = None
    ) -> RelationValue:
        """A relation that renders as its real name."""
        text = self.warehouse.render(database, schema, identifier)
        return RelationValue(text, database, schema, identifier, type=kind)


class RelationApi:
    """``api.Relation``: ``create(database=, schema=, identifier=, type=)``."""

    def __init__(self, render: Callable[[str | None, str, str], str]) -> None:
        self._render = render

    def create(self, database: Any = None, schema: Any = None, identifier: Any = None,
               type: Any = None, **_: Any) -> RelationValue:  # fmt: skip
        """A relation by its parts."""
        db = str(database) if database is not None else None
        text = self._render(db, str(schema), str(identifier))
        return RelationValue(text, db, str(schema), str(identifier), type=type)

    def add_ephemeral_prefix(self, name: str) -> str:
        """dbt's prefix of an ephemeral model's CTE."""
        return f"__dbt__cte__{name}"


class Api:
    """``api`` in a template."""

    def __init__(self, render: Callable[[str | None, str, str], str]) -> None:
        self.Relation = RelationApi(render)


_QUOTE = re.compile(r'"')


def quoted_relation(database: str | None, schema: str, name: str) -> str:
    """``"db"."schema"."name"`` (the parts present), for parse time."""
    parts = [p for p in (database, schema, name) if p]
    return ".".join('"' + _QUOTE.sub('""', p) + '"' for p in parts)
