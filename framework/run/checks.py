"""Run checks against the warehouse: statuses, failing-row counts, samples, events.

- :class:`CheckEvaluator` runs checks through the Adapter. Where the adapter prefers it
  (``PREFERS_FOLDED_CHECKS``: warehouses where every query is a remote scan), row-level checks of
  one relation (``SELECT * FROM t WHERE p``: not_null, accepted_values, expression, and singular
  checks of that shape) are folded into one scan, ``SELECT COUNT_IF(p1), COUNT_IF(p2), ... FROM
  t``; otherwise (DuckDB, where filtered counts run on compressed storage and are faster) and for
  other checks, each costs one ``COUNT(*)`` over its query, up to the adapter's ``CHECK_BATCH``
  of them in one ``UNION ALL`` statement. Samples (at most ``sample_limit``
  rows) are fetched only for checks that found failing rows. A query that fails at run time gives
  status ``error``, never ``pass``.
- A :class:`CheckScope` says what a check reads: the published relation, one partition of it, or a
  staged relation (write-audit-publish).
- :class:`CheckHook` wires checks into ``orch build``: it is the executor's
  :class:`~orch.run.executor.StepHook`: the materializations' ``audit`` (blocking checks run on
  the staged data before it is published), :meth:`CheckHook.after_step` (the other checks, right
  after each step) and :meth:`CheckHook.finish` (reports the checks that could not run as
  ``skipped``).
- :func:`run_tests` is ``orch test``: checks of a selection, per partition when asked, optionally
  storing every failing row in ``<schema>_audit``.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch import redaction
from orch.adapters.base import Adapter
from orch.assets import resource_parameters
from orch.errors import Location, OrchError, ResourceError
from orch.events import CheckEvaluated, EventSink, FanOut, RunFinished, RunStarted, emit_all
from orch.load.python_files import import_model_file
from orch.manifest import CheckNode, HookSql, Manifest, Node
from orch.manifest import through_ephemerals as reads_through_ephemerals
from orch.names import Relation
from orch.run.check_sql import (
    check_status,
    fold_predicate,
    partition_source,
    relation_key,
    retarget,
)
from orch.run.executor import StepHook
from orch.run.freshness import sources_read
from orch.run.hooks import HookRunner
from orch.run.materialize import quarantine_relation
from orch.run.python import PythonRuntime
from orch.run.reporting import run_results_of
from orch.run.unit_tests import UnitTestRunner, is_unit_test
from orch.selection import Selection

if TYPE_CHECKING:
    from orch.config import RunOptions
    from orch.load.project import Project
    from orch.run.executor import RunSummary
    from orch.run.plan import Plan, Step
    from sqlglot import exp

log = logging.getLogger(__name__)

SAMPLE_LIMIT = 10
FOLDABLE_BATCH = 64  # predicates per folded scan


@dataclass(frozen=True)
class CheckScope:
    """What a check reads: the published asset, one partition of it, or a staged relation."""

    partition: str | None = None
    staged: Relation | None = None  # replaces the asset's relation (write-audit-publish)
    shown: Relation | None = None  # the relation the reproduce-SQL names (the quarantine)


PythonLoader = Callable[[CheckNode], Callable[..., Any]]
LiveCheckRender = Callable[[CheckNode, Adapter], str]  # a check's SQL rendered against the target


class CheckEvaluator:
    """Evaluates checks of one manifest through one adapter; thread-safe."""

    def __init__(
        self,
        adapter: Adapter,
        manifest: Manifest,
        run_id: str,
        *,
        project_root: Path | None = None,
        sample_limit: int = SAMPLE_LIMIT,
        python_loader: PythonLoader | None = None,
        fold: bool | None = None,
        live_render: LiveCheckRender | None = None,
    ) -> None:
        self.adapter = adapter
        self.live_render = live_render  # renders a check marked rendered_at_run_time
        self.manifest = manifest
        self.run_id = run_id
        self.dialect = adapter.dialect
        self.project_root = project_root
        self.sample_limit = sample_limit
        self.python_loader = python_loader or self._import_python_check
        self.fold = adapter.PREFERS_FOLDED_CHECKS if fold is None else fold
        # resource name, class -> the run's resource, set up once (a Python check's parameters)
        self.resources: Callable[[str, type[Any]], Any] | None = None

    # ------------------------------------------------------------------ SQL

    def _replacements(self, check: CheckNode, scope: CheckScope, *, shown: bool) -> dict:
        node = self.manifest.nodes.get(check.asset or "")
        if node is None or node.relation is None:
            return {}
        target = scope.shown if shown and scope.shown is not None else scope.staged
        if target is not None:
            return {relation_key(node): self.adapter.table_expression(target)}
        if scope.partition is not None and node.config.partitioned_by is not None:
            source = partition_source(node, scope.partition, self.dialect)
            if source is not None:
                return {relation_key(node): source}
        return {}

    def query(self, check: CheckNode, scope: CheckScope, *, shown: bool = False) -> exp.Expr:
        """The check's query (parsed) for ``scope``."""
        from orch.sql import parse_query  # sqlglot: imported when checks run

        # env_var() placeholders stay string literals: the adapter binds them as parameters
        parsed = parse_query(check.sql, self.dialect, check.path or check.name)
        return retarget(parsed, self._replacements(check, scope, shown=shown))

    def sql(self, check: CheckNode, scope: CheckScope, *, shown: bool = False) -> str:
        """The check's SQL for ``scope``: what runs, or (``shown``) what reproduces it."""
        if not self._replacements(check, scope, shown=shown):
            return check.sql
        return self.query(check, scope, shown=shown).sql(dialect=self.dialect, pretty=True)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, checks: Sequence[CheckNode], scope: CheckScope) -> list[CheckEvaluated]:
        """Evaluate ``checks`` for ``scope``, folding row-level checks of one relation."""
        results: dict[str, CheckEvaluated] = {}
        groups: dict[tuple[str, ...], list[tuple[CheckNode, exp.Table, exp.Expr]]] = {}
        rest: list[CheckNode] = []
        for check in checks:
            folded = None
            if self.fold and check.kind != "python" and check.sql and not check.fail_calc:
                try:
                    folded = fold_predicate(check.sql, self.dialect)
                except OrchError:
                    folded = None
            if folded is None:
                rest.append(check)
                continue
            table, predicate = folded
            key = (check.asset or "", table.catalog.lower(), table.db.lower(), table.name.lower())
            groups.setdefault(key, []).append((check, table, predicate))
        for members in groups.values():
            if len(members) == 1:
                rest.append(members[0][0])
                continue
            for i in range(0, len(members), FOLDABLE_BATCH):
                for result in self._evaluate_folded(members[i : i + FOLDABLE_BATCH], scope):
                    results[result.check] = result
        batch = [c for c in rest if self._counted_as_is(c, scope)]
        if self.adapter.CHECK_BATCH > 1 and len(batch) > 1:
            for i in range(0, len(batch), self.adapter.CHECK_BATCH):
                for result in self._evaluate_batch(batch[i : i + self.adapter.CHECK_BATCH], scope):
                    results[result.check] = result
        for check in rest:
            if check.name not in results:
                results[check.name] = self.evaluate_one(check, scope)
        return [results[c.name] for c in checks]

    def _counted_as_is(self, check: CheckNode, scope: CheckScope) -> bool:
        """Whether the check's failing rows are a ``COUNT(*)`` over its compiled SQL as it is (no
        sqlglot round trip: one query, nothing to retarget, no ``fail_calc``, not rendered at run
        time): what :meth:`_evaluate_batch` may count with others."""
        return (
            check.kind != "python"
            and bool(check.sql)
            and not check.fail_calc
            and not check.rendered_at_run_time
            and ";" not in check.sql
            and not self._replacements(check, scope, shown=False)
        )

    def _evaluate_batch(self, checks: list[CheckNode], scope: CheckScope) -> list[CheckEvaluated]:
        """Count the failing rows of several checks in one statement (``CHECK_BATCH``): each
        check's count query as :meth:`evaluate_one` writes it, tagged with its index, joined by
        ``UNION ALL``. When the statement fails, each check runs on its own (its own error)."""
        sql = "\nUNION ALL\n".join(
            f'SELECT {i} AS "__orch_index", COUNT(*) AS "__orch_count" FROM (\n{check.sql}\n)'
            ' AS "__orch_check"'
            for i, check in enumerate(checks)
        )
        t0 = time.perf_counter()
        try:
            counts = {int(i): int(n or 0) for i, n in self.adapter.fetch_rows(sql)}
            if len(counts) != len(checks):
                raise OrchError(f"{len(counts)} counts for {len(checks)} checks")
        except Exception as err:  # noqa: BLE001 - one bad check must not hide the others
            log.debug("batched counts failed (%s); evaluating one by one", err)
            return [self.evaluate_one(c, scope) for c in checks]
        share = (time.perf_counter() - t0) / len(checks)
        return [self._result(c, scope, counts[i], share) for i, c in enumerate(checks)]

    def _evaluate_folded(
        self, members: list[tuple[CheckNode, exp.Table, exp.Expr]], scope: CheckScope
    ) -> list[CheckEvaluated]:
        from sqlglot import exp

        first_check, table, _ = members[0]
        source: exp.Expr = table.copy()
        replacements = self._replacements(first_check, scope, shown=False)
        if replacements:
            wrapper = retarget(exp.select("*").from_(table.copy()), replacements)
            source = (wrapper.args.get("from_") or wrapper.args["from"]).this
        counts = [
            exp.alias_(exp.CountIf(this=pred.copy()), f"c{i}", quoted=True)
            for i, (_, _, pred) in enumerate(members)
        ]
        query = exp.select(*counts).from_(source.copy())
        t0 = time.perf_counter()
        try:
            row = self.adapter.fetch_rows(query.sql(dialect=self.dialect))[0]
        except Exception as err:  # noqa: BLE001 - one bad check must not hide the others
            log.debug("folded scan failed (%s); evaluating one by one", err)
            return [self.evaluate_one(c, scope) for c, _, _ in members]
        share = (time.perf_counter() - t0) / len(members)
        out = []
        for (check, _, _), value in zip(members, row, strict=True):
            out.append(self._result(check, scope, int(value or 0), share))
        return out

    def evaluate_one(self, check: CheckNode, scope: CheckScope) -> CheckEvaluated:
        """Evaluate one check: a count over its query, then a sample when it found rows."""
        if check.kind == "python":
            return self.evaluate_python(check, scope)
        t0 = time.perf_counter()
        query: exp.Expr | None = None
        if check.rendered_at_run_time:
            try:
                if self.live_render is None:
                    raise OrchError(f"'{check.name}' is rendered at run time, not here")
                check = check.model_copy(update={"sql": self.live_render(check, self.adapter)})
            except Exception as err:  # noqa: BLE001 - a failing render is the check's error
                return self._error(check, scope, err, time.perf_counter() - t0)
        try:
            if ";" not in check.sql and not self._replacements(check, scope, shown=False):
                # the compiled query as it is (parsed when it was compiled): no sqlglot round
                # trip per check; the newlines keep a trailing comment inside the parentheses
                calc = check.fail_calc or "COUNT(*)"
                count_sql = f'SELECT {calc} FROM (\n{check.sql}\n) AS "__orch_check"'
            else:
                from sqlglot import exp

                query = self.query(check, scope)
                from orch.sql import parse_condition

                where = Location(check.path or check.name)
                failures = (parse_condition(check.fail_calc, self.dialect, where)
                            if check.fail_calc else exp.Count(this=exp.Star()))  # fmt: skip
                count_sql = (
                    exp.select(failures).from_(_check_subquery(query)).sql(dialect=self.dialect)
                )
            # dbt's failures: count(*) of the failing rows, or the test's fail_calc over them
            count = int(self.adapter.fetch_rows(count_sql)[0][0] or 0)
        except Exception as err:  # noqa: BLE001 - a check query failing is an 'error' result
            return self._error(check, scope, err, time.perf_counter() - t0)
        return self._result(check, scope, count, time.perf_counter() - t0, query=query)

    def _result(
        self,
        check: CheckNode,
        scope: CheckScope,
        count: int,
        duration: float,
        *,
        query: exp.Expr | None = None,
        sample: list[dict[str, Any]] | None = None,
        message: str = "",
    ) -> CheckEvaluated:
        status = check_status(check, count)
        t0 = time.perf_counter()
        if count and sample is None and check.kind != "python":
            from sqlglot import exp

            try:
                q = query if query is not None else self.query(check, scope)
                sample_sql = (
                    exp.select(exp.Star())
                    .from_(_check_subquery(q))
                    .limit(self.sample_limit)
                    .sql(dialect=self.dialect)
                )
                sample = self.adapter.fetch_arrow(sample_sql).to_pylist()
            except Exception as err:  # noqa: BLE001 - the count stands; say why no sample
                message = message or f"could not fetch a sample: {err}"
        return CheckEvaluated(
            self.run_id,
            check.name,
            check.asset,
            scope.partition,
            status,
            check.severity,
            count,
            duration + (time.perf_counter() - t0),
            # a failing row may hold an env_var() value the model selected: scrubbed at the source
            sample=redaction.scrub_data(
                [_jsonable(r) for r in (sample or [])][: self.sample_limit]
            ),
            sql=redaction.scrub(self.sql(check, scope, shown=True)) if check.sql else "",
            blocking=check.blocking,
            message=redaction.scrub(message),
        )

    def _error(
        self, check: CheckNode, scope: CheckScope, err: BaseException, duration: float
    ) -> CheckEvaluated:
        if isinstance(err, OrchError):
            text = err.format_message()
        else:
            text = f"{type(err).__name__}: {err}"
        try:
            shown = self.sql(check, scope, shown=True) if check.sql else ""
        except Exception:  # noqa: BLE001 - the SQL itself may be what failed to parse
            shown = check.sql
        return CheckEvaluated(
            self.run_id,
            check.name,
            check.asset,
            scope.partition,
            "error",
            check.severity,
            0,
            duration,
            sql=redaction.scrub(shown),
            blocking=check.blocking,
            message=redaction.scrub(f"the check query failed: {text}"),
        )

    def skipped(self, check: CheckNode, partition: str | None, why: str) -> CheckEvaluated:
        """A ``skipped`` result: the check could not run (its asset failed or was skipped)."""
        return CheckEvaluated(
            self.run_id, check.name, check.asset, partition, "skipped", check.severity, 0, 0.0,
            sql=check.sql, blocking=check.blocking, message=why,
        )  # fmt: skip

    # ------------------------------------------------------------------ Python checks

    def _import_python_check(self, check: CheckNode) -> Callable[..., Any]:
        return python_check_function(check, self.project_root)

    def evaluate_python(
        self, check: CheckNode, scope: CheckScope, fn: Callable[..., Any] | None = None
    ) -> CheckEvaluated:
        """Call a ``@check`` function with the asset's rows (a polars DataFrame) and judge it.

        The function may return a bool (pass/fail), an int (failing rows), a polars DataFrame
        (the failing rows) or a mapping ``{"passed", "failing_rows", "sample", "message",
        "metadata"}``. An exception is an ``error`` result.
        """
        t0 = time.perf_counter()
        try:
            func = fn or self.python_loader(check)
            node = self.manifest.nodes[check.asset or ""]
            assert node.relation is not None
            table = scope.staged or node.relation.to_relation()
            where = None
            if scope.staged is None and scope.partition is not None:
                source = partition_source(node, scope.partition, self.dialect)
                if source is not None:
                    where = source.this.args["where"].this.sql(dialect=self.dialect)
            import polars as pl

            data = pl.from_arrow(self.adapter.read_arrow(table, where))
            wanted = resource_parameters(func)
            if wanted and self.resources is None:
                raise ResourceError(
                    f"Python check '{check.name}' takes resources "
                    f"({', '.join(sorted(wanted))}) but none are available here",
                    hint="Run it with `orch build` or `orch test`",
                )
            args = [
                self.resources(p, wanted[p]) if p in wanted and self.resources is not None
                else None if p == "context" else data
                for p in inspect.signature(func).parameters
            ]  # fmt: skip
            value = func(*args)
            passed, count, sample, message = _interpret(value)
        except Exception as err:  # noqa: BLE001 - the user's function failed: an error result
            return self._error(check, scope, err, time.perf_counter() - t0)
        if passed and count == 0:
            status_count = 0
        else:
            status_count = max(count, 1)
        result = self._result(
            check, scope, status_count, time.perf_counter() - t0, sample=sample, message=message
        )
        return result

    # ------------------------------------------------------------------ storing failures

    def store_failures(self, check: CheckNode, scope: CheckScope) -> Relation | None:
        """Write every failing row of ``check`` to ``<schema>_audit.<check name>`` (in a dbt
        project, dbt's ``<target schema>_dbt_test__audit.<test name>``)."""
        node = self.manifest.nodes.get(check.asset or "")
        project = self.manifest.project
        if not check.sql:
            return None
        base_schema = node.relation.schema_name if node and node.relation else project.schema_name
        database = node.relation.database if node and node.relation else project.database
        schema = f"{base_schema}_audit"
        if project.flavor == "dbt":
            schema, database = f"{project.schema_name}_dbt_test__audit", project.database
        name = check.name if scope.partition is None else f"{check.name}__{_safe(scope.partition)}"
        relation = Relation(
            database,
            self.adapter.normalize_name(schema),
            self.adapter.normalize_name(name),
        )
        self.adapter.ensure_schema(relation.database, relation.schema)
        self.adapter.replace_table_atomically(
            relation, self.query(check, scope).sql(dialect=self.dialect)
        )
        return relation


