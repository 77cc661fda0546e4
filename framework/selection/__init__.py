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
Modules: ``spec`` (the spec objects and the parser), ``matching`` (criteria over a manifest),
``evaluation`` (:class:`Selection` and the functions taking selector texts), ``selectors``
(``selectors.yml``).
"""

from __future__ import annotations

from orch.selection.evaluation import (
    Selection,
    SelectionResult,
    evaluate_selection,
    names_needed_for,
    select_checks,
    select_nodes,
    unmatched_message,
)
from orch.selection.selectors import (
    INDIRECT_MODES,
    SELECTORS_FILE,
    NamedSelector,
    load_selectors,
    named_selector,
)
from orch.selection.spec import (
    METHODS,
    RESOURCE_TYPES,
    SelectionCriterion,
    SelectionIntersection,
    SelectionSpec,
    parse_selection,
)

__all__ = [
    "INDIRECT_MODES",
    "METHODS",
    "RESOURCE_TYPES",
    "SELECTORS_FILE",
    "NamedSelector",
    "Selection",
    "SelectionCriterion",
    "SelectionIntersection",
    "SelectionResult",
    "SelectionSpec",
    "evaluate_selection",
    "load_selectors",
    "named_selector",
    "names_needed_for",
    "parse_selection",
    "select_checks",
    "select_nodes",
    "unmatched_message",
]
