"""Criteria matched over one manifest: the methods, the graph operators, the checks that
come along (dbt's eager indirect selection)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from orch.config import MODEL_CONFIG_KEYS
from orch.errors import SelectionError, suggestion
from orch.manifest import CheckNode, Manifest, Node
from orch.selection.spec import (
    WILDCARD,
    SelectionCriterion,
    SelectionIntersection,
    SelectionSpec,
)
from pydantic import BaseModel

# test_type values that name a kind of check rather than a check_type.
_CHECK_KINDS = {"singular": "singular", "python": "python", "unit": "unit"}
_GENERIC_KINDS = ("generic", "schema")


class Evaluator:
    """Evaluates criteria over one manifest; computes edges and check indexes once."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.nodes: Mapping[str, Node] = manifest.nodes
        self.checks: Mapping[str, CheckNode] = manifest.checks
        self.up: dict[str, set[str]] = {n: set() for n in manifest.nodes}
        self.down: dict[str, set[str]] = {n: set() for n in manifest.nodes}
        for child, parents in manifest.parents.items():
            for parent in parents:
                self.up.setdefault(child, set()).add(parent)
                self.down.setdefault(parent, set()).add(child)
        for parent, children in manifest.children.items():
            for child in children:
                self.up.setdefault(child, set()).add(parent)
                self.down.setdefault(parent, set()).add(child)
        self.readers: dict[str, set[str]] = {}
        for name, check in manifest.checks.items():
            for asset in assets_read_by(check):
                self.readers.setdefault(asset, set()).add(name)
        self.unmatched: list[str] = []
        self.direct: set[str] = set()  # checks a criterion matched itself, not by reading

    def spec(self, spec: SelectionSpec) -> tuple[set[str], set[str]]:
        """Assets and checks of a whole spec (union of intersections)."""
        assets: set[str] = set()
        checks: set[str] = set()
        for inter in spec.union:
            a, c = self.intersection(inter)
            assets |= a
            checks |= c
        return assets, checks

    def intersection(self, inter: SelectionIntersection) -> tuple[set[str], set[str]]:
        """Assets and checks every criterion of ``inter`` selects."""
        results = [self.criterion(c) for c in inter.criteria]
        assets = set.intersection(*(r[0] for r in results))
        checks = set.intersection(*(r[1] for r in results))
        return assets, checks

    def criterion(self, c: SelectionCriterion) -> tuple[set[str], set[str]]:
        """One criterion with its graph operators, plus the checks reading what it selected."""
        assets, checks = self.match(c)
        self.direct |= checks
        if not assets and not checks:
            self.unmatched.append(c.raw)
            return set(), set()
        selected = set(assets)
        if c.parents or c.childrens_parents:
            depth = None if c.childrens_parents else c.parents_depth
            selected |= self._walk(assets, self.up, depth)
            # a check's parents are the assets it reads
            read = {a for name in checks for a in assets_read_by(self.checks[name])}
            if read and (depth is None or depth >= 1):
                selected |= read | self._walk(read, self.up, None if depth is None else depth - 1)
        if c.children or c.childrens_parents:
            depth = None if c.childrens_parents else c.children_depth
            selected |= self._walk(assets, self.down, depth)
        if c.childrens_parents:
            selected |= self._walk(selected, self.up, None)
        return selected, checks | self.checks_reading(selected)

    def checks_reading(self, assets: set[str]) -> set[str]:
        """Every check that reads any of ``assets``."""
        out: set[str] = set()
        for asset in assets:
            out |= self.readers.get(asset, set())
        return out

    def match(self, c: SelectionCriterion) -> tuple[set[str], set[str]]:
        """The assets and checks a criterion's method matches, before graph operators."""
        nodes, checks = self.nodes, self.checks
        value = c.value
        if c.method == "name":
            if c.is_wildcard:
                return (
                    {
                        n
                        for n, node in nodes.items()
                        if node.resource_type != "source" and fnmatchcase(n, value)
                    },
                    {n for n in checks if fnmatchcase(n, value)},
                )
            found = ({value} & set(nodes), {value} & set(checks))
            if not found[0] and not found[1]:
                found = (_model_versions(nodes, value), set())
            if not found[0] and not found[1]:
                raise SelectionError(
                    f"selector '{c.raw}' matches no asset or check",
                    hint=suggestion(value, [*nodes, *checks])
                    or f"Run 'orch ls' to list assets, or use a wildcard such as '{value}*'",
                )
            return found
        if c.method == "tag":
            return (
                {n for n, node in nodes.items() if _any_match(node.tags, value)},
                {n for n, chk in checks.items() if _any_match(chk.tags, value)},
            )
        if c.method == "path":
            pattern = _norm_path(value)
            return (
                {n for n, node in nodes.items() if _path_match(_node_path(node), pattern)},
                {n for n, chk in checks.items() if _path_match(chk.path, pattern)},
            )
        if c.method == "group":
            return {n for n, node in nodes.items() if node.config.group == value}, set()
        if c.method == "source":
            return {n for n, node in nodes.items() if _source_match(node, value)}, set()
        if c.method == "resource_type":
            if value in ("check", "test"):  # data checks (dbt: unit tests are unit_test)
                return set(), {n for n, chk in checks.items() if chk.kind != "unit"}
            if value == "unit_test":
                return set(), {n for n, chk in checks.items() if chk.kind == "unit"}
            return {n for n, node in nodes.items() if node.resource_type == value}, set()
        if c.method == "test_type":
            return set(), {n for n, chk in checks.items() if _test_type_match(chk, value)}
        if c.method == "config":
            self._check_config_key(c)
            return {n for n, node in nodes.items() if _config_match(node, c.args, value)}, set()
        raise AssertionError(f"unhandled method {c.method}")  # pragma: no cover

    def _check_config_key(self, c: SelectionCriterion) -> None:
        key = c.args[0]
        if key in MODEL_CONFIG_KEYS or any(key in n.config.extra for n in self.nodes.values()):
            return
        close = suggestion(key, MODEL_CONFIG_KEYS)
        raise SelectionError(
            f"unknown config key '{key}' in '{c.raw}'",
            hint=close or f"Known keys: {', '.join(sorted(MODEL_CONFIG_KEYS))}",
        )

    @staticmethod
    def _walk(starts: Iterable[str], edges: dict[str, set[str]], depth: int | None) -> set[str]:
        """Nodes reachable from any of ``starts`` within ``depth`` steps (starts excluded)."""
        start_set = set(starts)
        seen: set[str] = set()
        frontier = deque((s, 0) for s in start_set)
        while frontier:
            node, level = frontier.popleft()
            if depth is not None and level >= depth:
                continue
            for nxt in edges.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, level + 1))
        return seen - start_set