def python_check_function(check: CheckNode, project_root: Path | None) -> Callable[..., Any]:
    """The function of a Python check, imported from its model file."""
    info = check.python
    if info is None or project_root is None:
        raise OrchError(f"Python check '{check.name}' has no function to call")
    loaded = import_model_file(info.module_path, project_root / info.module_path)
    spec = loaded.checks.get(check.name)
    if spec is not None:
        return spec.fn
    fn = getattr(loaded.module, info.function, None)
    if fn is None:
        raise OrchError(f"'{info.function}' is not defined in {info.module_path}")
    return fn  # type: ignore[no-any-return]


def _check_subquery(query: exp.Expr) -> exp.Subquery:
    """``(query) AS "__orch_check"``: a check's query to count or sample from."""
    from sqlglot import exp

    alias = exp.TableAlias(this=exp.to_identifier("__orch_check", quoted=True))
    return exp.Subquery(this=query.copy(), alias=alias)


def _interpret(value: Any) -> tuple[bool, int, list[dict[str, Any]] | None, str]:
    """(passed, failing rows, sample, message) from what a Python check returned."""
    if isinstance(value, bool):
        return value, 0 if value else 1, None, ""
    if isinstance(value, int):
        return value == 0, value, None, ""
    if isinstance(value, dict):
        count = int(value.get("failing_rows", 0) or 0)
        passed = bool(value.get("passed", count == 0))
        meta = value.get("metadata") or {}
        message = str(value.get("message") or "")
        if meta:
            message = (message + " " if message else "") + ", ".join(
                f"{k}={v}" for k, v in meta.items()
            )
        return passed, count, value.get("sample"), message
    height = getattr(value, "height", None)
    if height is not None and hasattr(value, "to_dicts"):
        return height == 0, int(height), value.head(SAMPLE_LIMIT).to_dicts(), ""
    if value is None:
        return True, 0, None, ""
    raise TypeError(
        f"a check returned {type(value).__name__}: return a bool, an int (failing rows), "
        "a DataFrame of failing rows or a dict"
    )


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[str(key)] = value
        else:
            out[str(key)] = str(value)
    return out


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def is_failure(result: CheckEvaluated) -> bool:
    """Whether a result makes the command exit 1: a failed check, or one that errored."""
    return result.status in ("fail", "error")


