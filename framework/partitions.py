"""Partition definitions: time windows or static keys, their keys and windows, and the mapping
between the partitions of an asset and those of its upstream assets.

Key formats (one per grain; a key is always a string):

==========  ================  ===========================================================
grain       key               window (wall-clock time in the definition's ``timezone``)
==========  ================  ===========================================================
hourly      ``2024-01-31T05``  2024-01-31 05:00 ≤ t < 2024-01-31 06:00
daily       ``2024-01-31``     2024-01-31 00:00 ≤ t < 2024-02-01 00:00
weekly      ``2024-W05``       ISO week: Monday 2024-01-29 00:00 ≤ t < Monday 2024-02-05
monthly     ``2024-01``        2024-01-01 00:00 ≤ t < 2024-02-01 00:00
static      the key itself    (no window: rows whose partition column equals the key)
==========  ================  ===========================================================

``start`` is the first instant covered, ``end`` (optional) the first instant *not* covered.
Windows are naive wall-clock datetimes in the definition's timezone; the timezone only decides
which window is the last complete one at a given moment.

Partition mapping (:func:`upstream_keys`): an upstream of the same grain maps to the same key; a
finer upstream (daily read by monthly) maps to every key inside the window; a coarser upstream
(monthly read by daily) maps to the key containing the window; an unpartitioned upstream maps to
all of it (``None``); static keys map to the same key when the upstream has it.

Layer 1: no warehouse, no adapter, no SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orch.config import PartitionConfig
from orch.errors import PartitionError
from orch.names import column as column_ref

if TYPE_CHECKING:
    from sqlglot import exp

KEY_TOKEN = "__orch_partition_key__"
START_TOKEN = "__orch_partition_start__"
END_TOKEN = "__orch_partition_end__"

GRAINS = ("hourly", "daily", "weekly", "monthly")
KEY_FORMATS = {
    "hourly": "YYYY-MM-DDTHH (e.g. 2024-01-31T05)",
    "daily": "YYYY-MM-DD (e.g. 2024-01-31)",
    "weekly": "YYYY-Www, an ISO week (e.g. 2024-W05)",
    "monthly": "YYYY-MM (e.g. 2024-01)",
}
_KEY_PATTERNS = {
    "hourly": re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})$"),
    "daily": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    "weekly": re.compile(r"^(\d{4})-W(\d{2})$"),
    "monthly": re.compile(r"^(\d{4})-(\d{2})$"),
}
_ORDER = {g: i for i, g in enumerate(GRAINS)}
_INSTANT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$")


# --------------------------------------------------------------------------- time arithmetic


def floor(grain: str, t: datetime) -> datetime:
    """The start of the ``grain`` window containing ``t``."""
    if grain == "hourly":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "daily":
        return day
    if grain == "weekly":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def advance(grain: str, t: datetime, n: int = 1) -> datetime:
    """``t`` moved by ``n`` windows of ``grain`` (``t`` must be a window start)."""
    if grain == "hourly":
        return t + timedelta(hours=n)
    if grain == "daily":
        return t + timedelta(days=n)
    if grain == "weekly":
        return t + timedelta(weeks=n)
    months = t.year * 12 + (t.month - 1) + n
    return t.replace(year=months // 12, month=months % 12 + 1)


def format_key(grain: str, t: datetime) -> str:
    """The key of the window starting at ``t``."""
    if grain == "hourly":
        return t.strftime("%Y-%m-%dT%H")
    if grain == "daily":
        return t.strftime("%Y-%m-%d")
    if grain == "weekly":
        year, week, _ = t.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return t.strftime("%Y-%m")


def key_grain(key: str) -> str | None:
    """The grain a key's format belongs to, or None when it is no time key."""
    for grain, pattern in _KEY_PATTERNS.items():
        if pattern.match(key):
            return grain
    return None


def parse_time_key(key: str, grain: str | None = None) -> tuple[str, datetime]:
    """``(grain, window start)`` of a time key; ``grain`` (when given) must match its format."""
    found = key_grain(key) if grain is None else grain
    match = _KEY_PATTERNS[found].match(key) if found else None
    if found is None or match is None:
        allowed = KEY_FORMATS[grain] if grain else "; ".join(KEY_FORMATS.values())
        raise PartitionError(f"invalid partition key '{key}'", hint=f"Expected {allowed}")
    parts = [int(p) for p in match.groups()]
    try:
        if found == "weekly":
            start = datetime.combine(
                date.fromisocalendar(parts[0], parts[1], 1), datetime.min.time()
            )
        elif found == "monthly":
            start = datetime(parts[0], parts[1], 1)
        elif found == "daily":
            start = datetime(parts[0], parts[1], parts[2])
        else:
            start = datetime(parts[0], parts[1], parts[2], parts[3])
    except ValueError as err:
        raise PartitionError(
            f"invalid partition key '{key}': {err}", hint=f"Expected {KEY_FORMATS[found]}"
        ) from None
    return found, start