# --------------------------------------------------------------------------- matching helpers


def _model_versions(nodes: Mapping[str, Node], value: str) -> set[str]:
    """dbt model versions a bare name selects, as dbt does: ``m`` every version of ``m``,
    ``m.v2`` that version (its unique_id is ``model.<package>.m.v2``)."""
    pattern = re.compile(rf"^model\.[^.]+\.{re.escape(value)}" + ("$" if ".v" in value
                         else r"\.v[^.]+$"))  # fmt: skip
    return {n for n, node in nodes.items() if pattern.match(node.unique_id)}


def assets_read_by(check: CheckNode) -> list[str]:
    """The assets a check reads: its ``depends_on``, else its one asset."""
    if check.depends_on:
        return list(check.depends_on)
    return [check.asset] if check.asset else []


def _any_match(values: Iterable[str], pattern: str) -> bool:
    if WILDCARD.search(pattern):
        return any(fnmatchcase(v, pattern) for v in values)
    return pattern in values


def _norm_path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/") or "."


def _node_path(node: Node) -> str | None:
    return node.path if node.path is not None else node.patch_path


def _path_match(path: str | None, pattern: str) -> bool:
    """The exact file, a folder holding it (at any depth) or an fnmatch glob."""
    if path is None:
        return False
    path = _norm_path(path)
    if pattern == ".":
        return True
    if path == pattern or path.startswith(pattern + "/"):
        return True
    return bool(WILDCARD.search(pattern)) and fnmatchcase(path, pattern)


def _source_match(node: Node, value: str) -> bool:
    if node.resource_type != "source":
        return False
    source = node.source_name or node.name.split(".", 1)[0]
    if "." not in value:
        return fnmatchcase(source, value)
    table = node.source_table or node.name.split(".", 1)[-1]
    return fnmatchcase(f"{source}.{table}", value)


def _test_type_match(check: CheckNode, value: str) -> bool:
    if value == "data":  # dbt: every data test (generic and singular), not unit tests
        return check.kind != "unit"
    if value in _CHECK_KINDS:
        return check.kind == _CHECK_KINDS[value]
    if value in _GENERIC_KINDS:
        return check.kind in ("builtin", "generic")
    return check.check_type == value


def _config_match(node: Node, keys: tuple[str, ...], value: str) -> bool:
    if keys == ("materialized",):
        return node.materialized == value  # seeds are tables, sources external
    current: Any = node.config
    for i, key in enumerate(keys):
        current = _config_get(current, key, top=i == 0)
        if current is None:
            return False
    return _value_match(current, value)


def _config_get(obj: Any, key: str, *, top: bool) -> Any:
    if isinstance(obj, BaseModel):
        fields = type(obj).model_fields
        for name, info in fields.items():
            if key in (name, info.alias):
                return getattr(obj, name)
        if top:  # dbt keys orch keeps without acting on them
            return getattr(obj, "extra", {}).get(key)
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return None


def _value_match(actual: Any, value: str) -> bool:
    if isinstance(actual, (list, tuple, set, frozenset)):
        return any(_value_match(item, value) for item in actual)
    if isinstance(actual, bool):
        return str(actual).lower() == value.lower()
    return str(actual) == value
