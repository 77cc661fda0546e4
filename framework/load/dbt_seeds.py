"""The column types ``dbt seed`` creates for a CSV file, and the texts it loads as NULL.

dbt reads a seed with agate (``dbt_common.clients.agate_helper.build_type_tester``): each column
takes the first type of ``Integer, Number, Date, DateTime, ISODateTime, Boolean, Text`` that every
value casts to, ``''`` and ``'null'`` (after strip, any case) counting as NULL for every type. The
adapter then maps the agate type to a warehouse type. This module ports those casts:

- ``Integer`` accepts only Python ints, never a CSV text: a column of texts is at best a Number.
- ``Number`` is agate's ``Number.cast`` for ``en_US``: strip, strip ``%``, a leading ``-``,
  currency symbols, drop the group symbol ``,``, then ``decimal.Decimal`` (so ``1e3``, ``1_000``,
  ``nan`` and ``inf`` are numbers). The adapter calls it ``integer`` when ``MaxPrecision`` (the most
  decimal places of the *normalized* values, NaN and infinities skipped) is 0, so ``3.0`` and
  ``6.00`` make an integer column, and ``float8`` (DuckDB ``DOUBLE``) otherwise.
- ``Date``: ``strptime(value, '%Y-%m-%d')`` (``2024-1-5`` is a date); ``DateTime``:
  ``strptime(value, '%Y-%m-%d %H:%M:%S')``; ``ISODateTime``: ``isodate.parse_datetime`` (a date and
  a time joined by one ``T``, ISO 8601's basic/extended, week and ordinal date forms, reduced
  times, fractions, ``Z``/``±hh[:mm]``). Both date-time kinds are ``TIMESTAMP``; a column mixing
  dates and date-times, or the two date-time spellings, is text.
- ``Boolean``: ``true``/``false`` in any case, after stripping spaces and commas.

dbt-duckdb then loads the file with DuckDB's ``COPY`` into that table, so the values are DuckDB's
casts of the texts (orch reads them as text and casts them in the warehouse, the same casts). A
value agate accepts and DuckDB does not (``1,000``, ``$5``, ``5%`` in an integer column, ``' true'``
in a boolean one) fails ``dbt seed``, and fails orch's load the same way. One difference on
purpose: a whole-number column with a value beyond 32 bits is ``BIGINT`` in orch (dbt creates
``INTEGER`` and fails to load it).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

# Values dbt's agate type tester reads as NULL (compared after strip + lower).
NULL_VALUES = ("", "null")
# The same for pyarrow's CSV reader, which compares exactly.
CSV_NULL_VALUES = ["", "null", "NULL", "Null"]
# dbt-duckdb loads a seed's rows with DuckDB's own ``COPY ... FROM 'file.csv'`` (its default
# ``fast`` seed path) into the table typed by agate: only an empty field is NULL there (quoted
# or not), the text 'null' stays text (verified against dbt-core 1.11 / dbt-duckdb 1.11).
DUCKDB_CSV_NULL_VALUES = [""]

_TYPE_NAMES = {
    # agate type -> (duckdb and most others, snowflake)
    "integer": ("INTEGER", "NUMBER(38,0)"),
    "date": ("DATE", "DATE"),
    "datetime": ("TIMESTAMP", "TIMESTAMP_NTZ"),
    "boolean": ("BOOLEAN", "BOOLEAN"),
    "text": ("VARCHAR", "VARCHAR"),
}
_INT32 = 2**31 - 1
# agate.data_types.number.DEFAULT_CURRENCY_SYMBOLS
_CURRENCY_SYMBOLS = "؋$ƒ៛¥₡₱£€¢﷼₪₩₭₮₦฿₤₫"


def csv_null_values(target_type: str) -> list[str]:
    """The CSV texts ``dbt seed`` stores as NULL on ``target_type``."""
    return DUCKDB_CSV_NULL_VALUES if target_type == "duckdb" else CSV_NULL_VALUES


def infer_seed_types(path: Path, target_type: str) -> dict[str, str]:
    """The type dbt would give each column of the CSV file ``path`` on ``target_type``."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    snowflake = target_type == "snowflake"
    types: dict[str, str] = {}
    for i, name in enumerate(header):
        # the type depends on the distinct values only: test each once
        values = {r[i].strip() for r in body if i < len(r)}
        types[name] = column_type([v for v in values if v.lower() not in NULL_VALUES], snowflake)
    return types


def column_type(values: list[str], snowflake: bool = False) -> str:
    """The type dbt gives a column of these non-NULL, stripped texts (on DuckDB by default)."""
    numbers = _numbers(values)
    if numbers is not None:
        decimals = _max_precision(numbers)
        if decimals:
            return f"NUMBER(38,{decimals})" if snowflake else "DOUBLE"
        big = any(n.is_finite() and abs(n) > _INT32 for n in numbers)
        return "NUMBER(38,0)" if snowflake else ("BIGINT" if big else "INTEGER")
    kind = "text"
    for name, test in _TESTS:
        if all(test(v) for v in values):
            kind = name
            break
    return _TYPE_NAMES[kind][1 if snowflake else 0]


# --------------------------------------------------------------------------- agate's casts


def _numbers(values: list[str]) -> list[Decimal] | None:
    """Every value as agate's Number reads it, or None when one is not a number."""
    out = []
    for value in values:
        number = _number(value)
        if number is None:
            return None
        out.append(number)
    return out


def _number(value: str) -> Decimal | None:
    text = value.strip().strip("%")
    sign = 1
    if text.startswith("-"):
        text, sign = text[1:], -1
    text = text.strip(_CURRENCY_SYMBOLS).replace(",", "")
    try:
        return Decimal(text) * sign
    except (InvalidOperation, ValueError):
        return None