def parse_instant(text: str, what: str) -> datetime:
    """``2024-01-31`` or ``2024-01-31 05:00[:00]`` (``T`` allowed) as a naive datetime."""
    match = _INSTANT.match(str(text).strip())
    if not match:
        raise PartitionError(
            f"invalid {what} '{text}'", hint="Expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]"
        )
    y, m, d, hh, mm, ss = (int(p) if p else 0 for p in match.groups())
    try:
        return datetime(y, m, d, hh, mm, ss)
    except ValueError as err:
        raise PartitionError(f"invalid {what} '{text}': {err}") from None


def format_instant(t: datetime) -> str:
    """A window bound as the literal text SQL receives: ``2024-01-31 00:00:00``."""
    return t.strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class TimeWindows:
    """Contiguous windows of one grain from ``start`` (inclusive) to ``end`` (exclusive)."""

    grain: str
    start: datetime
    end: datetime | None
    timezone: str = "UTC"
    lookback: int = 0
    column: str | None = None

    kind = "time"

    def parse(self, key: str) -> datetime:
        """The window start of ``key``; an error when its format or range is wrong."""
        _, start = parse_time_key(key, self.grain)
        if start < self.start or (self.end is not None and start >= self.end):
            raise PartitionError(
                f"partition key '{key}' is outside the definition's range ({self.describe()})",
                hint=f"Use a key from {self.first_key()} to {self.final_key() or 'now'}",
            )
        return start

    def validate(self, key: str) -> str:
        """``key`` itself, after checking its format and range."""
        self.parse(key)
        return key

    def window(self, key: str) -> tuple[datetime, datetime]:
        """``(start, end)`` of a key's window, end exclusive."""
        start = self.parse(key)
        return start, advance(self.grain, start)

    def first_key(self) -> str:
        """The first key of the definition."""
        return format_key(self.grain, self.start)

    def final_key(self) -> str | None:
        """The last key before ``end``; None when the definition is open-ended."""
        if self.end is None:
            return None
        return format_key(self.grain, floor(self.grain, self.end - _TICK))

    def last_complete_key(self, now: datetime) -> str | None:
        """The newest key whose window has ended at ``now`` (an aware datetime), within range."""
        local = now.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        limit = floor(self.grain, local)  # the running window's start: it is not complete
        if self.end is not None and self.end < limit:
            limit = self.end
        last = floor(self.grain, limit - _TICK)
        if last < self.start:
            return None
        return format_key(self.grain, last)

    def keys_between(self, first: str, last: str) -> list[str]:
        """Every key from ``first`` to ``last``, both included, in order."""
        a, b = self.parse(first), self.parse(last)
        out = []
        t = a
        while t <= b:
            out.append(format_key(self.grain, t))
            t = advance(self.grain, t)
        return out

    def keys_until(self, now: datetime, limit: int | None = None) -> list[str]:
        """Every key up to the last complete one at ``now`` (the newest ``limit`` only)."""
        last = self.last_complete_key(now)
        if last is None:
            return []
        first = self.start
        if limit is not None:
            first = max(first, advance(self.grain, self.parse(last), -(max(limit, 1) - 1)))
        return self.keys_between(format_key(self.grain, first), last)

    def keys_overlapping(self, lo: datetime, hi: datetime, last: str | None) -> list[str]:
        """Keys whose window overlaps ``[lo, hi)``, clipped to the range and to ``last``."""
        if last is None:
            return []
        t = max(floor(self.grain, lo), self.start)
        stop = self.parse(last)
        out = []
        while t < hi and t <= stop:
            out.append(format_key(self.grain, t))
            t = advance(self.grain, t)
        return out

    def describe(self) -> str:
        """``daily from 2024-01-01`` (``until ...`` when it ends)."""
        text = f"{self.grain} from {format_instant(self.start).removesuffix(' 00:00:00')}"
        if self.end is not None:
            text += f" until {format_instant(self.end).removesuffix(' 00:00:00')}"
        return text


