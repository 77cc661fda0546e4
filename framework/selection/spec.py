"""Selector text -> frozen spec objects: criteria, intersections, unions, and their parser."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from orch.errors import SelectionError, suggestion

METHODS = ("config", "group", "path", "resource_type", "source", "tag", "test_type")
RESOURCE_TYPES = ("check", "model", "seed", "source", "test", "unit_test")
ALLOWED_METHODS = "config.<key>, group, path, resource_type, source, tag, test_type"
WILDCARD = re.compile(r"[*?\[]")
_CRITERION = re.compile(
    r"^(?P<at>@)?"
    r"(?P<parents>(?P<parents_depth>\d*)\+)?"
    r"(?:(?P<method>[A-Za-z_][\w.]*):)?"
    r"(?P<value>.*?)"
    r"(?P<children>\+(?P<children_depth>\d*))?$"
)


# --------------------------------------------------------------------------- spec objects


@dataclass(frozen=True)
class SelectionCriterion:
    """One criterion: a method and value with its graph operators (``2+tag:nightly+``)."""

    raw: str
    method: str  # "name" for a bare name, else one of METHODS
    value: str
    args: tuple[str, ...] = ()  # the key path of ``config.<key>...``
    parents: bool = False
    parents_depth: int | None = None  # None: every ancestor
    children: bool = False
    children_depth: int | None = None  # None: every descendant
    childrens_parents: bool = False  # ``@``

    @property
    def is_wildcard(self) -> bool:
        """A bare name holding fnmatch characters."""
        return self.method == "name" and bool(WILDCARD.search(self.value))


@dataclass(frozen=True)
class SelectionIntersection:
    """Criteria joined by ``,``: what every one of them selects."""

    raw: str
    criteria: tuple[SelectionCriterion, ...]


@dataclass(frozen=True)
class SelectionSpec:
    """Intersections joined by spaces (or given as separate ``-s`` values): their union."""

    union: tuple[SelectionIntersection, ...] = ()

    @property
    def is_empty(self) -> bool:
        """No criterion at all (the caller then selects everything)."""
        return not self.union

    @property
    def criteria(self) -> tuple[SelectionCriterion, ...]:
        """Every criterion, in order."""
        return tuple(c for inter in self.union for c in inter.criteria)


# --------------------------------------------------------------------------- parsing


def parse_selection(select: Sequence[str]) -> SelectionSpec:
    """Parse selector strings into a :class:`SelectionSpec`.

    Args:
        select: ``-s`` values; each may hold several terms separated by spaces (a union), each term
            several criteria separated by commas (an intersection).

    Returns:
        The spec; empty when every string is blank.

    Raises:
        SelectionError: naming the offending text, with a hint, when a criterion is malformed.
    """
    if isinstance(select, str):  # a lone string is one selector, not its characters
        select = [select]
    union: list[SelectionIntersection] = []
    for text in select:
        for term in text.split():
            parts = term.split(",")
            if any(not p for p in parts):
                raise SelectionError(
                    f"invalid selector '{term}': empty criterion around ','",
                    hint="Join criteria with single commas and no spaces, e.g. 'tag:nightly,stg_*'",
                )
            union.append(SelectionIntersection(term, tuple(_parse_criterion(p) for p in parts)))
    return SelectionSpec(tuple(union))


def _parse_criterion(raw: str) -> SelectionCriterion:
    match = _CRITERION.match(raw)
    if match is None:  # pragma: no cover - the pattern matches any text
        raise SelectionError(f"invalid selector '{raw}'")
    at, method, value = bool(match["at"]), match["method"], match["value"]
    if at and match["parents"]:
        raise SelectionError(
            f"invalid selector '{raw}': '@' and a leading '+' cannot be combined",
            hint=f"'@{value}' already includes every ancestor",
        )
    if "+" in value or "@" in value or (method and ("+" in method or "@" in method)):
        raise SelectionError(
            f"invalid selector '{raw}': '+' may only start or end a selector and '@' only start it",
            hint="Write e.g. '+orders', '2+orders', 'orders+1', '+tag:nightly+' or '@orders'",
        )
    if not value:
        if method:
            raise SelectionError(
                f"invalid selector '{raw}': no value after '{method}:'",
                hint=f"Write e.g. '{method}:{_EXAMPLES.get(method.split('.')[0], 'x')}'",
            )
        raise SelectionError(
            f"invalid selector '{raw}': it names nothing",
            hint="Put a name or a method next to the graph operator, e.g. '+orders' or "
            "'2+tag:nightly'",
        )
    args: tuple[str, ...] = ()
    if method is None:
        method = "name"
    else:
        method, *rest = method.split(".")
        args = tuple(rest)
        if method not in METHODS or (args and method != "config"):
            full = ".".join((method, *args))
            close = suggestion(full, METHODS)
            raise SelectionError(
                f"unknown selection method '{full}' in '{raw}'",
                hint=f"{close + ' ' if close else ''}Allowed methods: {ALLOWED_METHODS}",
            )
        if method == "config" and (not args or not all(args)):
            raise SelectionError(
                f"invalid selector '{raw}': 'config' needs a key",
                hint="Write e.g. 'config.materialized:table'",
            )
        if method == "resource_type" and value not in RESOURCE_TYPES:
            close = suggestion(value, RESOURCE_TYPES)
            raise SelectionError(
                f"unknown resource type '{value}' in '{raw}'",
                hint=f"{close + ' ' if close else ''}Allowed: {', '.join(RESOURCE_TYPES)}",
            )
    return SelectionCriterion(
        raw=raw,
        method=method,
        value=value,
        args=args,
        parents=bool(match["parents"]),
        parents_depth=_depth(match["parents_depth"]),
        children=bool(match["children"]),
        children_depth=_depth(match["children_depth"]),
        childrens_parents=at,
    )


_EXAMPLES = {
    "config": "table",
    "group": "finance",
    "path": "models/staging",
    "resource_type": "model",
    "source": "raw",
    "tag": "nightly",
    "test_type": "not_null",
}


def _depth(text: str | None) -> int | None:
    return int(text) if text else None
