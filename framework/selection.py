"""dbt's node selection syntax: selector text -> frozen spec objects -> a set of assets and checks.

Grammar (as in dbt): each element of ``select`` is split on whitespace into a *union* of terms; a
term is split on ``,`` into an *intersection* of criteria; a criterion is

    [@][N+] [method[.arg...]:] value [+N]

Methods: a bare name (an exact asset or check name, or an fnmatch wildcard such as ``stg_*``),
``tag:``, ``path:``, ``group:``, ``source:``, ``resource_type:``, ``test_type:`` and
``config.<key>[.<subkey>...]:``. ``+x`` adds every ancestor, ``x+`` every descendant, ``2+x`` and
``x+2`` limit the depth, ``@x`` adds every descendant and every ancestor of those.

Sources: an empty selection means every model and seed (and every check), never a source, and a
bare wildcard matches models and seeds only. A source is selected by ``source:``,
``resource_type:source``, its exact name (``raw.orders``), another method that matches it
(``tag:``, ``path:``) or a graph operator that reaches it (``+orders``), as in dbt.

Checks follow dbt's *eager* indirect selection: each criterion also selects every check that reads
any asset it selected, before intersections and exclusions are applied. So
``orders,test_type:unique`` is the unique checks of ``orders``, and ``--exclude orders`` also drops
every check that reads ``orders``.
"""

from __future__ import annotations

import re
import weakref
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any

from orch.config import MODEL_CONFIG_KEYS, RunOptions
from orch.errors import SelectionError, suggestion
from orch.manifest import CheckNode, Manifest, Node
from orch.yamldoc import YamlDoc, load_yaml
from pydantic import BaseModel

METHODS = ("config", "group", "path", "resource_type", "source", "tag", "test_type")
RESOURCE_TYPES = ("check", "model", "seed", "source", "test", "unit_test")
_ALLOWED_METHODS = "config.<key>, group, path, resource_type, source, tag, test_type"
_WILDCARD = re.compile(r"[*?\[]")
_CRITERION = re.compile(
    r"^(?P<at>@)?"
    r"(?P<parents>(?P<parents_depth>\d*)\+)?"
    r"(?:(?P<method>[A-Za-z_][\w.]*):)?"
    r"(?P<value>.*?)"
    r"(?P<children>\+(?P<children_depth>\d*))?$"
)
# test_type values that name a kind of check rather than a check_type.
_CHECK_KINDS = {"singular": "singular", "python": "python", "unit": "unit"}
_GENERIC_KINDS = ("generic", "schema")


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
        return self.method == "name" and bool(_WILDCARD.search(self.value))


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


