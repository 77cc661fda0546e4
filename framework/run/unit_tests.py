"""Run unit tests in an in-memory DuckDB (whatever the target), in parallel, with a row diff.

Each compiled unit test (a :class:`~orch.manifest.CheckNode` of kind ``unit``, see
:mod:`orch.compiler.unit_tests`) runs in its own schema of one in-memory database:

1. every ``given`` input becomes a view over its rows (``VALUES``, each cell cast to the column's
   type; a cell that does not cast is an error naming the input, the row and the column);
2. ``this`` rows, when given, fill a table named after the model, typed like the model's output;
3. the model's SQL runs (bound to the test's partition). With ``this:`` the model's own
   materialization writes into that table — the merge, append or partition delete+insert of
   :func:`orch.run.materialize.write_new_rows` — and the table after the run is compared;
   otherwise the query's rows are. A Python asset is called by
   :func:`orch.run.python.run_python_asset` with its inputs read from the fixtures;
4. only the columns ``expect`` names are compared, order-insensitively unless ``ordered: true``;
   a difference is a row diff (missing rows, extra rows, differing cells).

A failure of the model's SQL on the fixture data is the test's ``error``, named by the test.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch import redaction
from orch.adapters import get_adapter
from orch.adapters.base import Adapter, WriteMode
from orch.config import DuckDBTargetConfig
from orch.errors import ExecutionError, Location, OrchError, WarehouseError
from orch.events import CheckEvaluated, EventSink
from orch.manifest import CheckNode, Manifest, Node, RelationInfo
from orch.names import Relation
from orch.partitions import bind_partition, definition_of
from orch.run.materialize import (
    NewRows,
    StepContext,
    partition_window,
    publish_arrow,
    write_new_rows,
)
from orch.run.python import PythonRuntime, run_python_asset

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

# sqlglot and the unit-test compiler are imported by the methods that run a unit test: a run
# that has none (a one-model run, a no-op build) does not load them.

DIALECT = "duckdb"
ACTUAL = "__orch_actual"
MAX_DIFF_LINES = 20
PROBES_PER_QUERY = 2000
_TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "CHAR")


class UnitTestDataError(ExecutionError):
    """A unit test's rows cannot be used as written (a cell that does not cast, a column the
    model does not produce)."""


@dataclass(frozen=True)
class UnitTestOutcome:
    """One test's verdict and its row diff."""

    status: str  # pass, fail, error
    failing_rows: int = 0
    message: str = ""
    output: pa.Table | None = None  # what the model returned (kept when asked)


def is_unit_test(check: CheckNode) -> bool:
    """Whether ``check`` is a unit test (rather than a data check)."""
    return check.kind == "unit"