# --------------------------------------------------------------------------- orch build


def through_ephemerals(check: CheckNode, manifest: Manifest) -> CheckNode:
    """``check`` waiting also for what each ephemeral model it reads reads: its query inlines
    theirs, and an ephemeral model has no step of its own."""
    reads = reads_through_ephemerals(manifest.nodes, check.depends_on)
    if len(reads) == len(check.depends_on):
        return check
    return check.model_copy(update={"depends_on": reads})


def checks_left_standing(
    manifest: Manifest, plan: Plan, checks: Iterable[str], named: Iterable[str] = ()
) -> set[str]:
    """The checks whose last result still holds: every asset they read was skipped as up to
    date (``build --changed``), so their data did not change; checks ``named`` by the selection
    itself always run."""
    unchanged = set(plan.up_to_date) - {step.asset for step in plan.order}
    keep = set(named)
    out = set()
    for name in checks:
        check = manifest.checks.get(name)
        if check is None or name in keep:
            continue
        reads = set(check.depends_on) | ({check.asset} if check.asset else set())
        if reads and reads <= unchanged:
            out.add(name)
    return out


class CheckHook(StepHook):
    """Checks inside ``orch build``: after each step, before publishing, and at the end.

    A check runs when every asset it reads that is built in this run is done (a relationships
    check waits for both sides). A check of a partitioned asset runs on each partition just
    written. Blocking checks of a table, incremental or partitioned asset (SQL model or Python
    asset) run on the staged data (write-audit-publish, see :mod:`orch.run.materialize`); for
    views they run right after the step and stop what is downstream of it.
    """

    def __init__(
        self,
        evaluator: CheckEvaluator,
        plan: Plan,
        checks: Iterable[str],
        sink: EventSink,
        *,
        stop_on_error: bool = False,
    ) -> None:
        self.evaluator = evaluator
        # dbt's `build`: a failing error-severity test skips what is downstream of its model
        # (after the model was published, unlike a blocking check).
        self.stop_on_error = stop_on_error
        self.manifest = evaluator.manifest
        self.sink = sink
        self.plan = plan
        self.results: list[CheckEvaluated] = []
        self._lock = threading.Lock()
        self.steps_left: dict[str, int] = {}
        for step in plan.order:
            self.steps_left[step.asset] = self.steps_left.get(step.asset, 0) + 1
        self.left_standing: set[str] = set()  # not re-run: what they read is up to date
        self.own: dict[str, list[CheckNode]] = {}  # asset -> its checks that run per step
        self.waiting: dict[str, CheckNode] = {}  # checks that run once their assets are done
        # asset -> the waiting checks reading it (in ``waiting``'s order): only those can become
        # ready when it is done, so a finished asset looks at its own, not at every waiting one
        self._waiting_on: dict[str, list[str]] = {}
        self._waiting_on_none: list[str] = []  # waiting checks reading no asset built here
        self._position: dict[str, int] = {}  # waiting check -> its place in ``waiting``
        self.done: set[str] = set()  # check names (whole-asset runs)
        # (check, partition) already evaluated: on staged data, or right after its step
        self.audited: set[tuple[str, str | None]] = set()
        # unit tests: run before their model's first step, which they skip when one fails
        self.unit: dict[str, list[CheckNode]] = {}
        self.unit_verdicts: dict[str, str | None] = {}
        self.unit_locks: dict[str, threading.Lock] = {}
        self.python: PythonRuntime | None = None
        self._unit_runner: UnitTestRunner | None = None
        for name in sorted(checks):
            check = self.manifest.checks.get(name)
            if check is None:
                continue
            check = through_ephemerals(check, self.manifest)
            if is_unit_test(check):
                if check.asset in self.steps_left:
                    self.unit.setdefault(check.asset or "", []).append(check)
                    self.unit_locks.setdefault(check.asset or "", threading.Lock())
                continue
            others = [a for a in check.depends_on if a != check.asset and a in self.steps_left]
            if check.asset in self.steps_left and not others:
                self.own.setdefault(check.asset or "", []).append(check)
            else:
                self._position[name] = len(self.waiting)
                self.waiting[name] = check
                built = {a for a in check.depends_on if a in self.steps_left}
                for asset in built:
                    self._waiting_on.setdefault(asset, []).append(name)
                if not built:  # nothing it reads is built here: ready once any asset is done
                    self._waiting_on_none.append(name)
        # dbt's build: a source's tests run before the models reading it, and one failing at
        # error severity (or a blocking one) skips them; source -> such waiting checks
        self._source_checks: dict[str, list[str]] = {}
        for name, check in self.waiting.items():
            reads = [self.manifest.nodes.get(a) for a in check.depends_on]
            if not reads or any(r is None or r.resource_type != "source" for r in reads):
                continue
            if check.blocking or (stop_on_error and check.severity == "error"):
                for source in check.depends_on:
                    self._source_checks.setdefault(source, []).append(name)
        self._source_failed: dict[str, bool] = {}  # source check -> whether it stops downstream
        self._source_lock = threading.Lock()  # one verdict per check, whichever step asks first
        # assets one of whose checks can stop what is downstream of them: their children wait
        # for the checks; the others' children start while they run (may_stop_downstream)
        self._stoppers = {
            check.asset
            for check in [*(c for own in self.own.values() for c in own), *self.waiting.values()]
            if check.asset and (check.blocking or (stop_on_error and check.severity == "error"))
        }

    @classmethod
    def for_build(
        cls,
        manifest: Manifest,
        plan: Plan,
        adapter: Adapter,
        run_id: str,
        sink: EventSink,
        options: RunOptions,
        project: Project,
    ) -> CheckHook:
        """The hook of one ``orch build``: the checks of the assets the plan builds."""
        assets = {step.asset for step in plan.order}
        selection = Selection.from_options(options)
        checks = selection.checks_for(manifest, assets)
        standing: set[str] = set()
        if options.checks != "all":
            standing = checks_left_standing(
                manifest, plan, checks, selection.named_checks(manifest)
            )
        live = None
        if any(manifest.checks[c].rendered_at_run_time for c in checks):
            from orch.run.live_render import LiveRenderer  # sqlglot and Jinja: only then

            live = LiveRenderer(project, manifest, "build").render_check
        evaluator = CheckEvaluator(
            adapter, manifest, run_id, project_root=project.root, live_render=live
        )
        hook = cls(evaluator, plan, checks - standing, sink, stop_on_error=project.flavor == "dbt")
        hook.left_standing = standing
        hook.python = PythonRuntime.from_project(project, sink)
        return hook

    # ------------------------------------------------------------------ unit tests

    def before_step(self, step: Step, node: Node) -> str | None:
        """Run the checks of the sources the step reads that can stop it, then the unit tests of
        its asset (each once); the first failing one, or None."""
        failed = self._check_sources(step)
        if failed:
            return failed
        tests = self.unit.get(step.asset)
        if not tests:
            return None
        with self.unit_locks[step.asset]:  # the partitions of one asset wait for one verdict
            if step.asset not in self.unit_verdicts:
                results = self._unit_tests().run(tests, threads=1)
                for result in results:
                    self._emit(result)
                failed = next((r.check for r in results if is_failure(r)), None)
                self.unit_verdicts[step.asset] = failed
        return self.unit_verdicts[step.asset]

    def _check_sources(self, step: Step) -> str | None:
        """The stopping checks of the sources ``step`` reads, run once; the first that failed."""
        if not self._source_checks:
            return None
        sources = sorted(
            s for s in sources_read(self.manifest, step.asset) if s in self._source_checks
        )
        if not sources:
            return None
        names = list(dict.fromkeys(n for s in sources for n in self._source_checks[s]))
        with self._source_lock:
            with self._lock:
                pending = [self.waiting.pop(n) for n in names if n in self.waiting]
            if pending:
                results = self.evaluator.evaluate(pending, CheckScope())
                for result in results:
                    self._source_failed[result.check] = self._stops_downstream(result)
                self._emit_all(results)
        return next((n for n in names if self._source_failed.get(n)), None)

    def skip_reason(self, failed: str) -> str:
        """Why a step is skipped when :meth:`before_step` returned ``failed``."""
        check = self.manifest.checks.get(failed)
        kind = "unit test" if check is not None and is_unit_test(check) else "test"
        return f"{kind} '{failed}' failed"

    def _unit_tests(self) -> UnitTestRunner:
        with self._lock:
            if self._unit_runner is None:
                self._unit_runner = UnitTestRunner(
                    self.manifest,
                    self.evaluator.project_root or Path("."),
                    python=self.python,
                    run_id=self.evaluator.run_id,
                )
            return self._unit_runner

    # ------------------------------------------------------------------ audit (WAP)

    def blocking_checks(self, node: Node) -> list[CheckNode]:
        """The blocking checks (SQL or ``@check`` functions) that audit ``node``'s staged data."""
        return [c for c in self.own.get(node.name, []) if c.blocking]

    def wants_staging(self, node: Node) -> bool:
        """Whether ``node`` is written to a staging relation and audited before publishing."""
        return bool(self.blocking_checks(node))

    def audit(self, node: Node, staged: Relation, partition: str | None) -> str | None:
        """Run ``node``'s blocking checks on ``staged``; the first one failing, else None."""
        checks = self.blocking_checks(node)
        shown = quarantine_relation(node, partition)
        results = self.evaluator.evaluate(
            checks, CheckScope(partition=partition, staged=staged, shown=shown)
        )
        failed = None
        for result in results:
            if result.status in ("fail", "error") and failed is None:
                failed = result.check
            if result.status in ("fail", "error"):
                result = _with_message(
                    result,
                    f"new data not published; kept for inspection in {shown}",
                )
            self._emit(result)
        with self._lock:
            self.audited.update((c.name, partition) for c in checks)
        return failed

    # ------------------------------------------------------------------ after each step

    def after_step(self, step: Step, node: Node) -> str | None:
        """Run the step's checks; returns a failed blocking check's name (stops downstream)."""
        with self._lock:
            own = [
                c
                for c in self.own.get(step.asset, [])
                if (c.name, step.partition) not in self.audited
            ]
            self.steps_left[step.asset] -= 1
            ready = []
            if self.steps_left[step.asset] == 0:
                ready = self._now_ready(step.asset)
        failed = None
        scope = CheckScope(partition=step.partition)
        with self._lock:  # evaluated for this step: never reported as skipped by finish()
            self.audited.update((c.name, step.partition) for c in own)
        results = self.evaluator.evaluate(own, scope)
        for result in results:
            if self._stops_downstream(result) and failed is None:
                failed = result.check
        later = self.evaluator.evaluate(ready, CheckScope())
        for result in later:
            if self._stops_downstream(result) and result.asset == step.asset and failed is None:
                failed = result.check
        self._emit_all([*results, *later])
        return failed

    def may_stop_downstream(self, step: Step, node: Node) -> bool:
        """Whether a check :meth:`after_step` may run for ``step`` can stop what is downstream:
        a blocking one of its asset, or (dbt's build) one of error severity."""
        return step.asset in self._stoppers

    def _stops_downstream(self, result: CheckEvaluated) -> bool:
        if result.status not in ("fail", "error"):
            return False
        return result.blocking or (self.stop_on_error and result.severity == "error")

    def _now_ready(self, asset: str) -> list[CheckNode]:
        """The waiting checks ready once ``asset`` is done, in ``waiting``'s order; no longer
        waiting (called under the lock)."""
        names = [*self._waiting_on.pop(asset, ()), *self._waiting_on_none]
        self._waiting_on_none = []
        if not names:
            return []
        ready = []
        for name in sorted({n for n in names if n in self.waiting}, key=self._position.__getitem__):
            check = self.waiting[name]
            if self._deps_done(check):
                ready.append(check)
                del self.waiting[name]
        return ready

    def _deps_done(self, check: CheckNode) -> bool:
        return all(self.steps_left.get(a, 0) == 0 for a in check.depends_on)

    def finish(self, summary: RunSummary) -> None:
        """Report checks that could not run as skipped; run those that never got their turn."""
        if self._unit_runner is not None:
            self._unit_runner.close()
        for asset, tests in sorted(self.unit.items()):
            if asset not in self.unit_verdicts:  # its steps never started
                for check in tests:
                    why = f"'{asset}' did not run (an upstream failed or was skipped)"
                    self._emit(self.evaluator.skipped(check, None, why))
        not_ok: dict[str, tuple[str, str]] = {}  # asset -> (status, step id)
        for step in self.plan.order:
            outcome = summary.outcomes.get(step.step_id)
            if outcome is not None and outcome.status != "success":
                not_ok.setdefault(step.asset, (outcome.status, step.step_id))
        runnable = []
        for step in self.plan.order:
            outcome = summary.outcomes.get(step.step_id)
            if outcome is None or outcome.status == "success":
                continue
            why = _skip_reason(outcome.status, step.step_id, outcome.cause)
            for check in self.own.get(step.asset, []):
                if (check.name, step.partition) in self.audited:
                    continue
                self._emit(self.evaluator.skipped(check, step.partition, why))
        for check in list(self.waiting.values()):
            bad = [a for a in check.depends_on if a in not_ok]
            if bad:
                status, sid = not_ok[bad[0]]
                self._emit(self.evaluator.skipped(check, None, _skip_reason(status, sid, None)))
            else:
                runnable.append(check)
        self.waiting.clear()
        for result in self.evaluator.evaluate(runnable, CheckScope()):
            self._emit(result)
        summary.failed_checks = sorted({r.check for r in self.failures})

    def _emit(self, result: CheckEvaluated) -> None:
        self._emit_all([result])

    def _emit_all(self, results: Sequence[CheckEvaluated]) -> None:
        """Store failing rows where asked, keep the results and emit them (the state records a
        batch in one transaction)."""
        out = []
        for result in results:
            check = self.manifest.checks.get(result.check)
            if check is not None and check.store_failures and result.status not in ("skipped",):
                result = store_failing_rows(self.evaluator, check, result)
            out.append(result)
        with self._lock:
            self.results.extend(out)
        emit_all(self.sink, out)

    @property
    def failures(self) -> list[CheckEvaluated]:
        """Results that make the command fail (status fail or error)."""
        return [r for r in self.results if is_failure(r)]


