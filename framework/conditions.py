"""Automation conditions: when an asset should be refreshed on its own (``orch daemon``).

One spelling in YAML, ``config()`` and Python: Python's operators over four kinds.

- ``eager``: after any upstream updates, once no upstream is missing or failing.
- ``on_cron("0 6 * * *")``: once per cron tick, after every upstream updated since the tick.
- ``on_missing``: build what was never built (missing partitions) once its upstreams have data.
- ``max_lag(2h)``: a freshness policy; refresh before the data (including what it read
  upstream) gets older than that.

Combine them with ``&`` (and), ``|`` (or) and ``~`` (not). In Python they are objects
(``eager & ~on_cron("0 0 * * 0")``); in YAML and ``config(automation=...)`` the same text is a
string, parsed here (:func:`parse_condition`). A condition is stored in the manifest as its
canonical text (:attr:`Condition.expression`); this module only holds the values and the
parser. :mod:`orch.automation.evaluate` decides what they mean for a tick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from orch.config import check_cron
from orch.errors import did_you_mean

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")


class ConditionSyntaxError(ValueError):
    """An automation condition that does not parse: the message names the token and column."""


@dataclass(frozen=True)
class Condition:
    """Base of every condition; ``&``, ``|`` and ``~`` build composites."""

    def __and__(self, other: Condition) -> Condition:
        return And((*_parts(self, And), *_parts(_checked(other), And)))

    def __or__(self, other: Condition) -> Condition:
        return Or((*_parts(self, Or), *_parts(_checked(other), Or)))

    def __invert__(self) -> Condition:
        return Not(self)

    @property
    def expression(self) -> str:
        """The canonical text (what YAML would say), stored in the manifest."""
        raise NotImplementedError  # pragma: no cover

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True)
class Eager(Condition):
    """Refresh after any upstream updates (or when never built), once upstreams are usable."""

    @property
    def expression(self) -> str:
        """``eager``."""
        return "eager"


@dataclass(frozen=True)
class OnMissing(Condition):
    """Build what is missing (never built, missing partitions) once its upstreams have data."""

    @property
    def expression(self) -> str:
        """``on_missing``."""
        return "on_missing"


@dataclass(frozen=True)
class OnCron(Condition):
    """Refresh once per tick of ``cron`` (UTC), after every upstream updated since the tick."""

    cron: str

    @property
    def expression(self) -> str:
        """``on_cron("...")``."""
        return f'on_cron("{self.cron}")'


@dataclass(frozen=True)
class MaxLag(Condition):
    """A freshness policy: the data (and what it read upstream) at most ``seconds`` old."""

    seconds: float

    @property
    def expression(self) -> str:
        """``max_lag(2h)``."""
        return f"max_lag({format_duration(self.seconds)})"


@dataclass(frozen=True)
class And(Condition):
    """Every part holds."""

    parts: tuple[Condition, ...]

    @property
    def expression(self) -> str:
        """``a & b``, parenthesizing an ``|`` part."""
        return " & ".join(
            f"({p.expression})" if isinstance(p, Or) else p.expression for p in self.parts
        )


@dataclass(frozen=True)
class Or(Condition):
    """At least one part holds."""

    parts: tuple[Condition, ...]

    @property
    def expression(self) -> str:
        """``a | b``."""
        return " | ".join(p.expression for p in self.parts)


@dataclass(frozen=True)
class Not(Condition):
    """The part does not hold."""

    part: Condition

    @property
    def expression(self) -> str:
        """``~a``."""
        inner = self.part
        text = inner.expression
        return f"~({text})" if isinstance(inner, (And, Or)) else f"~{text}"


def _parts(c: Condition, kind: type[And] | type[Or]) -> tuple[Condition, ...]:
    if isinstance(c, kind):
        return c.parts
    return (c,)


def _checked(other: object) -> Condition:
    if not isinstance(other, Condition):
        raise TypeError(f"cannot combine an automation condition with {other!r}")
    return other


eager: Final = Eager()
on_missing: Final = OnMissing()


def on_cron(cron: str) -> OnCron:
    """Refresh once per tick of ``cron`` (5 fields or ``@daily``...), after the upstreams did."""
    return OnCron(check_cron(cron))


def max_lag(lag: str | timedelta) -> MaxLag:
    """A freshness policy: ``"2h"``, ``"30m"``, ``"1d"`` or a timedelta."""
    seconds = lag.total_seconds() if isinstance(lag, timedelta) else parse_duration(str(lag))
    if seconds <= 0:
        raise ConditionSyntaxError(f"max_lag must be positive, not '{lag}'")
    return MaxLag(seconds)


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``2h``, ``1d``, ``1w``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ConditionSyntaxError(
            f"'{text}' is not a duration (a number and a unit: 30m, 2h, 1d, 1w)"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The largest unit that divides ``seconds`` exactly: ``7200`` → ``2h``."""
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# --------------------------------------------------------------------------- the parser

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<dur>\d+(?:\.\d+)?\s*[smhdw]\b)|(?P<op>[&|~()])|(?P<bad>\S))"
)
KINDS: Final = ("eager", "on_cron", "on_missing", "max_lag")
_WORDS = {"and": "&", "or": "|", "not": "~"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    col: int  # 1-based


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:  # only trailing whitespace
            break
        kind = match.lastgroup
        out.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def fail(self, token: _Token | None, expected: str) -> ConditionSyntaxError:
        if token is None:
            return ConditionSyntaxError(
                f"automation condition '{self.text}' ends early: expected {expected}"
            )
        hint = ""
        if token.kind == "word" and token.text.lower() in _WORDS:
            hint = f" (write {_WORDS[token.text.lower()]} for '{token.text}')"
        elif token.kind == "word":
            close = did_you_mean(token.text, KINDS, n=1)
            hint = f". Did you mean {close[0]}?" if close else ""
        return ConditionSyntaxError(
            f"automation condition '{self.text}': unexpected '{token.text}' at column "
            f"{token.col}: expected {expected}{hint}"
        )

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, text: str | None = None) -> _Token | None:
        token = self.peek()
        if token is not None and (text is None or token.text == text):
            self.i += 1
            return token
        return None

    def parse(self) -> Condition:
        if not self.tokens:
            raise ConditionSyntaxError(
                f"automation condition is empty: expected one of {', '.join(KINDS)}"
            )
        found = self.either()
        rest = self.peek()
        if rest is not None:
            raise self.fail(rest, "&, | or the end")
        return found

    def either(self) -> Condition:
        found = self.both()
        while self.take("|"):
            found = found | self.both()
        return found

    def both(self) -> Condition:
        found = self.negated()
        while self.take("&"):
            found = found & self.negated()
        return found

    def negated(self) -> Condition:
        if self.take("~"):
            return ~self.negated()
        return self.atom()

    def atom(self) -> Condition:
        token = self.peek()
        if token is not None and token.text == "(":
            self.i += 1
            found = self.either()
            if not self.take(")"):
                raise self.fail(self.peek(), "')'")
            return found
        if token is None or token.kind != "word" or token.text not in KINDS:
            raise self.fail(token, "a condition (" + ", ".join(KINDS) + ") or '(' or '~'")
        self.i += 1
        if token.text == "eager":
            return eager
        if token.text == "on_missing":
            return on_missing
        argument = self.argument(token)
        try:
            if token.text == "on_cron":
                return on_cron(argument.text.strip("'\""))
            return max_lag(argument.text.strip("'\""))
        except ValueError as err:
            raise ConditionSyntaxError(
                f"automation condition '{self.text}': {token.text} at column {token.col}: {err}"
            ) from None

    def argument(self, name: _Token) -> _Token:
        if not self.take("("):
            raise self.fail(self.peek(), f"'(' after {name.text}")
        arg = self.peek()
        wanted = "a quoted cron expression" if name.text == "on_cron" else "a duration like 2h"
        if arg is None or arg.kind not in ("str", "dur"):
            raise self.fail(arg, wanted)
        self.i += 1
        if not self.take(")"):
            raise self.fail(self.peek(), "')'")
        return arg


def parse_condition(text: str) -> Condition:
    """A condition from its text (YAML, ``config()``).

    Raises:
        ConditionSyntaxError: naming the unexpected token and its column.
    """
    return _Parser(text).parse()


def as_expression(value: object) -> str | None:
    """The canonical text of a condition given as an object or as text (None stays None)."""
    if value is None:
        return None
    if isinstance(value, Condition):
        return value.expression
    if isinstance(value, str):
        return parse_condition(value).expression
    raise ConditionSyntaxError(
        f"an automation condition is text such as 'eager' or an orch condition object, "
        f"not {type(value).__name__}"
    )


__all__ = [
    "And",
    "Condition",
    "ConditionSyntaxError",
    "Eager",
    "MaxLag",
    "Not",
    "OnCron",
    "OnMissing",
    "Or",
    "as_expression",
    "eager",
    "format_duration",
    "max_lag",
    "on_cron",
    "on_missing",
    "parse_condition",
    "parse_duration",
]