class UnitTestRunner:
    """Runs unit tests of one manifest in one in-memory DuckDB; thread-safe. Use as a context."""

    def __init__(
        self,
        manifest: Manifest,
        project_root: Path,
        *,
        python: PythonRuntime | None = None,
        run_id: str = "",
    ) -> None:
        self.manifest = manifest
        self.project_root = Path(project_root)
        self.python = python
        self.run_id = run_id or uuid.uuid4().hex
        config = DuckDBTargetConfig(type="duckdb", path=":memory:", threads=1)
        self.adapter: Adapter = get_adapter(config, self.project_root)
        self._opened = False
        self._lock = threading.Lock()
        self._probed: set[str] = set()
        self._bad_casts: dict[str, UnitTestDataError] = {}

    def __enter__(self) -> UnitTestRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the in-memory database."""
        with self._lock:
            if self._opened:
                self.adapter.close()
                self._opened = False

    def _open(self) -> None:
        with self._lock:
            if not self._opened:
                self.adapter.open()
                self._opened = True

    # ------------------------------------------------------------------ running

    def run(
        self,
        checks: Sequence[CheckNode],
        sink: EventSink | None = None,
        *,
        threads: int = 4,
        stop: Callable[[CheckEvaluated], bool] | None = None,
    ) -> list[CheckEvaluated]:
        """Run ``checks`` in parallel; each result is emitted to ``sink`` as it is known.

        ``stop(result)`` true: tests not started yet are left out (``--fail-fast``).
        """
        results: list[CheckEvaluated] = []
        lock = threading.Lock()
        stopping = threading.Event()
        self.probe_casts([c for c in checks if c.name not in self._probed])

        def work(check: CheckNode) -> None:
            if stopping.is_set():
                return
            result = self.evaluate(check)
            with lock:
                results.append(result)
            if sink is not None:
                sink.emit(result)
            if stop is not None and stop(result):
                stopping.set()

        if len(checks) <= 1 or threads <= 1:
            for check in checks:
                work(check)
        else:
            with ThreadPoolExecutor(max(1, threads), thread_name_prefix="orch-unit") as pool:
                list(pool.map(work, checks))
        return results

    def evaluate(self, check: CheckNode) -> CheckEvaluated:
        """Run one unit test; its result as a check result (never raises for the test's own
        faults: they are its ``error``)."""
        started = time.perf_counter()
        outcome = self.outcome(check)
        message = redaction.scrub(outcome.message)
        return CheckEvaluated(
            self.run_id, check.name, check.asset, check.args.get("partition"), outcome.status,
            "error", outcome.failing_rows, time.perf_counter() - started, message=message,
        )  # fmt: skip

    def outcome(self, check: CheckNode, *, keep_output: bool = False) -> UnitTestOutcome:
        """The verdict of one unit test (with what the model returned, when ``keep_output``)."""
        args = check.args
        what = f"unit test '{check.name}' of '{check.asset}'"
        if args.get("error"):
            return UnitTestOutcome("error", message=f"{what} {args['error']}")
        self._open()
        inline = bool(args.get("inline")) and args.get("language") == "sql"
        schema = None if inline else str(args["schema"])
        try:
            bad = self._cast_error(check)
            if bad is not None:
                raise bad
            if schema is None:
                return self._run_inline(check, keep_output)
            self._create_schema(schema)
            return self._run(check, schema, keep_output)
        except UnitTestDataError as err:
            return UnitTestOutcome("error", message=f"{what}: {err.format_message()}")
        except WarehouseError as err:
            return UnitTestOutcome(
                "error",
                message=f"{what}: the model's SQL failed on the test's rows: {err.message}"
                + (f" ({args['location']})" if args.get("location") else ""),
            )
        except OrchError as err:
            return UnitTestOutcome("error", message=f"{what}: {err.format_message()}")
        finally:
            if schema is not None:
                self._drop_schema(schema)

    def _run_inline(self, check: CheckNode, keep_output: bool) -> UnitTestOutcome:
        """A query-mode SQL test: one query (its fixtures are inline), then the comparison."""
        node = self.manifest.nodes[str(check.asset)]
        sql = self._bind(node, check.args, str(check.args["sql"]))
        expect = check.args.get("expect")
        if (
            not keep_output
            and expect is not None
            and expect["format"] != "sql"
            and expect["columns"]
        ):
            fast = self._compare_rows(sql, expect)
            if fast is not None:
                return fast
        return self._verdict(check, self.adapter.fetch_arrow(sql), keep_output)

    def _compare_rows(self, sql: str, expect: dict[str, Any]) -> UnitTestOutcome | None:
        """The comparison in one query when Python can read the expected values as the model's
        own values (ints, floats, decimals, dates, times, text); None: ask DuckDB (casts)."""
        from orch.sql import parse_query
        from sqlglot import exp

        wanted = list(expect["columns"])
        projection = exp.select(*(exp.column(c, quoted=True) for c in wanted)).from_(
            exp.Subquery(this=parse_query(sql, DIALECT, "unit test"), alias=exp.to_identifier("q"))
        )
        try:
            got = self.adapter.fetch_rows(projection.sql(DIALECT))
        except WarehouseError:
            return None  # e.g. a column the model does not produce: the full path explains it
        samples = [next((r[i] for r in got if r[i] is not None), None) for i in range(len(wanted))]
        expected: list[tuple[Any, ...]] = []
        for row in expect["rows"]:
            cells = []
            for i, col in enumerate(wanted):
                given_as = _given_as(expect, col)
                value = row.get(given_as) if given_as is not None else None
                ok, converted = as_python(value, samples[i])
                if not ok:
                    return None
                cells.append(converted)
            expected.append(tuple(cells))
        count, text = diff_rows(wanted, expected, got, ordered=bool(expect.get("ordered")))
        if count == 0:
            return UnitTestOutcome("pass")
        return UnitTestOutcome("fail", failing_rows=count, message=text)

    def _verdict(self, check: CheckNode, table: pa.Table, keep_output: bool) -> UnitTestOutcome:
        output = table if keep_output else None
        if check.args.get("expect") is None:
            return UnitTestOutcome("pass", output=output)
        return replace(self._compare(check, table), output=output)

    def _run(self, check: CheckNode, schema: str, keep_output: bool = False) -> UnitTestOutcome:
        args = check.args
        node = self.manifest.nodes[str(check.asset)]
        for given in args["inputs"]:
            self._create_input(schema, given)
        this = Relation(None, schema, node.name)
        if args.get("this") is not None:
            self._create_this(node, args, this)
        if node.language == "python":
            actual = self._run_python(check, node, schema, this)
        else:
            actual = self._run_sql(check, node, schema, this)
        return self._verdict(check, self.adapter.read_arrow(actual), keep_output)

    # ------------------------------------------------------------------ fixtures

    def _create_schema(self, schema: str) -> None:
        from sqlglot import exp

        create = exp.Create(kind="SCHEMA", this=_schema_expr(schema), exists=True)
        self.adapter.execute(create.sql(DIALECT))

    def _drop_schema(self, schema: str) -> None:
        from sqlglot import exp

        drop = exp.Drop(kind="SCHEMA", this=_schema_expr(schema), exists=True, cascade=True)
        try:
            self.adapter.execute(drop.sql(DIALECT))
        except OrchError:  # the in-memory database goes away with the run anyway
            pass

    def _create_input(self, schema: str, given: dict[str, Any]) -> None:
        from sqlglot import exp

        relation = Relation(None, schema, str(given["table"]))
        select = self._fixture_select(given)
        view = exp.Create(
            kind="VIEW", this=self.adapter.table_expression(relation), expression=select
        )
        self.adapter.execute(view.sql(DIALECT))

    def _fixture_select(
        self, rows: dict[str, Any], types: dict[str, str] | None = None
    ) -> exp.Query:
        from orch.compiler.unit_tests import fixture_select

        return fixture_select(rows, types)

    def probe_casts(self, checks: Sequence[CheckNode]) -> None:
        """Find, in a few queries for all ``checks``, the given cells that do not cast."""
        self._open()
        cells: list[tuple[CheckNode, dict[str, Any], int, str, str, str]] = []
        for check in checks:
            self._probed.add(check.name)
            for given in _fixtures(check):
                if given["format"] == "sql":
                    continue
                for _col, data_type, given_as in given["table_columns"]:
                    if not data_type or given_as is None or _is_text(data_type):
                        continue
                    for i, row in enumerate(given["rows"]):
                        value = row.get(given_as)
                        if isinstance(value, str) and not surely_casts(value, data_type):
                            cells.append((check, given, i, given_as, value, data_type))
        for start in range(0, len(cells), PROBES_PER_QUERY):
            batch = cells[start : start + PROBES_PER_QUERY]
            failed = self._failed_casts([(c[4], c[5]) for c in batch])
            for bad, (check, given, i, col, value, data_type) in zip(failed, batch, strict=True):
                if bad and check.name not in self._bad_casts:
                    self._bad_casts[check.name] = UnitTestDataError(
                        f"{given['what']}, row {i + 1}: the value {value!r} of column '{col}' "
                        f"does not cast to {data_type}",
                        location=_row_location(given, i),
                        hint=f"Write a value of type {data_type} there",
                    )

    def _cast_error(self, check: CheckNode) -> UnitTestDataError | None:
        if check.name not in self._probed:
            self.probe_casts([check])
        return self._bad_casts.get(check.name)

    def _failed_casts(self, cells: Sequence[tuple[str, str]]) -> list[bool]:
        """For each (text, type): whether the text does not cast to the type."""
        from orch.compiler.unit_tests import sql_type
        from sqlglot import exp

        probes = [
            exp.Is(
                this=exp.TryCast(this=exp.Literal.string(v), to=sql_type(t)),
                expression=exp.Null(),
            )
            for v, t in cells
        ]
        return [bool(x) for x in self.adapter.fetch_rows(exp.select(*probes).sql(DIALECT))[0]]

    def _create_this(self, node: Node, args: dict[str, Any], this: Relation) -> None:
        from orch.sql import parse_query
        from sqlglot import exp

        rows = args["this"]
        full = self._bind(node, args, str(args.get("full_sql") or ""))
        typed = False
        if node.language == "sql" and full:
            try:
                query = parse_query(full, DIALECT, node.path or node.name)
                empty = exp.select("*").from_(
                    exp.Subquery(this=query, alias=exp.to_identifier("q"))
                )
                self.adapter.create_table_as(this, empty.where(exp.false()).sql(DIALECT))
                typed = True
            except WarehouseError:
                typed = False
        if not typed:
            self.adapter.create_table_as(this, self._fixture_select(rows).sql(DIALECT))
            return
        types = {c.name.lower(): c.data_type for c in self.adapter.columns(this)}
        for col in rows["columns"]:
            if col.lower() not in types:
                raise UnitTestDataError(
                    f"this names the column '{col}', which '{node.name}' does not produce "
                    f"(its columns: {', '.join(types)})",
                    location=_row_location(rows, 0),
                    hint="Give this: rows with the model's own columns",
                )
        table_columns = [[c, types[c.lower()], _given_as(rows, c)] for c in rows["columns"]]
        insert = self._fixture_select({**rows, "table_columns": table_columns})
        if rows["format"] == "sql" or rows["rows"]:
            names = ", ".join(self.adapter.quote(c[0]) for c in table_columns)
            target = self.adapter.render(this)
            if rows["format"] == "sql":
                self.adapter.execute(f"INSERT INTO {target} {insert.sql(DIALECT)}")
            else:
                self.adapter.execute(f"INSERT INTO {target} ({names}) {insert.sql(DIALECT)}")

    # ------------------------------------------------------------------ the model

    def _bind(self, node: Node, args: dict[str, Any], sql: str) -> str:
        key = args.get("partition")
        config = node.config.partitioned_by
        if key is None or config is None or not sql:
            return sql
        return bind_partition(sql, definition_of(config, asset=node.name), str(key), DIALECT)

    def _run_sql(self, check: CheckNode, node: Node, schema: str, this: Relation) -> Relation:
        args = check.args
        sql = self._bind(node, args, str(args["sql"]))
        if args["mode"] != "table":
            actual = Relation(None, schema, ACTUAL)
            self.adapter.create_table_as(actual, sql)
            return actual
        full = self._bind(node, args, str(args.get("full_sql") or sql))
        target = _retargeted(node, this, compiled=full, incremental=sql)
        ctx = self._context(target, args)
        new = NewRows(sql, sql) if node.config.partitioned_by is not None else NewRows(full, sql)
        write_new_rows(target, ctx, this, new)
        return this

    def _run_python(self, check: CheckNode, node: Node, schema: str, this: Relation) -> Relation:
        args = check.args
        nodes = dict(self.manifest.nodes)
        for given in args["inputs"]:
            upstream = nodes[given["asset"]]
            relation = Relation(None, schema, str(given["table"]))
            nodes[upstream.name] = upstream.model_copy(
                update={"relation": RelationInfo.from_relation(relation)}
            )
        target = _retargeted(node, this)
        nodes[node.name] = target
        manifest = self.manifest.model_copy(update={"nodes": nodes})
        runtime = self._runtime(args)
        ctx = self._context(target, args, manifest=manifest, runtime=runtime)
        output = run_python_asset(
            target, adapter=self.adapter, manifest=manifest, runtime=runtime,
            run_id=self.run_id, window=ctx.window,
        )  # fmt: skip
        if output.table is None:
            raise UnitTestDataError(
                f"'{node.name}' returns nothing to compare (materialized: none)",
                location=Location(str(args.get("location") or node.path or node.name)),
                hint="Unit-test assets that return a frame",
            )
        if args["mode"] == "table":
            publish_arrow(target, ctx, this, output.table)
            return this
        actual = Relation(None, schema, ACTUAL)
        self.adapter.write_arrow(output.table, actual, WriteMode.CREATE)
        return actual

    def _runtime(self, args: dict[str, Any]) -> PythonRuntime:
        base = self.python or PythonRuntime(project_root=self.project_root, target="unit_test")
        resources = dict(base.resources)
        for name, values in (args.get("resources") or {}).items():  # over the project's values
            resources[name] = {**dict(resources.get(name) or {}), **dict(values or {})}
        return PythonRuntime(
            project_root=base.project_root, target=base.target, resources=resources,
            variables={**base.variables, **(args.get("vars") or {})}, sink=None,
            resource_overrides=base.resource_overrides, project_file=base.project_file,
        )  # fmt: skip

    def _context(
        self,
        node: Node,
        args: dict[str, Any],
        *,
        manifest: Manifest | None = None,
        runtime: PythonRuntime | None = None,
    ) -> StepContext:
        return StepContext(
            adapter=self.adapter,
            manifest=manifest or self.manifest,
            project_root=str(self.project_root),
            full_refresh=not args.get("incremental"),
            run_id=self.run_id,
            window=partition_window(node, args.get("partition")),
            python=runtime,
        )

    # ------------------------------------------------------------------ comparing

    def _compare(self, check: CheckNode, actual: pa.Table) -> UnitTestOutcome:
        from orch.compiler.unit_tests import sql_type
        from orch.sql import parse_query
        from sqlglot import exp

        expect = check.args["expect"]
        types = {n.lower(): (n, duckdb_type(f.type)) for n, f in zip(
            actual.column_names, actual.schema, strict=True)}  # fmt: skip
        wanted = list(expect["columns"])
        if expect["format"] == "sql":
            probe = parse_query(expect["sql"], DIALECT, str(expect.get("location") or "expect"))
            assert isinstance(probe, exp.Query)
            wanted = [s.alias_or_name for s in probe.selects]
        for col in wanted:
            if col.lower() not in types:
                raise UnitTestDataError(
                    f"expect names the column '{col}', which the model does not produce "
                    f"(its columns: {', '.join(actual.column_names)})",
                    location=_row_location(expect, 0) if expect["format"] != "sql" else
                    Location(str(expect.get("location") or "")),
                    hint="Compare only columns the model returns",
                )  # fmt: skip
        table_columns = [[c, types[c.lower()][1], _given_as(expect, c)] for c in wanted]
        expected_query = self._fixture_select({**expect, "table_columns": table_columns})
        if expect["format"] == "sql":
            expected_query = exp.select(
                *(
                    exp.alias_(
                        exp.cast(
                            exp.column(c, "e", quoted=True),
                            sql_type(t),
                        )
                        if t
                        else exp.column(c, "e", quoted=True),
                        exp.to_identifier(c, quoted=True),
                    )
                    for c, t, _ in table_columns
                )
            ).from_(expected_query.subquery("e"))
        if wanted:
            try:
                expected = self.adapter.fetch_rows(expected_query.sql(DIALECT))
            except WarehouseError:
                self._check_expect_casts(check, table_columns)  # names the cell, when it is one
                raise
            columns = [actual.column(types[c.lower()][0]).to_pylist() for c in wanted]
            got = list(zip(*columns, strict=True))
        else:
            got = [()] * actual.num_rows
            expected = [()] * len(expect["rows"])
        count, text = diff_rows(wanted, expected, got, ordered=bool(expect.get("ordered")))
        if count == 0:
            return UnitTestOutcome("pass")
        return UnitTestOutcome("fail", failing_rows=count, message=text)

    def _check_expect_casts(self, check: CheckNode, table_columns: list[list[Any]]) -> None:
        from orch.compiler.unit_tests import sql_type
        from sqlglot import exp

        expect = check.args["expect"]
        cells = []
        for col, data_type, given_as in table_columns:
            if given_as is None or not data_type or _is_text(data_type):
                continue
            for i, row in enumerate(expect["rows"]):
                value = row.get(given_as)
                if isinstance(value, str):
                    cells.append((i, col, value, data_type))
        if not cells:
            return
        probes = [
            exp.Is(
                this=exp.TryCast(this=exp.Literal.string(v), to=sql_type(t)),
                expression=exp.Null(),
            )
            for _, _, v, t in cells
        ]
        row = self.adapter.fetch_rows(exp.select(*probes).sql(DIALECT))[0]
        for failed, (i, col, value, data_type) in zip(row, cells, strict=True):
            if failed:
                raise UnitTestDataError(
                    f"expect, row {i + 1}: the value {value!r} of column '{col}' does not cast "
                    f"to {data_type} (the model returns {col} as {data_type})",
                    location=_row_location(expect, i),
                    hint=f"Write a value of type {data_type} there",
                )


# --------------------------------------------------------------------------- the row diff


def diff_rows(
    columns: Sequence[str], expected: Sequence[tuple], actual: Sequence[tuple], *, ordered: bool
) -> tuple[int, str]:
    """How many rows differ, and the diff as text (empty when none)."""
    lines: list[tuple[str, tuple, tuple | None]] = []  # (marker, row, actual row for "~")
    if ordered:
        for i in range(max(len(expected), len(actual))):
            want = expected[i] if i < len(expected) else None
            got = actual[i] if i < len(actual) else None
            if want == got:
                continue
            if want is not None and got is not None:
                lines.append(("~", want, got))
            elif want is not None:
                lines.append(("-", want, None))
            elif got is not None:
                lines.append(("+", got, None))
    else:
        missing = list((Counter(expected) - Counter(actual)).elements())
        extra = list((Counter(actual) - Counter(expected)).elements())
        for want in missing:
            best, score = None, 0
            for j, got in enumerate(extra):
                same = sum(1 for a, b in zip(want, got, strict=True) if a == b)
                if same > score:
                    best, score = j, same
            if best is not None and score > 0 and score >= len(columns) / 2:
                lines.append(("~", want, extra.pop(best)))
            else:
                lines.append(("-", want, None))
        lines.extend(("+", got, None) for got in extra)
    if not lines:
        return 0, ""
    order = "in order" if ordered else "order does not matter"
    head = (
        f"expected {len(expected)} rows, got {len(actual)}: {len(lines)} differ "
        f"(comparing {', '.join(columns) or 'the row count'}; {order})"
    )
    table = [["", *columns]]
    for marker, row, other in lines[:MAX_DIFF_LINES]:
        cells = [
            _show(a) if other is None or a == other[k] else f"{_show(a)} -> {_show(other[k])}"
            for k, a in enumerate(row)
        ]
        table.append([marker, *cells])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    body = [
        "  " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table
    ]
    more = len(lines) - MAX_DIFF_LINES
    if more > 0:
        body.append(f"  ... and {more} more")
    legend = "  (- expected, missing; + returned, not expected; ~ differing cells: expected -> got)"
    return len(lines), "\n".join([head, *body, legend])


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _schema_expr(schema: str) -> exp.Table:
    from sqlglot import exp

    return exp.Table(this=exp.to_identifier(schema, quoted=True))


def _given_as(rows: dict[str, Any], col: str) -> str | None:
    lower = col.lower()
    return next((c for c in rows.get("columns", []) if c.lower() == lower), None)


def _row_location(rows: dict[str, Any], i: int) -> Location:
    locations = rows.get("row_locations") or []
    text = locations[i] if i < len(locations) else rows.get("location") or ""
    path, _, rest = str(text).partition(":")
    line, _, col = rest.partition(":")
    return Location(path, int(line) if line.isdigit() else 0, int(col) if col.isdigit() else 0)


def _retargeted(
    node: Node, relation: Relation, *, compiled: str | None = None, incremental: str | None = None
) -> Node:
    """``node`` writing to ``relation`` (and with the test's SQL)."""
    update: dict[str, Any] = {"relation": RelationInfo.from_relation(relation)}
    if compiled is not None:
        update["compiled_code"] = compiled
        update["compiled_code_incremental"] = incremental
    return node.model_copy(update=update)


def unit_tests_of(manifest: Manifest, names: Iterable[str]) -> list[CheckNode]:
    """The unit tests among ``names`` (check names), sorted."""
    return [
        manifest.checks[n]
        for n in sorted(names)
        if n in manifest.checks and is_unit_test(manifest.checks[n])
    ]


def _fixtures(check: CheckNode) -> list[dict[str, Any]]:
    """The given inputs of a test, and its ``this`` rows."""
    this = check.args.get("this")
    return [*check.args.get("inputs", []), *([this] if this else [])]


def _is_text(data_type: str) -> bool:
    return data_type.upper().startswith(_TEXT_TYPES)


def duckdb_type(arrow_type: pa.DataType) -> str | None:
    """The DuckDB type an Arrow column of the model's output came from (None: not cast)."""
    import pyarrow as pa  # heavy optional dependency: the comparison needs it anyway

    t = pa.types
    simple = [
        (t.is_boolean, "BOOLEAN"), (t.is_int8, "TINYINT"), (t.is_int16, "SMALLINT"),
        (t.is_int32, "INTEGER"), (t.is_int64, "BIGINT"), (t.is_uint8, "UTINYINT"),
        (t.is_uint16, "USMALLINT"), (t.is_uint32, "UINTEGER"), (t.is_uint64, "UBIGINT"),
        (t.is_float32, "FLOAT"), (t.is_float64, "DOUBLE"), (t.is_date, "DATE"),
        (t.is_time, "TIME"), (t.is_string, "VARCHAR"), (t.is_large_string, "VARCHAR"),
        (t.is_duration, "INTERVAL"),
    ]  # fmt: skip
    for test, name in simple:
        if test(arrow_type):
            return name
    if t.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    if t.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    return None


def as_python(value: Any, sample: Any) -> tuple[bool, Any]:
    """``value`` (from YAML or CSV) as the Python value DuckDB gives for ``sample``'s type, when
    that is certain: ``(True, value)``; ``(False, None)``: let DuckDB cast it."""
    if value is None:
        return True, None
    if sample is None:  # the model returned no value in this column: nothing to match
        return True, value
    kind = type(sample)
    try:
        if kind is bool:
            return (True, value) if isinstance(value, bool) else (False, None)
        if kind is int:
            if isinstance(value, bool):
                return False, None
            if isinstance(value, int):
                return True, value
            if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
                return True, int(value)
            return False, None  # 2.5 -> an integer rounds in DuckDB
        if kind is float:
            if isinstance(value, bool):
                return False, None
            return (True, float(value)) if isinstance(value, (int, float, str)) else (False, None)
        if kind is Decimal:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                return False, None
            number = Decimal(str(value).strip())
            exponent = sample.as_tuple().exponent
            if isinstance(exponent, int) and number.as_tuple().exponent < exponent:  # type: ignore[operator]
                return False, None  # more digits than the column keeps: DuckDB rounds
            return True, number
        if kind is str:
            return (True, value) if isinstance(value, str) else (False, None)
        if kind is datetime and sample.tzinfo is None and isinstance(value, str):
            return True, datetime.fromisoformat(value.strip())
        if kind is date and isinstance(value, str):
            return True, date.fromisoformat(value.strip())
    except (ValueError, ArithmeticError):
        return False, None
    return False, None


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT")


def surely_casts(text: str, data_type: str) -> bool:
    """Whether ``text`` certainly casts to ``data_type`` (False: ask DuckDB)."""
    name = data_type.upper().split("(", 1)[0].strip()
    value = text.strip()
    try:
        if name in _INTEGER_TYPES:
            return value.lstrip("+-").isdigit() and abs(int(value)) < 2**31
        if name in ("DOUBLE", "FLOAT", "REAL"):
            float(value)
            return True
        if name == "DATE":
            date.fromisoformat(value)
            return True
        if name == "TIMESTAMP":
            datetime.fromisoformat(value)
            return True
        if name == "BOOLEAN":
            return value.lower() in ("true", "false")
    except ValueError:
        return False
    return False
