"""Checks: compile (YAML + singular), faults, `orch test`, checks inside `orch build`,
write-audit-publish, contracts, partitioned assets, Python checks, folded scans."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from orch.adapters import get_adapter
from orch.config import RunOptions
from orch.manifest import CheckNode, Manifest, PythonInfo
from orch.run.checks import CheckEvaluator, CheckScope
from orch.run.workflow import compile_for, open_state

from tests.conftest import run_cli

# A small shop with known bad data: order 3 has no customer, order 4 a bad status, order 5 a
# customer that does not exist, order_id 2 appears twice.
FILES = {
    "seeds/raw_orders.csv": """\
        order_id,customer_id,status,amount,ordered_at
        1,10,placed,5.0,2024-01-01 10:00:00
        2,10,shipped,7.5,2024-01-01 12:00:00
        2,11,shipped,7.5,2024-01-02 09:00:00
        3,,placed,-1.0,2024-01-02 10:00:00
        4,11,lost,3.0,2024-01-03 08:00:00
        5,99,placed,2.0,2024-01-03 09:00:00
        """,
    "seeds/raw_customers.csv": """\
        customer_id,name
        10,Ann
        11,Bob
        """,
    "models/customers.sql": "select customer_id, name from raw_customers\n",
    "models/orders.sql": """\
        {{ config(materialized='table') }}
        select order_id, customer_id, status, amount, ordered_at from raw_orders
        """,
    "models/order_totals.sql": "select count(*) as n, sum(amount) as total from orders\n",
    "models/other.sql": "select 1 as x\n",
    "models/schema.yml": """\
        version: 2
        models:
          - name: orders
            data_tests:
              - row_count: {min: 1, max: 3}
              - expression: "amount >= 0"
              - unique_combination: {columns: [order_id, customer_id]}
              - freshness: {column: ordered_at, max_age: 24h}
            columns:
              - name: order_id
                tests:
                  - unique
                  - not_null
              - name: customer_id
                tests:
                  - not_null:
                      config: {severity: warn}
                  - relationships:
                      arguments: {to: ref('customers'), field: customer_id}
              - name: status
                checks:
                  - accepted_values:
                      values: [placed, shipped]
                      config: {warn_if: ">0", error_if: ">5"}
        """,
    "checks/no_big_orders.sql": """\
        -- rows returned are failures
        select * from orders where amount > 7
        """,
}


@pytest.fixture
def shop(make_project, tmp_path: Path) -> Path:
    return make_project(tmp_path / "shop", FILES)


def _manifest(root: Path) -> Manifest:
    return compile_for(RunOptions(project_dir=root)).manifest


def _rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _check_results(root: Path) -> dict[tuple[str, str | None], object]:
    state = open_state(root, readonly=True)
    try:
        return state.latest_check_results()
    finally:
        state.close()


# --------------------------------------------------------------------------- compile


def test_compile_names_sql_and_settings(shop: Path):
    manifest = _manifest(shop)
    checks = manifest.checks
    assert {
        "not_null_orders_order_id",
        "unique_orders_order_id",
        "not_null_orders_customer_id",
        "relationships_orders_customer_id__customer_id__customers",
        "accepted_values_orders_status__placed__shipped",
        "row_count_orders__1_3",
        "unique_combination_orders__order_id__customer_id",
        "freshness_orders",
        "no_big_orders",
    } <= set(checks)
    rel = checks["relationships_orders_customer_id__customer_id__customers"]
    assert rel.depends_on == ["customers", "orders"] and rel.asset == "orders"
    assert 'LEFT JOIN "analytics"."customers" AS "parent"' in rel.sql
    assert checks["not_null_orders_customer_id"].severity == "warn"
    av = checks["accepted_values_orders_status__placed__shipped"]
    assert (av.warn_if, av.error_if) == (">0", ">5")
    singular = checks["no_big_orders"]
    assert singular.kind == "singular" and singular.asset == "orders"
    assert '"analytics"."orders"' in singular.sql
    assert checks["not_null_orders_order_id"].sql.split() == [
        "SELECT", "*", "FROM", '"analytics"."orders"', "WHERE", '"order_id"', "IS", "NULL",
    ]  # fmt: skip


def test_compile_output_mentions_checks_and_writes_their_sql(shop: Path):
    run = run_cli("compile", "--project-dir", shop)
    assert run.exit_code == 0, run.output
    assert "10 checks" in run.stdout
    text = (shop / "target/compiled/checks/unique_orders_order_id.sql").read_text()
    assert "HAVING" in text and "COUNT(*) > 1" in text
    run = run_cli("compile", "--project-dir", shop, "-s", "orders")
    assert "-- check unique_orders_order_id" in run.stdout


@pytest.mark.parametrize(
    ("yml", "message"),
    [
        (
            "- name: order_idd\n        tests: [not_null]",
            "models/schema.yml:5:9: check on unknown column 'order_idd' of 'orders'. "
            "Did you mean 'order_id'? Known columns: order_id, customer_id, status, amount, "
            "ordered_at",
        ),
        (
            "- name: order_id\n        tests: [not_nul]",
            "models/schema.yml:6:17: unknown check type 'not_nul' on 'orders'. "
            "Did you mean 'not_null'?",
        ),
        (
            "- name: status\n        tests: [{accepted_values: {valuez: [a]}}]",
            "models/schema.yml:6:17: check 'accepted_values' on 'orders': unknown argument "
            "'valuez'. 'accepted_values' takes: values, quote",
        ),
        (
            "- name: status\n        tests: [{accepted_values: {quote: false}}]",
            "models/schema.yml:6:17: check 'accepted_values' on 'orders': missing argument "
            "'values'. 'accepted_values' takes: values, quote",
        ),
        (
            "- name: status\n        tests: [{not_null: {config: {severity: fatal}}}]",
            "models/schema.yml:6:17: invalid severity 'fatal'. Use severity: warn or "
            "severity: error",
        ),
    ],
    ids=["unknown-column", "unknown-type", "unknown-argument", "missing-argument", "severity"],
)
def test_compile_errors_name_file_and_line(make_project, tmp_path: Path, yml: str, message: str):
    root = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": "select 1 as order_id, 2 as customer_id, 'x' as status, "
            "1.0 as amount, now() as ordered_at\n",
            "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n      "
            + yml
            + "\n",
        },
    )
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.strip() == f"Error: {message}"
    assert not (root / "target/manifest.json").exists()


# --------------------------------------------------------------------------- orch test


def test_orch_test_reports_known_failures_and_stores_results(shop: Path):
    assert run_cli(
        "build", "--project-dir", shop, "-s", "raw_orders raw_customers orders customers"
    ).exit_code in (0, 1)
    run = run_cli("test", "--project-dir", shop, "-s", "orders")
    assert run.exit_code == 1, run.output
    results = {check: r for (check, _), r in _check_results(shop).items()}
    expected = {
        "not_null_orders_order_id": ("pass", 0),
        "unique_orders_order_id": ("fail", 1),
        "not_null_orders_customer_id": ("warn", 1),
        "relationships_orders_customer_id__customer_id__customers": ("fail", 1),
        "accepted_values_orders_status__placed__shipped": ("warn", 1),  # warn_if >0, error_if >5
        "row_count_orders__1_3": ("fail", 1),
        "expression_orders__"
        + next(
            n[len("expression_orders__") :] for n in results if n.startswith("expression_orders")
        ): ("fail", 1),
        "unique_combination_orders__order_id__customer_id": ("pass", 0),
        "freshness_orders": ("fail", 1),
        "no_big_orders": ("fail", 2),
    }
    got = {name: (results[name].status, results[name].failing_rows) for name in expected}
    assert got == expected
    sample = list(results["relationships_orders_customer_id__customer_id__customers"].sample)
    assert sample == [
        {"order_id": 5, "customer_id": 99, "status": "placed", "amount": 2.0,
         "ordered_at": "2024-01-03 09:00:00"},
    ]  # fmt: skip
    assert "FAIL" in run.stdout and "reproduce with:" in run.stdout
    assert '"customer_id" = 99' not in run.stdout  # the query, not an invented filter
    assert 'LEFT JOIN "analytics"."customers" AS "parent"' in run.stdout
    assert "FAILED" in run.stdout


def test_orch_test_selection_by_type_and_exclude(shop: Path):
    run_cli("build", "--project-dir", shop)
    run = run_cli("test", "--project-dir", shop, "-s", "test_type:not_null", "--log-format", "json")
    events = [json.loads(line) for line in run.stdout.splitlines()]
    names = {e["check"] for e in events if e["event"] == "CheckEvaluated"}
    assert names == {"not_null_orders_order_id", "not_null_orders_customer_id"}
    assert run.exit_code == 0, run.output  # the failing not_null is a warning
    run = run_cli(
        "test", "--project-dir", shop, "-s", "orders", "--exclude", "test_type:singular orders"
    )
    assert "No checks selected." in run.stdout


def test_store_failures_writes_every_failing_row(shop: Path):
    run_cli("build", "--project-dir", shop)
    run = run_cli("test", "--project-dir", shop, "-s", "no_big_orders", "--store-failures")
    assert run.exit_code == 1
    assert "analytics_audit" in run.stdout
    rows = _rows(shop, "select order_id from analytics_audit.no_big_orders order by 1")
    assert rows == [(2,), (2,)]


def test_check_query_failing_at_run_time_is_an_error_not_a_pass(make_project, tmp_path: Path):
    root = make_project(
        tmp_path / "p",
        {
            "models/t.sql": "select 1 as a\n",
            "models/t.yml": "models:\n  - name: t\n    checks:\n"
            '      - expression: "no_such_column > 0"\n      - row_count: {min: 1}\n',
        },
    )
    run_cli("build", "--project-dir", root)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 1
    results = {c: r for (c, _), r in _check_results(root).items()}
    bad = next(r for c, r in results.items() if c.startswith("expression_t"))
    assert bad.status == "error"
    assert "no_such_column" in bad.message
    assert results["row_count_t__1"].status == "pass"  # folded scan fell back check by check


# --------------------------------------------------------------------------- orch build


def test_build_runs_checks_and_skips_those_of_a_failed_model(make_project, tmp_path: Path):
    root = make_project(
        tmp_path / "p",
        {
            "models/good.sql": "select 1 as id\n",
            "models/broken.sql": "{{ config(materialized='table') }}\n"
            "select cast('x' as integer) as id\n",
            "models/schema.yml": "models:\n"
            "  - name: good\n    columns:\n      - name: id\n        checks: [not_null, unique]\n"
            "  - name: broken\n    columns:\n      - name: id\n        checks: [not_null]\n",
        },
    )
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1
    results = {c: r for (c, _), r in _check_results(root).items()}
    assert results["not_null_good_id"].status == "pass"
    assert results["unique_good_id"].status == "pass"
    skipped = results["not_null_broken_id"]
    assert skipped.status == "skipped"
    assert skipped.message == "'broken' failed to build"


def test_build_error_check_failure_exits_1_but_runs_on(make_project, tmp_path: Path):
    root = make_project(
        tmp_path / "p",
        {
            "models/a.sql": "select null as id\n",
            "models/b.sql": "select * from a\n",
            "models/schema.yml": "models:\n  - name: a\n    columns:\n      - name: id\n"
            "        checks: [not_null]\n",
        },
    )
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1
    assert "OK      b" in run.stdout  # not blocking: downstream built
    assert "Check fail: not_null_a_id on a: 1 failing rows" in run.stdout
    # the state agrees with the exit code: the run failed
    from orch.state import SQLiteStateStore

    with SQLiteStateStore.for_project(root, readonly=True) as state:
        assert [r.status for r in state.recent_runs(1)] == ["failed"]


WAP_FILES = {
    "models/src.sql": "select * from (values (1), (2)) as t(id)\n",
    "models/audited.sql": "{{ config(materialized='table') }}\nselect id from src\n",
    "models/downstream.sql": "select * from audited\n",
    "models/unrelated.sql": "select 1 as x\n",
    "models/schema.yml": """\
        models:
          - name: audited
            columns:
              - name: id
                checks:
                  - unique: {config: {blocking: true}}
        """,
}


def test_blocking_check_keeps_bad_data_out_and_skips_only_downstream(make_project, tmp_path):
    root = make_project(tmp_path / "p", WAP_FILES)
    first = run_cli("build", "--project-dir", root)
    assert first.exit_code == 0, first.output
    assert _rows(root, "select id from analytics.audited order by 1") == [(1,), (2,)]
    (root / "models/src.sql").write_text("select * from (values (1), (2), (2), (3)) as t(id)\n")
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1
    # the published table is untouched; the rejected data is quarantined and named
    assert _rows(root, "select id from analytics.audited order by 1") == [(1,), (2,)]
    assert _rows(root, "select id from analytics.__orch_quarantine_audited order by 1") == [
        (1,), (2,), (2,), (3,),
    ]  # fmt: skip
    assert "__orch_quarantine_audited" in run.stdout
    assert "downstream: blocking check 'unique_audited_id' failed" in run.stdout
    assert "OK      unrelated" in run.stdout
    results = {c: r for (c, _), r in _check_results(root).items()}
    assert results["unique_audited_id"].status == "fail"
    assert "__orch_quarantine_audited" in results["unique_audited_id"].sql
    # no staging table is left behind, and the quarantine survives the next run's cleanup
    (root / "models/src.sql").write_text("select * from (values (1), (2), (3)) as t(id)\n")
    again = run_cli("build", "--project-dir", root)
    assert again.exit_code == 0, again.output
    assert _rows(root, "select id from analytics.audited order by 1") == [(1,), (2,), (3,)]
    tables = {r[0] for r in _rows(root, "select table_name from information_schema.tables")}
    assert "__orch_quarantine_audited" in tables
    assert not any(t.startswith("__orch_stage_") for t in tables)


def test_blocking_check_on_a_view_blocks_downstream_after_the_step(make_project, tmp_path):
    files = {**WAP_FILES, "models/audited.sql": "select * from (values (1), (1)) as t(id)\n"}
    root = make_project(tmp_path / "p", files)
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1
    assert "downstream: blocking check 'unique_audited_id' failed" in run.stdout


# --------------------------------------------------------------------------- contracts


def test_contract_mismatch_fails_with_a_diff_and_keeps_the_old_table(make_project, tmp_path):
    yml = """\
        models:
          - name: c
            config: {contract: {enforced: true}}
            columns:
              - name: id
                data_type: integer
              - name: label
                data_type: varchar
        """
    root = make_project(
        tmp_path / "p",
        {"models/c.sql": "{{ config(materialized='table') }}\nselect 1 as id, 'a' as label\n",
         "models/c.yml": yml},
    )  # fmt: skip
    assert run_cli("build", "--project-dir", root).exit_code == 0
    (root / "models/c.sql").write_text(
        "{{ config(materialized='table') }}\nselect 'x' as id, 2 as extra\n"
    )
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1
    assert "'c' does not meet its contract (the old table is intact):" in run.stdout
    assert "column id: expected integer, got VARCHAR" in run.stdout
    assert "missing column label (expected varchar)" in run.stdout
    assert "extra column extra INTEGER (not declared)" in run.stdout
    assert _rows(root, "select id, label from analytics.c") == [(1, "a")]


# --------------------------------------------------------------------------- partitions


PARTITION_FILES = {
    "models/events.sql": """\
        {{ config(materialized='incremental',
                  partitioned_by={'grain': 'daily', 'start': '2024-01-01', 'column': 'day'}) }}
        select cast({{ partition.start }} as date) as day,
               case when cast({{ partition.start }} as date) = date '2024-01-02'
                    then null else 1 end as n
        """,
    "models/events.yml": """\
        models:
          - name: events
            columns:
              - name: n
                checks: [not_null]
        """,
}


def test_partition_checks_run_per_partition_and_keep_results_per_partition(make_project, tmp_path):
    root = make_project(tmp_path / "p", PARTITION_FILES)
    run = run_cli("build", "--project-dir", root, "--start", "2024-01-01", "--end", "2024-01-03")
    assert run.exit_code == 1, run.output
    results = _check_results(root)
    got = {key: (r.status, r.failing_rows) for key, r in results.items()}
    assert got == {
        ("not_null_events_n", "2024-01-01"): ("pass", 0),
        ("not_null_events_n", "2024-01-02"): ("fail", 1),
        ("not_null_events_n", "2024-01-03"): ("pass", 0),
    }
    assert (
        "CAST('2024-01-02 00:00:00' AS TIMESTAMP)"
        in results[("not_null_events_n", "2024-01-02")].sql
    )
    run = run_cli("test", "--project-dir", root, "--start", "2024-01-03", "--end", "2024-01-03")
    assert run.exit_code == 0, run.output
    assert "2024-01-03" in run.stdout and "2024-01-02" not in run.stdout


# --------------------------------------------------------------------------- Python checks, folding


def test_python_check_function_results(shop: Path):
    run_cli("build", "--project-dir", shop)
    manifest = _manifest(shop)
    check = CheckNode(
        name="few_orders", unique_id="check.shop.few_orders", kind="python",
        check_type="python", asset="orders", severity="warn",
        python=PythonInfo(module_path="models/x.py", function="few_orders"),
    )  # fmt: skip
    adapter = get_adapter(compile_for(RunOptions(project_dir=shop)).project.target, shop)
    with adapter:
        ev = CheckEvaluator(adapter, manifest, "r1")
        negative = ev.evaluate_python(
            check, CheckScope(), fn=lambda df: df.filter(df["amount"] < 0)
        )
        assert (negative.status, negative.failing_rows) == ("warn", 1)
        assert negative.sample[0]["order_id"] == 3
        ok = ev.evaluate_python(check, CheckScope(), fn=lambda df: df.height == 6)
        assert (ok.status, ok.failing_rows) == ("pass", 0)
        boom = ev.evaluate_python(check, CheckScope(), fn=lambda df: 1 / 0)
        assert boom.status == "error" and "ZeroDivisionError" in boom.message


def test_folded_scan_gives_the_same_counts_as_one_query_per_check(shop: Path):
    run_cli("build", "--project-dir", shop)
    manifest = _manifest(shop)
    names = [
        "not_null_orders_order_id", "not_null_orders_customer_id",
        "accepted_values_orders_status__placed__shipped", "no_big_orders",
    ]  # fmt: skip
    names.append(next(n for n in manifest.checks if n.startswith("expression_orders")))
    checks = [manifest.checks[n] for n in names]
    adapter = get_adapter(compile_for(RunOptions(project_dir=shop)).project.target, shop)
    with adapter:
        ev = CheckEvaluator(adapter, manifest, "r1", fold=True)
        folded = {r.check: (r.status, r.failing_rows, len(r.sample)) for r in ev.evaluate(
            checks, CheckScope())}  # fmt: skip
        single = {c.name: (lambda r: (r.status, r.failing_rows, len(r.sample)))(
            ev.evaluate_one(c, CheckScope())) for c in checks}  # fmt: skip
    assert folded == single
    assert folded["no_big_orders"] == ("fail", 2, 2)


def test_batched_counts_give_the_results_of_one_query_per_check(shop: Path):
    """DuckDB counts up to CHECK_BATCH checks in one UNION ALL statement: statuses (warn_if,
    error_if, severity), counts, samples, reproduce-SQL and messages are those of one query per
    check; a check whose query fails at run time errors alone, the others keep their results."""
    run_cli("build", "--project-dir", shop)
    manifest = _manifest(shop)
    bad = manifest.checks["no_big_orders"].model_copy(
        update={"name": "bad_cast", "sql": "select * from orders where cast(status as int) > 0"}
    )
    checks = [c for c in manifest.checks.values() if c.kind != "python"] + [bad]
    manifest.checks["bad_cast"] = bad
    adapter = get_adapter(compile_for(RunOptions(project_dir=shop)).project.target, shop)

    def seen(r) -> tuple:
        return (r.check, r.status, r.severity, r.failing_rows, r.sample, r.sql, r.message)

    with adapter:
        assert adapter.CHECK_BATCH > 1
        ev = CheckEvaluator(adapter, manifest, "r1")
        batched = [seen(r) for r in ev.evaluate(checks, CheckScope())]
        single = [seen(ev.evaluate_one(c, CheckScope())) for c in checks]
        without_bad = [seen(r) for r in ev.evaluate(checks[:-1], CheckScope())]
    assert batched == single
    assert without_bad == single[:-1]
    statuses = {r[0]: r[1] for r in batched}
    assert statuses["bad_cast"] == "error"
    assert statuses["no_big_orders"] == "fail"
    assert statuses["not_null_orders_customer_id"] == "warn"
    assert statuses["accepted_values_orders_status__placed__shipped"] == "warn"
    assert statuses["not_null_orders_order_id"] == "pass"


def test_results_history_is_json_in_the_log(shop: Path):
    run_cli("build", "--project-dir", shop)
    lines = (shop / "logs/orch.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    evaluated = [e for e in events if e["event"] == "CheckEvaluated"]
    assert {e["check"] for e in evaluated} >= {"unique_orders_order_id", "no_big_orders"}


def test_blocking_check_on_a_partition_rejects_only_that_partition(make_project, tmp_path):
    files = {
        "models/events.sql": PARTITION_FILES["models/events.sql"],
        "models/events.yml": PARTITION_FILES["models/events.yml"].replace(
            "checks: [not_null]", "checks: [{not_null: {config: {blocking: true}}}]"
        ),
        "models/daily.sql": """\
            {{ config(materialized='incremental',
                      partitioned_by={'grain': 'daily', 'start': '2024-01-01', 'column': 'day'}) }}
            select day, n from events
            """,
    }
    root = make_project(tmp_path / "p", files)
    run = run_cli("build", "--project-dir", root, "--start", "2024-01-01", "--end", "2024-01-03")
    assert run.exit_code == 1
    assert _rows(root, "select strftime(day, '%d') from analytics.events order by 1") == [
        ("01",), ("03",),
    ]  # fmt: skip
    assert _rows(root, "select strftime(day, '%d') from analytics.daily order by 1") == [
        ("01",), ("03",),
    ]  # fmt: skip
    quarantined = "analytics.__orch_quarantine_events__2024_01_02"
    assert _rows(root, f"select n from {quarantined}") == [(None,)]
    assert "daily[2024-01-02]: blocking check 'not_null_events_n' failed" in run.stdout


def test_blocking_check_on_an_increment_keeps_the_table_as_it_was(make_project, tmp_path):
    files = {
        "models/src.sql": "select * from (values (1, 'a'), (2, 'b')) as t(id, v)\n",
        "models/inc.sql": """\
            {{ config(materialized='incremental', unique_key='id') }}
            select id, v from src
            """,
        "models/inc.yml": "models:\n  - name: inc\n    columns:\n      - name: v\n"
        "        checks: [{not_null: {config: {blocking: true}}}]\n",
    }
    root = make_project(tmp_path / "p", files)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    (root / "models/src.sql").write_text("select * from (values (2, 'B'), (3, null)) as t(id, v)\n")
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1
    assert _rows(root, "select id, v from analytics.inc order by 1") == [(1, "a"), (2, "b")]
    assert _rows(root, "select id, v from analytics.__orch_quarantine_inc order by 1") == [
        (2, "B"), (3, None),
    ]  # fmt: skip
    (root / "models/src.sql").write_text("select * from (values (2, 'B'), (3, 'c')) as t(id, v)\n")
    assert run_cli("build", "--project-dir", root).exit_code == 0
    assert _rows(root, "select id, v from analytics.inc order by 1") == [
        (1, "a"), (2, "B"), (3, "c"),
    ]  # fmt: skip


def test_build_runs_a_waiting_check_once_what_it_reads_is_done_in_name_order() -> None:
    """A check reading several built assets runs right after the last of them is done, and
    the checks ready together run in name order; one reading nothing built here runs after the
    first step (the order a scan of every waiting check after each step gave)."""
    import random
    from types import SimpleNamespace

    from orch.run.checks import CheckHook

    rng = random.Random(7)
    assets = [f"a{i:02d}" for i in range(30)]
    checks = {}
    for i in range(60):
        reads = rng.sample(assets, rng.randint(1, 3)) + (["outside"] if i % 7 == 0 else [])
        if i % 13 == 0:
            reads = ["outside"]
        checks[f"c{i:02d}"] = SimpleNamespace(
            name=f"c{i:02d}", kind="data", asset=None, depends_on=reads, store_failures=False
        )
    order = [SimpleNamespace(asset=a, partition=None, step_id=a) for a in assets]
    ran: list[list[str]] = []
    evaluator = SimpleNamespace(
        manifest=SimpleNamespace(checks=checks, nodes={}),
        evaluate=lambda batch, scope: ran.append([c.name for c in batch]) or [],
    )
    hook = CheckHook(evaluator, SimpleNamespace(order=order), list(checks), lambda e: None)  # type: ignore[arg-type]
    done: set[str] = set()
    waiting = sorted(checks)
    for step in order:
        ran.clear()
        hook.after_step(step, None)  # type: ignore[arg-type]
        done.add(step.asset)
        expected = [
            n for n in waiting if all(a in done or a not in assets for a in checks[n].depends_on)
        ]
        waiting = [n for n in waiting if n not in expected]
        assert ran[-1] == expected, step.asset
    assert not hook.waiting
