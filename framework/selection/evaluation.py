"""A selection evaluated over a manifest: :class:`Selection` (parsed once, evaluated once per
manifest) and the functions that take selector texts."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from orch.config import RunOptions
from orch.manifest import Manifest
from orch.selection.matching import Evaluator, assets_read_by
from orch.selection.spec import (
    SelectionSpec,
    parse_selection,
)


@dataclass(frozen=True)
class SelectionResult:
    """What a selection evaluated to; ``unmatched`` lists criteria that matched nothing."""

    assets: frozenset[str]
    checks: frozenset[str]
    unmatched: tuple[str, ...] = ()


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
    ev = Evaluator(manifest)
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
    check_assets = {n: set(assets_read_by(c)) for n, c in manifest.checks.items()}
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