def _skip_reason(status: str, step_id: str, cause: str | None) -> str:
    if status == "failed":
        return f"'{step_id}' failed to build"
    if status == "blocked":
        return f"'{step_id}' was not published: blocking check '{cause}' failed"
    return f"'{step_id}' was skipped" + (f" ({cause})" if cause else "")


def store_failing_rows(
    evaluator: CheckEvaluator, check: CheckNode, result: CheckEvaluated
) -> CheckEvaluated:
    """Keep a failing check's rows in its audit table (``store_failures``); the result says where.

    As in dbt, a passing test replaces the table with an empty one, so it never shows stale
    failures; an erroring test stores nothing.
    """
    if result.status in ("error", "skipped") or check.kind == "python":
        return result
    try:
        stored = evaluator.store_failures(check, CheckScope(partition=result.partition))
    except Exception as err:  # noqa: BLE001 - keep the result, say what failed
        return _with_message(result, f"could not store failures: {err}")
    if stored is None:
        return result
    out = replace(result, stored=str(stored))
    return _with_message(out, f"all failing rows in {stored}") if result.failing_rows else out


def _with_message(result: CheckEvaluated, message: str) -> CheckEvaluated:
    text = f"{result.message}; {message}" if result.message else message
    return replace(result, message=text)


# --------------------------------------------------------------------------- orch test


