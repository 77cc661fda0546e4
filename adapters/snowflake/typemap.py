"""Arrow <-> Snowflake types and names, and fetching results as Arrow."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


log = logging.getLogger(__name__)

_UNQUOTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def _python_name(stored: str) -> str:
    """``CUSTOMER_ID`` -> ``customer_id``; names that are not plain upper-case stay."""
    if _UNQUOTED_NAME.match(stored) and stored == stored.upper() and stored != stored.lower():
        return stored.lower()
    return stored


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INT", "BIGINT", "INT128", "UBIGINT", "UINT", "BYTEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL", "DECFLOAT"}
_TEXT_TYPES = {"VARCHAR", "TEXT", "CHAR", "NCHAR", "NVARCHAR", "STRING"}


def _storage_type(text: str) -> tuple[str, int | None, int] | None:
    """How Snowflake stores a type: ("NUMBER", precision or None, scale), ("FLOAT"|"TEXT", ..)."""
    cleaned = text.strip().upper()
    if cleaned in ("HUGEINT", "BYTEINT", "NUMBER"):
        cleaned = {"HUGEINT": "INT128", "BYTEINT": "TINYINT", "NUMBER": "DECIMAL(38, 0)"}[cleaned]
    try:
        from sqlglot import exp  # late: importing the adapter class needs no sqlglot

        data_type = exp.DataType.build(cleaned, dialect="snowflake")
    except Exception:  # noqa: BLE001 - an unknown name: the generic comparison decides
        return None
    kind = data_type.this.name
    if kind in _INTEGER_TYPES:
        return ("NUMBER", None, 0)
    if kind == "DECIMAL":
        params = [int(p.name) for p in data_type.expressions if p.name.isdigit()]
        precision, scale = (params + [38, 0][len(params) :])[:2]
        return ("NUMBER", precision, scale)
    if kind in _FLOAT_TYPES:
        return ("FLOAT", None, 0)
    if kind in _TEXT_TYPES:
        return ("TEXT", None, 0)
    return None


def _closed(conn: Any) -> bool:
    """Whether a connector connection says it is closed."""
    try:
        return bool(conn.is_closed())
    except Exception:  # noqa: BLE001 - a broken connection object counts as closed
        return True


def _fetch_arrow(cur: Any) -> pa.Table:
    """The cursor's result as Arrow: ``fetch_arrow_all``, else ``fetch_pandas_all``, else rows.

    fakesnow's cursor has no ``fetch_arrow_all``; a result in JSON format (SHOW, some metadata
    queries) has no Arrow batches, so it is built from the rows.
    """
    import pyarrow as pa  # heavy optional dependency, imported late
    import snowflake.connector.errors as sf_errors  # loaded with the adapter: a lookup

    names = [str(d[0]) for d in cur.description or []]
    fetch_all = getattr(cur, "fetch_arrow_all", None)
    if fetch_all is not None:
        try:
            table = fetch_all(force_return_table=True)
            if table is not None:
                return table
        except sf_errors.NotSupportedError:
            return _rows_to_arrow(cur.fetchall(), names)
    fetch_pandas = getattr(cur, "fetch_pandas_all", None)
    if fetch_pandas is not None:
        frame = fetch_pandas()
        return pa.Table.from_pandas(frame, preserve_index=False)
    return _rows_to_arrow(cur.fetchall(), names)


def _rows_to_arrow(rows: Sequence[Sequence[Any]], names: list[str]) -> pa.Table:
    """Rows as an Arrow table (column-wise, types inferred by Arrow)."""
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table({name: pa.array(list(col)) for name, col in zip(names, columns, strict=True)})


def snowflake_type(arrow_type: pa.DataType) -> str:
    """The Snowflake column type for an Arrow type (what ``CREATE TABLE`` declares)."""
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_dictionary(t):
        return snowflake_type(t.value_type)
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "NUMBER(20,0)" if t == pa.uint64() else "BIGINT"
    if pa.types.is_floating(t):
        return "FLOAT"
    if pa.types.is_decimal(t):
        return f"NUMBER({min(t.precision, 38)},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "VARCHAR"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "BINARY"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_time(t):
        return "TIME"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP_TZ" if t.tz else "TIMESTAMP_NTZ"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "ARRAY"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "OBJECT"
    if pa.types.is_null(t):
        return "VARCHAR"
    return "VARIANT"