_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class StaticKeys:
    """A fixed list of keys (regions, tenants...); rows match on ``column = key``."""

    keys: tuple[str, ...]
    column: str | None = None
    lookback: int = 0

    kind = "static"
    grain = "static"

    def validate(self, key: str) -> str:
        """``key`` itself when it is one of the keys."""
        if key not in self.keys:
            raise PartitionError(
                f"unknown partition key '{key}'",
                hint=f"Use one of: {', '.join(self.keys[:20])}"
                + (" ..." if len(self.keys) > 20 else ""),
            )
        return key

    def keys_between(self, first: str, last: str) -> list[str]:
        """Keys from ``first`` to ``last`` in the declared order, both included."""
        i, j = self.keys.index(self.validate(first)), self.keys.index(self.validate(last))
        if i > j:
            raise PartitionError(f"'{first}' comes after '{last}' in the declared keys")
        return list(self.keys[i : j + 1])

    def last_complete_key(self, now: datetime) -> str | None:
        """Static keys are always complete: the last one."""
        return self.keys[-1] if self.keys else None

    def keys_until(self, now: datetime, limit: int | None = None) -> list[str]:
        """Every key (static keys are always complete; the last ``limit`` only)."""
        return list(self.keys if limit is None else self.keys[-max(limit, 1) :])

    def describe(self) -> str:
        """``static (3 keys)``."""
        return f"static ({len(self.keys)} keys)"


PartitionDefinition = TimeWindows | StaticKeys


def partition_keys(
    definition: PartitionDefinition, now: datetime, limit: int | None = None
) -> list[str]:
    """The keys of a definition up to the last complete one at ``now`` (an aware datetime), in
    order; with ``limit``, only the newest ``limit``. The one key listing of orch."""
    return definition.keys_until(now, limit)


def definition_of(config: PartitionConfig, *, asset: str = "") -> PartitionDefinition:
    """The definition a ``partitioned_by`` config describes; an error naming what is allowed."""
    where = f" of '{asset}'" if asset else ""
    if config.keys is not None:
        keys = tuple(str(k) for k in config.keys)
        if not keys:
            raise PartitionError(f"the static partition keys{where} are empty", hint="List keys")
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise PartitionError(f"duplicate partition keys{where}: {', '.join(dupes)}")
        return StaticKeys(keys, config.column, config.lookback)
    grain = str(config.grain)
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PartitionError(
            f"unknown timezone '{config.timezone}'{where}",
            hint="Use an IANA name such as UTC or Europe/Paris",
        ) from None
    start = parse_instant(str(config.start), f"partition start{where}")
    end = parse_instant(str(config.end), f"partition end{where}") if config.end else None
    if floor(grain, start) != start:
        aligned = format_instant(floor(grain, start)).removesuffix(" 00:00:00")
        rule = {
            "hourly": "on the hour",
            "daily": "at midnight",
            "weekly": "on a Monday (ISO weeks)",
            "monthly": "on the first day of a month",
        }[grain]
        raise PartitionError(
            f"{grain} partitions{where} must start {rule}, not '{config.start}'",
            hint=f"Use start: '{aligned}'",
        )
    if end is not None and end <= start:
        raise PartitionError(
            f"partition end '{config.end}'{where} is not after its start '{config.start}'"
        )
    return TimeWindows(grain, start, end, config.timezone, config.lookback, config.column)


# --------------------------------------------------------------------------- mapping


def upstream_keys(
    down: PartitionDefinition, key: str, up: PartitionDefinition | None
) -> list[str] | None:
    """The upstream partition keys partition ``key`` of ``down`` reads; None means all of it."""
    if up is None:
        return None
    if isinstance(down, StaticKeys) or isinstance(up, StaticKeys):
        if isinstance(down, StaticKeys) and isinstance(up, StaticKeys) and key in up.keys:
            return [key]
        return None  # static and time do not line up: depend on all of it
    lo, hi = down.window(key)
    if _ORDER[up.grain] <= _ORDER[down.grain]:
        # same or finer upstream: every upstream window inside ours
        out, t = [], max(floor(up.grain, lo), up.start)
        while t < hi and (up.end is None or t < up.end):
            out.append(format_key(up.grain, t))
            t = advance(up.grain, t)
        return out
    # coarser upstream: the window(s) containing ours (weeks can straddle months)
    out, t = [], floor(up.grain, lo)
    while t < hi:
        if t >= up.start and (up.end is None or t < up.end):
            out.append(format_key(up.grain, t))
        t = advance(up.grain, t)
    return out


def compress(keys_status: Iterable[tuple[str, str]], definition: PartitionDefinition) -> list[str]:
    """``[(key, label)]`` in key order → ``['2024-01-01..2024-03-31 ok', '2024-04-02 failed']``.

    Consecutive keys (adjacent windows, or adjacent static keys) with the same label merge.
    """
    runs: list[list[str]] = []  # [first, last, label]
    previous: str | None = None
    for key, label in keys_status:
        adjacent = previous is not None and _adjacent(definition, previous, key)
        if runs and adjacent and runs[-1][2] == label:
            runs[-1][1] = key
        else:
            runs.append([key, key, label])
        previous = key
    return [f"{a} {label}" if a == b else f"{a}..{b} {label}" for a, b, label in runs]