@dataclass
class TestRun:
    """What ``orch test`` did."""

    run_id: str
    results: list[CheckEvaluated] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)  # check -> audit table
    duration_s: float = 0.0
    not_run: int = 0  # checks --fail-fast left out after the first failure
    failed_hooks: list[str] = field(default_factory=list)  # on-run-start/-end hooks that failed

    @property
    def exit_code(self) -> int:
        """1 when a check failed at error severity or errored, or a run hook failed, else 0."""
        return 1 if self.failed_hooks or any(is_failure(r) for r in self.results) else 0


def run_tests(
    manifest: Manifest,
    adapter: Adapter,
    checks: Sequence[str],
    sink: EventSink,
    *,
    project_root: Path,
    target: str,
    partitions_of: Callable[[Node], list[str | None]] | None = None,
    threads: int = 4,
    store_failures: bool = False,
    selection: str = "",
    run_id: str | None = None,
    fail_fast: bool = False,
    python: PythonRuntime | None = None,
    run_hooks: bool = False,
    live_render: LiveCheckRender | None = None,
    hook_render: Callable[[HookSql, Node | None, list[dict[str, Any]]], str] | None = None,
) -> TestRun:
    """Evaluate ``checks`` (grouped per asset and partition, in parallel) and emit the results.

    ``run_hooks``: the project's on-run-start hooks run first and its on-run-end hooks last, as
    ``dbt test`` runs them (a failing on-run-start skips every check; a failing hook fails the
    run); ``hook_render`` renders those that query the warehouse (orch.run.hooks).

    ``partitions_of(node)`` gives the partition keys to check for a partitioned asset (None: the
    whole asset at once). ``fail_fast``: after the first failure (a failing error-severity check
    or an erroring query) no further group of checks is started; ``TestRun.not_run`` counts the
    checks left out. Unit tests among ``checks`` run first, in an in-memory DuckDB
    (:mod:`orch.run.unit_tests`; ``python`` gives Python assets their resources and vars).
    """
    run_id = run_id or uuid.uuid4().hex
    fan = sink if isinstance(sink, FanOut) else FanOut([sink])
    evaluator = CheckEvaluator(
        adapter, manifest, run_id, project_root=project_root, live_render=live_render
    )
    if python is not None:  # Python checks get the run's resources
        evaluator.resources = python.resource
    groups: dict[tuple[str, str | None], list[CheckNode]] = {}
    unit = [manifest.checks[n] for n in sorted(checks) if is_unit_test(manifest.checks[n])]
    for name in sorted(checks):
        check = manifest.checks[name]
        if is_unit_test(check):
            continue
        node = manifest.nodes.get(check.asset or "")
        keys: list[str | None] = [None]
        if node is not None and partitions_of is not None and node.config.partitioned_by:
            keys = partitions_of(node) or [None]
        for key in keys:
            groups.setdefault((check.asset or "", key), []).append(check)
    started = time.perf_counter()
    fan.emit(
        RunStarted(run_id, "test", target, selection, len(checks), pid=os.getpid(),
                   args={"select": selection})
    )  # fmt: skip
    run = TestRun(run_id)
    hooks = None
    if run_hooks:
        hooks = HookRunner(adapter, run_id, fan, render=hook_render, results=run_results_of(fan))
    if hooks is not None and not hooks.run_start(manifest):
        run.not_run = len(checks)
        hooks.run_end(manifest)
        return _finish(run, hooks, started, fan)
    lock = threading.Lock()
    stop = threading.Event()
    if unit:
        with UnitTestRunner(manifest, project_root, python=python, run_id=run_id) as runner:
            done = runner.run(
                unit, fan, threads=threads, stop=lambda r: fail_fast and is_failure(r)
            )
        run.results.extend(done)
        run.not_run += len(unit) - len(done)
        if fail_fast and any(is_failure(r) for r in done):
            stop.set()

    def work(item: tuple[str | None, list[CheckNode]]) -> None:
        key, members = item
        if stop.is_set():
            with lock:
                run.not_run += len(members)
            return
        scope = CheckScope(partition=key)
        results = []
        for result in evaluator.evaluate(members, scope):
            if fail_fast and is_failure(result):
                stop.set()
            check = manifest.checks[result.check]
            if check.store_failures or (store_failures and result.failing_rows):
                result = store_failing_rows(evaluator, check, result)
            results.append(result)
        with lock:
            run.results.extend(results)
            run.stored.update((r.check, r.stored) for r in results if r.stored)
        fan.emit_many(results)  # the state records them in one transaction before they show

    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    # without --fail-fast, neighbouring groups of one scope are evaluated together: the
    # adapter may count several checks in one statement (CHECK_BATCH)
    batch = 1 if fail_fast else adapter.CHECK_BATCH
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="orch-check") as pool:
        list(pool.map(work, _work_items(ordered, batch)))
    if hooks is not None:
        hooks.run_end(manifest)
    return _finish(run, hooks, started, fan)


def _work_items(
    groups: Sequence[tuple[tuple[str, str | None], list[CheckNode]]], batch: int
) -> list[tuple[str | None, list[CheckNode]]]:
    """The groups of checks as work items of one scope (partition key), in order: neighbouring
    groups of the same scope merged while they hold fewer than ``batch`` checks."""
    items: list[tuple[str | None, list[CheckNode]]] = []
    for (_, key), members in groups:
        if items and items[-1][0] == key and len(items[-1][1]) + len(members) <= batch:
            items[-1][1].extend(members)
        else:
            items.append((key, list(members)))
    return items


def _finish(run: TestRun, hooks: HookRunner | None, started: float, fan: FanOut) -> TestRun:
    if hooks is not None:
        run.failed_hooks = [f"{o.phase} {o.index + 1}" for o in hooks.failed]
    run.duration_s = time.perf_counter() - started
    status = "failed" if run.exit_code else "success"
    counts: dict[str, int] = {}
    for r in run.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    fan.emit(RunFinished(run.run_id, status, run.duration_s, counts))
    return run