@dataclass(frozen=True)
class SelectionResult:
    """What a selection evaluated to; ``unmatched`` lists criteria that matched nothing."""

    assets: frozenset[str]
    checks: frozenset[str]
    unmatched: tuple[str, ...] = ()


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
                hint=f"{close + ' ' if close else ''}Allowed methods: {_ALLOWED_METHODS}",
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


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Selection:
    """``-s``/``--select`` and ``--exclude``, parsed once: the one value a run selects with.

    Build it with :meth:`from_options` (or :meth:`parse`): equal options give the same object,
    so the CLI, the workflow and the check hook of one run share one parse, and
    :meth:`evaluate` computes the assets and checks once per manifest.
    """

    select: SelectionSpec
    exclude: SelectionSpec
    indirect: str = "eager"  # "cautious": only checks whose every asset is selected
    # the last few manifests this selection was evaluated over (held weakly) and the results
    _memo: list[tuple[weakref.ref[Manifest], _Evaluation]] = field(
        default_factory=list, init=False, compare=False, hash=False, repr=False
    )

    @classmethod
    def parse(
        cls, select: Sequence[str] = (), exclude: Sequence[str] = (), indirect: str = "eager"
    ) -> Selection:
        """The selection of these ``-s`` and ``--exclude`` values.

        Raises:
            SelectionError: when a selector is malformed (see :func:`parse_selection`).
        """
        return _parsed(_texts(select), _texts(exclude), indirect)

    @classmethod
    def from_options(cls, options: RunOptions) -> Selection:
        """The selection of a command line's ``-s`` and ``--exclude`` (or ``--selector``)."""
        return _parsed(_texts(options.select), _texts(options.exclude), options.indirect_selection)

    def names_needed(self) -> set[str] | None:
        """The bare asset names a scoped load must read (the loader adds their ancestors), or None.

        A set when every criterion is an exact name with at most ancestors (``m``, ``+m``,
        ``2+m``, also in intersections); None when the selection needs the whole project: empty
        ``select``, any exclusion, descendants, ``@``, wildcards, methods or a source name. A name
        that turns out not to be a model file (a check name, a typo) should make the loader fall
        back to a full load, so that the error or the check is found.
        """
        if self.select.is_empty or not self.exclude.is_empty:
            return None
        names: set[str] = set()
        for c in self.select.criteria:
            if (
                c.method != "name"
                or c.is_wildcard
                or c.children
                or c.childrens_parents
                or "." in c.value
            ):
                return None
            names.add(c.value)
        return names

    def unmatched(self) -> tuple[str, ...]:
        """The ``-s`` criteria that matched nothing in the manifest this selection was last
        evaluated on (empty before any evaluation): what a run with no step reports."""
        for ref, done in reversed(self._memo):
            if ref() is not None:
                return done.result.unmatched
        return ()

    def evaluate(self, manifest: Manifest) -> SelectionResult:
        """The assets and checks selected in ``manifest`` (computed once per manifest).

        Raises:
            SelectionError: when a bare name (without wildcards) is neither an asset nor a check,
                or a ``config.`` key is unknown.
        """
        return self._evaluation(manifest).result

    def checks_for(self, manifest: Manifest, assets: Iterable[str]) -> set[str]:
        """The checks to run with ``assets``: those reading any of them (dbt's eager mode), plus
        those the selection picks directly (by name, ``test_type:``, ``tag:``...), minus those
        ``--exclude`` picks (excluding an asset also drops the checks that read it)."""
        ev = self._evaluation(manifest)
        reading = {check for asset in assets for check in ev.readers.get(asset, ())}
        chosen: set[str] = set(ev.selected_checks | reading)
        if self.indirect == "cautious":
            kept = set(assets)
            chosen = {
                c for c in chosen if c in ev.direct_checks or ev.check_assets.get(c, set()) <= kept
            }
        return set(chosen - ev.excluded_checks)

    def named_checks(self, manifest: Manifest) -> frozenset[str]:
        """The checks a criterion picked by itself (a check's name, ``test_type:``...), as
        opposed to those that come along because they read a selected asset."""
        return self._evaluation(manifest).direct_checks

    def _evaluation(self, manifest: Manifest) -> _Evaluation:
        for ref, done in self._memo:
            if ref() is manifest:
                return done
        done = _evaluate(manifest, self.select, self.exclude)
        if self.indirect == "cautious":  # dbt: a check comes along only when all it reads is
            kept = done.result.assets  # selected (or a criterion named it itself)
            checks = {
                c
                for c in done.result.checks
                if c in done.direct_checks or done.check_assets[c] <= kept
            }
            done = replace(done, result=replace(done.result, checks=frozenset(checks)))
        self._memo[:] = [(r, d) for r, d in self._memo if r() is not None][-3:]
        self._memo.append((weakref.ref(manifest), done))
        return done


@dataclass(frozen=True)
class _Evaluation:
    """One selection evaluated over one manifest, with what the check selection needs."""

    result: SelectionResult
    selected_checks: frozenset[str]  # before --exclude
    excluded_checks: frozenset[str]
    # asset -> the checks reading it (no reference to the manifest: the memo holds it weakly)
    readers: Mapping[str, set[str]]
    direct_checks: frozenset[str] = frozenset()  # matched by a criterion itself (name, test_type:)
    check_assets: Mapping[str, set[str]] = field(default_factory=dict)  # check -> what it reads


def unmatched_message(unmatched: Sequence[str], *, nothing_selected: bool) -> str | None:
    """The line a run prints for criteria that matched nothing, or None when all matched."""
    if not unmatched:
        return None
    names = ", ".join(f"'{c}'" for c in unmatched)
    if nothing_selected:
        return f"Nothing selected: {names} matched no asset"
    return f"Note: {names} matched no asset"