def _adjacent(definition: PartitionDefinition, a: str, b: str) -> bool:
    if isinstance(definition, StaticKeys):
        return definition.keys.index(b) == definition.keys.index(a) + 1
    _, ta = parse_time_key(a, definition.grain)
    _, tb = parse_time_key(b, definition.grain)
    return advance(definition.grain, ta) == tb


# --------------------------------------------------------------------------- SQL


# Windows are naive wall-clock times: TIMESTAMP on DuckDB, TIMESTAMP_NTZ spelled out on Snowflake
# (whatever the account's TIMESTAMP_TYPE_MAPPING), as sqlglot writes a model's own TIMESTAMP.
# ``WINDOW_TYPE`` (sqlglot's TIMESTAMPNTZ) is resolved on first use: sqlglot is imported by the
# code that writes SQL, not by every command that imports this module.
def window_type() -> Any:  # sqlglot's exp.DataType.Type
    """The SQL type of window bounds (``WINDOW_TYPE``)."""
    from sqlglot import exp

    return exp.DataType.Type.TIMESTAMPNTZ


def __getattr__(name: str) -> Any:
    if name == "WINDOW_TYPE":
        return window_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _timestamp(token: str) -> exp.Expr:
    from sqlglot import exp

    return exp.cast(exp.Literal.string(token), exp.DataType(this=window_type()))


def window_condition(
    definition: PartitionDefinition,
    column: str,
    dialect: str,
    table: str | None = None,
    written: Mapping[str, exp.Identifier] | None = None,
) -> exp.Expr:
    """``column`` inside the partition (placeholders for the bounds, bound at execution).

    Time: ``column >= CAST(start AS TIMESTAMP) AND column < CAST(end AS TIMESTAMP)``;
    static: ``column = key``. The column is named as ``dialect`` stores it
    (:func:`orch.names.normalize_identifier`: ``"ORDERED_AT"`` on Snowflake; ``written``, the
    model's output columns as its SQL writes them, keeps the case of one the user quoted).
    """
    from sqlglot import exp

    col = column_ref(column, dialect, table, written)
    if isinstance(definition, StaticKeys):
        return exp.EQ(this=col, expression=exp.Literal.string(KEY_TOKEN))
    return exp.And(
        this=exp.GTE(this=col, expression=_timestamp(START_TOKEN)),
        expression=exp.LT(this=col.copy(), expression=_timestamp(END_TOKEN)),
    )


def filtered_relation(
    table: exp.Table,
    definition: PartitionDefinition,
    column: str,
    dialect: str,
    written: Mapping[str, exp.Identifier] | None = None,
) -> exp.Subquery:
    """``(SELECT * FROM table WHERE <column in the partition>)``: an upstream read per window.

    ``dialect`` is the target's: the column is named as the upstream table stores it
    (``written``: the upstream's output columns, see :func:`window_condition`).
    """
    from sqlglot import exp

    condition = window_condition(definition, column, dialect, written=written)
    select = exp.select("*").from_(table.copy()).where(condition)
    return select.subquery()


def bind_partition(sql: str, definition: PartitionDefinition, key: str, dialect: str) -> str:
    """``sql`` with the placeholder literals replaced by the partition's own literals.

    The replacement literals are generated by sqlglot for ``dialect`` (quotes escaped), and the
    values come from a validated key, so nothing a user writes can break the quoting.
    """
    for placeholder, literal in partition_literals(definition, key, dialect):
        if placeholder in sql:
            sql = sql.replace(placeholder, literal)
    return sql


@lru_cache(maxsize=4096)
def partition_literals(
    definition: PartitionDefinition, key: str, dialect: str
) -> tuple[tuple[str, str], ...]:
    """``(placeholder literal, value literal)`` pairs of one partition (cached: backfills bind
    thousands of partitions, each twice)."""
    from sqlglot import exp

    values = {KEY_TOKEN: key}
    if isinstance(definition, TimeWindows):
        start, end = definition.window(key)
        values[START_TOKEN] = format_instant(start)
        values[END_TOKEN] = format_instant(end)
    else:
        values[START_TOKEN] = values[END_TOKEN] = key
    return tuple(
        (f"'{token}'", exp.Literal.string(value).sql(dialect=dialect))
        for token, value in values.items()
    )


__all__ = [
    "GRAINS",
    "KEY_FORMATS",
    "PartitionDefinition",
    "StaticKeys",
    "TimeWindows",
    "WINDOW_TYPE",  # noqa: F822 - resolved by __getattr__
    "compress",
    "bind_partition",
    "definition_of",
    "filtered_relation",
    "format_instant",
    "key_grain",
    "parse_instant",
    "parse_time_key",
    "partition_keys",
    "upstream_keys",
    "window_condition",
]