def _max_precision(numbers: list[Decimal]) -> int:
    """agate's ``MaxPrecision``: the most decimal places of any normalized value."""
    places = 0
    for number in numbers:
        if math.isnan(number) or math.isinf(number):
            continue
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            continue  # a whole number written without decimals: normalized, none either
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return places


def _strptime(fmt: str, fast: re.Pattern[str]) -> Callable[[str], bool]:
    """``strptime(value, fmt)`` succeeds; ``fast`` matches the zero-padded spelling, whose
    fields are checked by constructing the datetime (strptime is ~20x slower); any other
    spelling, or a failed construction, is left to strptime itself."""

    def test(value: str) -> bool:
        match = fast.match(value)
        if match is not None:
            try:
                _construct([int(g) for g in match.groups()])
                return True
            except ValueError:
                pass
        try:
            datetime.strptime(value, fmt)
        except ValueError:
            return False
        return True

    return test


def _construct(fields: list[int]) -> None:
    """Raise ValueError unless year, month, day[, hour, minute[, second]] make a date-time."""
    hour, minute, second = (*fields[3:6], 0, 0, 0)[:3]
    datetime(fields[0], fields[1], fields[2], hour, minute, second)


_FAST_DATE = re.compile(r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_FAST_DATETIME = re.compile(
    r"\A([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z"
)
# the usual ISO spelling: YYYY-MM-DDThh:mm[:ss[.f]][Z|±hh[:mm]]
_FAST_ISO = re.compile(
    r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z"
)


_DATE_RES = [
    re.compile(r"\A" + pattern + r"\Z")
    for pattern in (
        # isodate.isodates.build_date_regexps(4, expanded=False), in its order
        r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})",
        r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})",
        r"(?P<year>[0-9]{4})-W(?P<week>[0-9]{2})-(?P<wday>[0-9]{1})",
        r"(?P<year>[0-9]{4})W(?P<week>[0-9]{2})(?P<wday>[0-9]{1})",
        r"(?P<year>[0-9]{4})-(?P<yday>[0-9]{3})",
        r"(?P<year>[0-9]{4})(?P<yday>[0-9]{3})",
        r"(?P<year>[0-9]{4})-W(?P<week>[0-9]{2})",
        r"(?P<year>[0-9]{4})W(?P<week>[0-9]{2})",
        r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})",
        r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})",
        r"(?P<year>[0-9]{4})",
        r"(?P<century>[0-9]{2})",
    )
]
_TZ = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
_TIME_RES = [
    re.compile(r"\A" + pattern + _TZ + r"\Z")
    for pattern in (
        # isodate.isotime.build_time_regexps()
        r"T?(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2}([,.][0-9]+)?)",
        r"T?(?P<hour>[0-9]{2})(?P<minute>[0-9]{2})(?P<second>[0-9]{2}([,.][0-9]+)?)",
        r"T?(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}([,.][0-9]+)?)",
        r"T?(?P<hour>[0-9]{2})(?P<minute>[0-9]{2}([,.][0-9]+)?)",
        r"T?(?P<hour>[0-9]{2}([,.][0-9]+)?)",
    )
]


def _iso_date(text: str) -> bool:
    """Whether ``isodate.parse_date`` reads ``text`` (the first matching form decides)."""
    for pattern in _DATE_RES:
        match = pattern.match(text)
        if not match:
            continue
        g = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        try:
            if "century" in g:
                date(g["century"] * 100 + 1, 1, 1)
            elif "week" in g:
                start = date(g["year"], 1, 1)
                iso = start.isocalendar()
                start + timedelta(
                    weeks=g["week"] - (1 if iso[1] == 1 else 0), days=-iso[2] + (g.get("wday") or 1)
                )
            elif "yday" in g:
                date(g["year"], 1, 1) + timedelta(days=g["yday"] - 1)
            else:
                date(g["year"], g.get("month") or 1, g.get("day", 1))
        except (ValueError, OverflowError):
            return False
        return True
    return False


def _iso_time(text: str) -> bool:
    """Whether ``isodate.parse_time`` reads ``text``."""
    for pattern in _TIME_RES:
        match = pattern.match(text)
        if not match:
            continue
        g = {k: Decimal(v.replace(",", ".")) for k, v in match.groupdict().items() if v}
        hour, minute, second = g["hour"], g.get("minute"), g.get("second")
        if minute is None:
            minute = (hour - int(hour)) * 60
        if second is None:
            second = (minute - int(minute)) * 60
        try:
            time(int(hour), int(minute), int(second))
        except ValueError:
            return False
        return True
    return False


def _iso_datetime(value: str) -> bool:
    """Whether dbt's ``ISODateTime`` reads ``value``: ``isodate.parse_datetime``."""
    match = _FAST_ISO.match(value)
    if match is not None:
        try:
            _construct([int(g) for g in match.groups() if g is not None])
            return True
        except ValueError:
            pass  # e.g. month 00, which isodate reads as January: the full port decides
    parts = value.split("T")
    return len(parts) == 2 and _iso_date(parts[0]) and _iso_time(parts[1])


def _boolean(value: str) -> bool:
    return value.replace(",", "").strip().lower() in ("true", "false")


_TESTS: list[tuple[str, Callable[[str], bool]]] = [
    ("date", _strptime("%Y-%m-%d", _FAST_DATE)),
    ("datetime", _strptime("%Y-%m-%d %H:%M:%S", _FAST_DATETIME)),
    ("datetime", _iso_datetime),
    ("boolean", _boolean),
]