def _texts(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):  # a lone string is one selector, not its characters
        return (values,)
    return tuple(values)


@lru_cache(maxsize=256)
def _parsed(
    select: tuple[str, ...], exclude: tuple[str, ...], indirect: str = "eager"
) -> Selection:
    return Selection(parse_selection(select), parse_selection(exclude), indirect)


def _evaluate(manifest: Manifest, spec: SelectionSpec, excluded: SelectionSpec) -> _Evaluation:
    ev = _Evaluator(manifest)
    if spec.is_empty:
        assets = {n for n, node in manifest.nodes.items() if node.resource_type != "source"}
        checks = set(manifest.checks)
    else:
        assets, checks = ev.spec(spec)
    unmatched = tuple(ev.unmatched)  # of ``select`` only
    selected_checks = frozenset(checks)
    ex_checks: set[str] = set()
    if not excluded.is_empty:
        ex_assets, ex_checks = ev.spec(excluded)
        assets -= ex_assets
        checks -= ex_checks
    direct = frozenset(ev.direct)
    check_assets = {n: set(_check_assets(c)) for n, c in manifest.checks.items()}
    result = SelectionResult(frozenset(assets), frozenset(checks), unmatched)
    return _Evaluation(
        result, selected_checks, frozenset(ex_checks), ev.readers, direct, check_assets
    )


# The functions below take the selector texts; each goes through the one cached Selection.


def evaluate_selection(
    manifest: Manifest, select: Sequence[str] = (), exclude: Sequence[str] = ()
) -> SelectionResult:
    """Evaluate ``select`` minus ``exclude`` over the manifest's assets and checks.

    An empty ``select`` means every model, seed and check (no source).

    Raises:
        SelectionError: when a selector is malformed, or a bare name (without wildcards) is
            neither an asset nor a check.
    """
    return Selection.parse(select, exclude).evaluate(manifest)


def select_nodes(
    manifest: Manifest, select: Sequence[str] = (), exclude: Sequence[str] = ()
) -> set[str]:
    """The asset names ``select`` minus ``exclude`` picks (empty ``select``: every non-source).

    Args:
        manifest: the compiled project.
        select: ``-s`` values (see :func:`parse_selection`).
        exclude: ``--exclude`` values, same syntax.

    Returns:
        Asset names (models, seeds, and sources when selected explicitly or reached by ``+``).
    """
    return set(Selection.parse(select, exclude).evaluate(manifest).assets)


def select_checks(
    manifest: Manifest,
    selected_assets: Iterable[str],
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> set[str]:
    """The checks to run: those reading any of ``selected_assets`` (dbt's eager mode), plus those
    ``select`` picks directly (by name, ``test_type:``, ``tag:``...), minus those ``exclude`` picks.

    Args:
        manifest: the compiled project.
        selected_assets: usually the result of :func:`select_nodes` with the same arguments.
        select: ``-s`` values; empty means every check.
        exclude: ``--exclude`` values; excluding an asset also drops the checks that read it.

    Returns:
        Check names (keys of ``manifest.checks``).
    """
    return Selection.parse(select, exclude).checks_for(manifest, selected_assets)


def names_needed_for(select: Sequence[str], exclude: Sequence[str] = ()) -> set[str] | None:
    """:meth:`Selection.names_needed` of these selector texts."""
    return Selection.parse(select, exclude).names_needed()


class _Evaluator:
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
            for asset in _check_assets(check):
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
            read = {a for name in checks for a in _check_assets(self.checks[name])}
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


def _check_assets(check: CheckNode) -> list[str]:
    if check.depends_on:
        return list(check.depends_on)
    return [check.asset] if check.asset else []


def _any_match(values: Iterable[str], pattern: str) -> bool:
    if _WILDCARD.search(pattern):
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
    return bool(_WILDCARD.search(pattern)) and fnmatchcase(path, pattern)


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


# --------------------------------------------------------------------------- selectors.yml

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
            hint=f"{close + ' ' if close else ''}Allowed methods: fqn, {_ALLOWED_METHODS}",
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
