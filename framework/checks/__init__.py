"""Data-quality checks: YAML check specs and ``checks/*.sql`` files -> :class:`CheckNode` objects.

Every check compiles to ONE query returning its failing rows, built as sqlglot expressions against
the asset's compiled relation, in the target dialect. The only SQL text pasted in is the user's own
``expression``/``where``, parsed through :mod:`orch.sql` first.

Built-in check types (dbt spelling accepted: ``checks:``, ``tests:`` or ``data_tests:``):

- ``not_null``, ``unique`` (column level)
- ``accepted_values: {values: [...], quote: true}``
- ``relationships: {to: ref('customers'), field: id}``
- ``expression: "amount >= 0"`` (dbt_utils ``expression_is_true``; at column level an expression
  starting with an operator applies to the column: ``expression: ">= 0"``)
- ``row_count: {min: 1, max: 1000000}``
- ``freshness: {column: updated_at, max_age: 24h}``
- ``unique_combination: {columns: [a, b]}`` (dbt_utils ``unique_combination_of_columns``)

Arguments may sit directly under the type or under ``arguments:`` (dbt 1.10); settings under
``config:`` (or directly): ``severity``, ``where``, ``warn_if``, ``error_if``, ``blocking``,
``tags``, ``name``, ``enabled``, ``description``.

The check-argument models live here rather than in ``config.py`` because each is tied to the SQL
its type compiles to; they follow the same rules (unknown keys are errors naming file:line).

This module also holds what the runner needs that is pure SQL work: retargeting a check's query to
a staged relation or to one partition (:func:`runnable_sql`), folding row-level checks into one
scan (:func:`fold_predicate`), and the status a failing-row count means (:func:`check_status`).

Modules: ``specs`` (YAML specs and argument models, singular checks), ``compiler`` (specs ->
CheckNodes with their SQL), ``runtime`` (the SQL run at execution).
"""

from __future__ import annotations

from orch.checks.compiler import CheckCompiler, compile_checks
from orch.checks.runtime import (
    check_status,
    fold_predicate,
    partition_predicate,
    partition_source,
    relation_key,
    retarget,
    runnable_sql,
    threshold_met,
)
from orch.checks.specs import SingularCheck, collect_specs, parse_singular_checks

__all__ = [
    "CheckCompiler",
    "SingularCheck",
    "check_status",
    "collect_specs",
    "compile_checks",
    "fold_predicate",
    "parse_singular_checks",
    "partition_predicate",
    "partition_source",
    "relation_key",
    "retarget",
    "runnable_sql",
    "threshold_met",
]
