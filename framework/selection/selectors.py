"""``selectors.yml``: named selectors (dbt's format), resolved to ``-s``/``--exclude`` texts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orch.errors import SelectionError, suggestion
from orch.selection.spec import (
    ALLOWED_METHODS,
    METHODS,
    parse_selection,
)
from orch.yamldoc import YamlDoc, load_yaml

SELECTORS_FILE = "selectors.yml"
INDIRECT_MODES = ("eager", "cautious")
_REFUSED_INDIRECT = ("buildable", "empty")
_CRITERION_KEYS = (
    "method", "value", "parents", "children", "parents_depth", "children_depth",
    "childrens_parents", "indirect_selection",
)  # fmt: skip
_SET_KEYS = ("union", "intersection", "exclude")
_SELECTOR_KEYS = ("name", "description", "definition", "default")


@dataclass(frozen=True)
class NamedSelector:
    """One entry of ``selectors.yml``, resolved to ``-s``/``--exclude`` texts."""

    name: str
    description: str
    select: tuple[str, ...]
    exclude: tuple[str, ...]
    indirect_selection: str = "eager"
    default: bool = False


def load_selectors(root: Path) -> dict[str, NamedSelector]:
    """The selectors of ``<root>/selectors.yml`` (empty when there is no such file).

    A definition (dbt's format) is a selector string, a criterion mapping (``method``, ``value``,
    ``parents``, ``children``, ``parents_depth``, ``children_depth``, ``childrens_parents``,
    ``indirect_selection``) or a set operation (``union``, ``intersection``, ``exclude``), nested.
    It becomes the same ``-s``/``--exclude`` texts a command line gives, so evaluation is shared.

    Raises:
        SelectionError: naming ``selectors.yml:line:col`` for an unknown key or method, a
            malformed value, a duplicate name or more than one ``default: true``.
    """

    path = Path(root) / SELECTORS_FILE
    if not path.is_file():
        return {}
    doc = load_yaml(path, SELECTORS_FILE)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("selectors"), list):
        raise SelectionError(
            "selectors.yml must hold a list under 'selectors:'",
            location=doc.location(("selectors",)),
            hint="Write 'selectors:' then '- name: ...' and 'definition: ...' entries",
        )
    for key in data:
        if key != "selectors":
            raise _unknown_key(doc, (key,), str(key), ("selectors",))
    out: dict[str, NamedSelector] = {}
    for i, entry in enumerate(data["selectors"]):
        kp: tuple[str | int, ...] = ("selectors", i)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise SelectionError(
                "a selector needs a 'name'", location=doc.location(kp),
                hint="Write '- name: nightly' and 'definition: tag:nightly'",
            )  # fmt: skip
        for key in entry:
            if key not in _SELECTOR_KEYS:
                raise _unknown_key(doc, (*kp, key), str(key), _SELECTOR_KEYS)
        name = entry["name"]
        if name in out:
            raise SelectionError(
                f"selector '{name}' is defined twice", location=doc.location((*kp, "name")),
                hint="Give each selector its own name",
            )  # fmt: skip
        if "definition" not in entry:
            raise SelectionError(
                f"selector '{name}' has no 'definition'", location=doc.location(kp),
                hint="Add e.g. 'definition: tag:nightly'",
            )  # fmt: skip
        modes: set[str] = set()
        union, excluded = _definition(doc, entry["definition"], (*kp, "definition"), modes)
        select = tuple(",".join(inter) for inter in union)
        exclude = tuple(",".join(inter) for inter in excluded)
        try:
            parse_selection(select), parse_selection(exclude)
        except SelectionError as err:
            raise SelectionError(
                err.message, location=doc.location((*kp, "definition")), hint=err.hint
            ) from None
        if len(modes) > 1:
            raise SelectionError(
                f"selector '{name}' mixes indirect_selection modes {sorted(modes)}",
                location=doc.location((*kp, "definition")),
                hint="Use one indirect_selection mode per selector",
            )
        default = entry.get("default", False)
        if default not in (True, False):
            raise SelectionError(
                f"'default' of selector '{name}' must be true or false",
                location=doc.location((*kp, "default")),
            )
        if default and any(s.default for s in out.values()):
            raise SelectionError(
                f"selector '{name}' is a second 'default: true' selector",
                location=doc.location((*kp, "default")),
                hint="Only one selector can be the default",
            )
        out[name] = NamedSelector(
            name, str(entry.get("description") or ""), select, exclude,
            next(iter(modes), "eager"), bool(default),
        )  # fmt: skip
    return out


def named_selector(selectors: Mapping[str, NamedSelector], name: str) -> NamedSelector:
    """The selector called ``name``.

    Raises:
        SelectionError: naming selectors.yml (and the closest name) when there is none.
    """
    if name in selectors:
        return selectors[name]
    close = suggestion(name, selectors)
    if not selectors:
        hint = f"Define it under 'selectors:' in {SELECTORS_FILE} at the project root"
    else:
        hint = close or f"Defined selectors: {', '.join(sorted(selectors))}"
    raise SelectionError(f"unknown selector '{name}' (not in {SELECTORS_FILE})", hint=hint)


_Inter = tuple[str, ...]  # criteria texts joined by ','


def _unknown_key(
    doc: YamlDoc, kp: tuple[str | int, ...], key: str, known: Iterable[str]
) -> SelectionError:
    close = suggestion(key, known)
    return SelectionError(
        f"unknown key '{key}' in {SELECTORS_FILE}",
        location=doc.location(kp),
        hint=close or f"Allowed keys: {', '.join(known)}",
    )


def _definition(
    doc: YamlDoc, value: Any, kp: tuple[str | int, ...], modes: set[str]
) -> tuple[list[_Inter], list[_Inter]]:
    """A definition as (union of intersections, excluded union of intersections)."""
    if isinstance(value, str):
        try:
            spec = parse_selection(value)
        except SelectionError as err:
            raise SelectionError(err.message, location=doc.location(kp), hint=err.hint) from None
        return [tuple(c.raw for c in inter.criteria) for inter in spec.union], []
    if not isinstance(value, dict) or not value:
        raise SelectionError(
            "a selector definition must be a selector string or a mapping",
            location=doc.location(kp),
            hint="Write e.g. 'tag:nightly', '{method: tag, value: nightly}' or '{union: [...]}'",
        )
    keys = list(value)
    sets = [k for k in keys if k in _SET_KEYS]
    if sets:
        if len(keys) > 1:
            extra = next(k for k in keys if k != sets[0])
            raise _unknown_key(doc, (*kp, extra), str(extra), (sets[0],))
        return _set_operation(doc, sets[0], value[sets[0]], (*kp, sets[0]), modes)
    for key in keys:
        if key not in _CRITERION_KEYS:
            raise _unknown_key(doc, (*kp, key), str(key), (*_CRITERION_KEYS, *_SET_KEYS))
    return [(_criterion_text(doc, value, kp, modes),)], []


def _set_operation(
    doc: YamlDoc, op: str, items: Any, kp: tuple[str | int, ...], modes: set[str]
) -> tuple[list[_Inter], list[_Inter]]:
    if not isinstance(items, list) or not items:
        raise SelectionError(
            f"'{op}' must be a non-empty list of definitions", location=doc.location(kp)
        )
    members: list[tuple[list[_Inter], list[_Inter]]] = []
    excluded: list[_Inter] = []
    for i, item in enumerate(items):
        sub = (*kp, i)
        if op != "exclude" and isinstance(item, dict) and list(item) == ["exclude"]:
            ex_union, ex_ex = _set_operation(
                doc, "exclude", item["exclude"], (*sub, "exclude"), modes
            )
            excluded += ex_union
            continue
        member = _definition(doc, item, sub, modes)
        if member[1] and (op == "exclude" or (op == "union" and len(items) > 1)):
            raise SelectionError(
                f"an 'exclude' nested inside '{op}' is not supported",
                location=doc.location(sub),
                hint="Put the 'exclude' at the outer level of the definition",
            )
        members.append(member)
    if op == "exclude":
        return [u for m in members for u in m[0]], []
    if op == "union":
        return [u for m in members for u in m[0]], excluded + [x for m in members for x in m[1]]
    # intersection distributes over the unions; (A - B) & (C - D) = (A & C) - (B | D)
    union: list[_Inter] = [()]
    for m_union, m_ex in members:
        union = [a + b for a in union for b in m_union]
        excluded += m_ex
    if not members:
        raise SelectionError("'intersection' needs a definition besides 'exclude'",
                             location=doc.location(kp))  # fmt: skip
    return union, excluded


def _criterion_text(doc: YamlDoc, value: dict, kp: tuple[str | int, ...], modes: set[str]) -> str:
    if "method" not in value or "value" not in value:
        raise SelectionError(
            "a selector criterion needs 'method' and 'value'", location=doc.location(kp),
            hint="Write e.g. '{method: tag, value: nightly}'",
        )  # fmt: skip
    method, text = str(value["method"]), str(value["value"])
    allowed = ("fqn", *METHODS)
    if method.split(".")[0] not in allowed:
        close = suggestion(method, allowed)
        raise SelectionError(
            f"unknown selection method '{method}' in {SELECTORS_FILE}",
            location=doc.location((*kp, "method")),
            hint=f"{close + ' ' if close else ''}Allowed methods: fqn, {ALLOWED_METHODS}",
        )
    for key in ("parents", "children", "childrens_parents"):
        if value.get(key, False) not in (True, False):
            raise SelectionError(
                f"'{key}' must be true or false", location=doc.location((*kp, key))
            )
    for key in ("parents_depth", "children_depth"):
        depth = value.get(key)
        if depth is not None and (
            not isinstance(depth, int) or isinstance(depth, bool) or depth < 0
        ):
            raise SelectionError(
                f"'{key}' must be a whole number", location=doc.location((*kp, key))
            )
    mode = value.get("indirect_selection")
    if mode is not None:
        if mode in _REFUSED_INDIRECT:
            raise SelectionError(
                f"indirect_selection '{mode}' is not supported by orch",
                location=doc.location((*kp, "indirect_selection")),
                hint="Use 'eager' (every check reading a selected asset) or 'cautious' (only "
                "checks whose every asset is selected)",
            )
        if mode not in INDIRECT_MODES:
            close = suggestion(str(mode), INDIRECT_MODES)
            raise SelectionError(
                f"unknown indirect_selection '{mode}'",
                location=doc.location((*kp, "indirect_selection")),
                hint=close or f"Allowed: {', '.join(INDIRECT_MODES)}",
            )
        modes.add(mode)
    core = text if method == "fqn" else f"{method}:{text}"
    if value.get("childrens_parents"):
        return f"@{core}"
    up = (
        f"{value.get('parents_depth') or ''}+"
        if value.get("parents") or value.get("parents_depth")
        else ""
    )
    down = (
        f"+{value.get('children_depth') or ''}"
        if value.get("children") or value.get("children_depth")
        else ""
    )
    return f"{up}{core}{down}"
