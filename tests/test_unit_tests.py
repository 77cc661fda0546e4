"""Unit tests of models (``unit_tests:`` in YAML): real projects, the real CLI, in-memory DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import MakeProject, run_cli

STG = "select 1 as order_id, 10 as amount, 'paid' as status, date '2024-01-01' as ordered_at\n"
ORDERS = """\
select order_id, amount * 2 as double_amount, upper(status) as status
from stg_orders
where status <> 'cancelled'
"""


def project(
    make_project: MakeProject, tmp_path: Path, tests: str, files: dict[str, str] | None = None
) -> Path:
    """A small shop project with ``tests`` as models/unit_tests.yml, and ``files``."""
    return make_project(
        tmp_path,
        {
            "models/stg_orders.sql": STG,
            "models/orders.sql": ORDERS,
            "models/unit_tests.yml": tests,
            **(files or {}),
        },
    )


PASSING = """\
unit_tests:
  - name: orders_doubles_amounts
    model: orders
    description: Cancelled orders are left out, amounts doubled.
    given:
      - input: ref('stg_orders')
        rows:
          - {order_id: 1, amount: 10, status: paid}
          - {order_id: 2, amount: 5, status: cancelled}
          - {order_id: 3, amount: 1, status: open}
    expect:
      rows:
        - {order_id: 3, double_amount: 2, status: OPEN}
        - {order_id: 1, double_amount: 20, status: PAID}
"""

FAILING = """\
unit_tests:
  - name: orders_wrong
    model: orders
    given:
      - input: stg_orders
        rows:
          - {order_id: 1, amount: 10, status: paid}
          - {order_id: 2, amount: 3, status: open}
          - {order_id: 4, amount: 1, status: open}
    expect:
      rows:
        - {order_id: 1, double_amount: 21}
        - {order_id: 2, double_amount: 6}
        - {order_id: 3, double_amount: 9}
"""


def test_passing_unit_test(make_project: MakeProject, tmp_path: Path) -> None:
    root = project(make_project, tmp_path, PASSING)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert "PASS    orders_doubles_amounts  orders" in run.stdout
    assert "PASSED 1 check results" in run.stdout
    # nothing was built in the warehouse: unit tests never touch it
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    assert con.execute("select count(*) from information_schema.tables").fetchone() == (0,)


def test_failing_unit_test_prints_a_row_diff(make_project: MakeProject, tmp_path: Path) -> None:
    root = project(make_project, tmp_path, FAILING)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 1, run.output
    text = run.stdout
    assert "FAIL orders_wrong on orders: 3 failing rows" in text
    assert (
        "expected 3 rows, got 3: 3 differ (comparing order_id, double_amount; order does not "
        "matter)" in text
    )
    lines = [line.rstrip() for line in text.splitlines()]
    assert "    | order_id | double_amount" in lines
    assert "  ~ | 1        | 21 -> 20" in lines  # a differing cell: expected -> got
    assert "  - | 3        | 9" in lines  # expected, missing
    assert "  + | 4        | 2" in lines  # returned, not expected
    assert "  ~ | 2        | 6" not in lines  # an equal row is not shown


def test_ordered_expect(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: ordered
        model: sorted_orders
        given:
          - input: stg_orders
            rows: [{order_id: 2}, {order_id: 1}]
        expect:
          ordered: true
          rows: [{order_id: 2}, {order_id: 1}]
    """
    root = project(
        make_project, tmp_path, tests,
        {"models/sorted_orders.sql": "select order_id from stg_orders order by order_id\n"},
    )  # fmt: skip
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 1
    assert "(comparing order_id; in order)" in run.stdout
    assert "  ~ | 2 -> 1" in run.stdout


def test_csv_fixture_and_sql_formats(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: csv_inline
        model: orders
        given:
          - input: ref('stg_orders')
            format: csv
            rows: |
              order_id,amount,status
              1, 10, paid
              2,,open
        expect:
          format: csv
          rows: |
            order_id,double_amount,status
            1,20,PAID
            2,,OPEN
      - name: csv_fixture_file
        model: orders
        given:
          - input: ref('stg_orders')
            format: csv
            fixture: stg_orders_two
        expect:
          format: sql
          rows: |
            select 1 as order_id, 20 as double_amount union all select 2, 6
      - name: sql_fixture_file
        model: orders
        given:
          - input: ref('stg_orders')
            format: sql
            fixture: stg_orders_sql
        expect:
          rows:
            - {order_id: 7, double_amount: 14, status: OPEN}
    """
    root = project(
        make_project, tmp_path, tests,
        {
            "tests/fixtures/stg_orders_two.csv": "order_id,amount,status\n1,10,paid\n2,3,open\n",
            "tests/fixtures/stg_orders_sql.sql": "select 7 as order_id, 7 as amount, "
            "'open' as status, date '2024-01-01' as ordered_at",
        },
    )  # fmt: skip
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output
    for name in ("csv_inline", "csv_fixture_file", "sql_fixture_file"):
        assert f"PASS    {name}" in run.stdout


INCREMENTAL = """\
{{ config(materialized='incremental', unique_key='order_id') }}
select order_id, amount, status from stg_orders
{% if is_incremental() %}
where order_id > (select max(order_id) from {{ this }})
{% endif %}
"""


def test_incremental_with_prior_state(make_project: MakeProject, tmp_path: Path) -> None:
    """``this:`` is the table before the run; ``expect`` is the table after the merge."""
    tests = """\
    unit_tests:
      - name: merges_new_orders
        model: inc_orders
        this:
          rows:
            - {order_id: 1, amount: 1, status: old}
            - {order_id: 2, amount: 2, status: old}
        given:
          - input: ref('stg_orders')
            rows:
              - {order_id: 2, amount: 20, status: new}
              - {order_id: 3, amount: 30, status: new}
        expect:
          rows:
            - {order_id: 1, amount: 1, status: old}
            - {order_id: 2, amount: 2, status: old}
            - {order_id: 3, amount: 30, status: new}
      - name: full_refresh_mode
        model: inc_orders
        overrides:
          macros:
            is_incremental: false
        this:
          rows: [{order_id: 9, amount: 9, status: old}]
        given:
          - input: ref('stg_orders')
            rows: [{order_id: 2, amount: 20, status: new}]
        expect:
          rows: [{order_id: 2, amount: 20, status: new}]
      - name: dbt_style_this_input
        model: inc_orders
        overrides:
          macros:
            is_incremental: true
        given:
          - input: ref('stg_orders')
            rows: [{order_id: 2, amount: 20}, {order_id: 3, amount: 30}]
          - input: this
            rows: [{order_id: 2}]
        expect:  # dbt's meaning: the rows the model returns (what would be merged)
          rows: [{order_id: 3, amount: 30}]
    """
    root = project(make_project, tmp_path, tests, {"models/inc_orders.sql": INCREMENTAL})
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output
    for name in ("merges_new_orders", "full_refresh_mode", "dbt_style_this_input"):
        assert f"PASS    {name}" in run.stdout


def test_incremental_append_and_delete_insert(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: appends
        model: appended
        this:
          rows: [{order_id: 1, amount: 1}]
        given:
          - input: stg_orders
            rows: [{order_id: 1, amount: 5}]
        expect:
          rows: [{order_id: 1, amount: 1}, {order_id: 1, amount: 5}]
      - name: deletes_then_inserts
        model: replaced
        this:
          rows: [{order_id: 1, amount: 1}, {order_id: 2, amount: 2}]
        given:
          - input: stg_orders
            rows: [{order_id: 1, amount: 5}]
        expect:
          rows: [{order_id: 1, amount: 5}, {order_id: 2, amount: 2}]
    """
    root = project(make_project, tmp_path, tests)
    (root / "models/appended.sql").write_text(
        "{{ config(materialized='incremental') }}\nselect order_id, amount from stg_orders\n"
    )
    (root / "models/replaced.sql").write_text(
        "{{ config(materialized='incremental', unique_key='order_id', "
        "incremental_strategy='delete+insert') }}\nselect order_id, amount from stg_orders\n"
    )
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output


PARTITIONED = """\
{{ config(materialized='incremental',
          partitioned_by={'grain': 'daily', 'start': '2024-01-01', 'column': 'ordered_at'}) }}
select order_id, ordered_at, {{ partition.key }} as day from stg_orders
where ordered_at >= {{ partition.start }} and ordered_at < {{ partition.end }}
"""


def test_partitioned_model(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: one_day
        model: daily_orders
        partition: "2024-01-02"
        given:
          - input: stg_orders
            rows:
              - {order_id: 1, ordered_at: 2024-01-01}
              - {order_id: 2, ordered_at: 2024-01-02}
              - {order_id: 3, ordered_at: 2024-01-03}
        expect:
          rows: [{order_id: 2, day: "2024-01-02"}]
      - name: one_day_replaces_its_partition
        model: daily_orders
        partition: "2024-01-02"
        this:
          rows:
            - {order_id: 8, ordered_at: "2024-01-01 00:00:00", day: "2024-01-01"}
            - {order_id: 9, ordered_at: "2024-01-02 00:00:00", day: "2024-01-02"}
        given:
          - input: stg_orders
            rows: [{order_id: 2, ordered_at: 2024-01-02}]
        expect:
          rows: [{order_id: 8}, {order_id: 2}]
    """
    root = project(make_project, tmp_path, tests)
    (root / "models/daily_orders.sql").write_text(PARTITIONED)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert "PASS    one_day  " in run.stdout and "2024-01-02" in run.stdout


def test_partitioned_model_needs_a_partition(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: no_day
        model: daily_orders
        given:
          - input: stg_orders
            rows: [{order_id: 1}]
        expect:
          rows: []
    """
    root = project(make_project, tmp_path, tests)
    (root / "models/daily_orders.sql").write_text(PARTITIONED)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.startswith(
        "Error: models/unit_tests.yml:2:5: unit test 'no_day': 'daily_orders' is partitioned: "
        "the test needs the partition it builds. Add partition: <key>"
    ), run.stderr


def test_overrides_vars_macros_env_vars(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: overridden
        model: labelled
        overrides:
          vars: {label: from_test}
          macros: {shop_name: "'test shop'"}
          env_vars: {REGION: eu}
        given:
          - input: stg_orders
            rows: [{order_id: 1}]
        expect:
          rows: [{order_id: 1, label: from_test, shop: test shop, region: eu}]
      - name: default_vars
        model: labelled
        given:
          - input: stg_orders
            rows: [{order_id: 1}]
        expect:
          rows: [{order_id: 1, label: default, shop: real shop}]
    """
    root = project(make_project, tmp_path, tests)
    (root / "macros").mkdir()
    (root / "macros/shop.sql").write_text("{% macro shop_name() %}'real shop'{% endmacro %}\n")
    (root / "models/labelled.sql").write_text(
        'select order_id, \'{{ var("label", "default") }}\' as label, {{ shop_name() }} as shop,'
        ' \'{{ env_var("REGION", "us") }}\' as region from stg_orders\n'
    )
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output


PYTHON_ASSET = """\
import polars as pl
from orch import Config, asset


class BigConfig(Config):
    threshold: int = 100


@asset
def big_orders(stg_orders: pl.DataFrame, config: BigConfig) -> pl.DataFrame:
    return stg_orders.filter(pl.col("amount") >= config.threshold).select("order_id", "amount")
"""


def test_python_asset(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: big_default
        model: big_orders
        given:
          - input: stg_orders
            rows: [{order_id: 1, amount: 150}, {order_id: 2, amount: 50}]
        expect:
          rows: [{order_id: 1, amount: 150}]
      - name: big_with_config
        model: big_orders
        overrides:
          vars: {big_orders: {threshold: 10}}
        given:
          - input: stg_orders
            rows: [{order_id: 1, amount: 150}, {order_id: 2, amount: 50}]
        expect:
          rows: [{order_id: 1}, {order_id: 2}, {order_id: 3}]
    """
    root = project(make_project, tmp_path, tests)
    (root / "models/big_orders.py").write_text(PYTHON_ASSET)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 1, run.output
    assert "PASS    big_default" in run.stdout
    assert "FAIL    big_with_config" in run.stdout
    assert "  - | 3" in run.stdout  # order 3 was expected, the asset returned 1 and 2


def test_python_asset_resources(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: labels_from_resource
        model: labelled
        resources:
          shop: {label: from-test}
        given:
          - input: stg_orders
            rows: [{order_id: 1}]
        expect:
          rows: [{order_id: 1, label: from-test, region: eu}]
    """
    root = project(make_project, tmp_path, tests)
    (root / "orch_project.yml").write_text(
        "name: shop\nprofile: shop\ndialect: duckdb\n"
        "resources:\n  shop:\n    label: from-project\n    region: eu\n"
    )
    (root / "models/labelled.py").write_text(
        "import polars as pl\nfrom orch import Resource, asset\n\n\n"
        "class Shop(Resource):\n    label: str\n    region: str\n\n\n"
        "@asset\ndef labelled(stg_orders: pl.DataFrame, shop: Shop) -> pl.DataFrame:\n"
        "    return stg_orders.select('order_id').with_columns(\n"
        "        label=pl.lit(shop.label), region=pl.lit(shop.region))\n"
    )
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output


def test_selection_and_data_checks(make_project: MakeProject, tmp_path: Path) -> None:
    """``orch test`` runs unit tests and data checks; test_type:unit / test_type:data split them."""
    root = project(make_project, tmp_path, PASSING)
    (root / "models/props.yml").write_text(
        "models:\n  - name: orders\n    columns:\n      - name: order_id\n"
        "        checks: [not_null]\n"
    )
    assert run_cli("build", "--project-dir", root, "--exclude", "test_type:unit").exit_code == 0
    both = run_cli("test", "--project-dir", root)
    assert both.exit_code == 0, both.output
    assert "orders_doubles_amounts" in both.stdout and "not_null_orders_order_id" in both.stdout
    unit = run_cli("test", "--project-dir", root, "-s", "test_type:unit")
    assert "orders_doubles_amounts" in unit.stdout
    assert "not_null_orders_order_id" not in unit.stdout
    data = run_cli("test", "--project-dir", root, "-s", "test_type:data")
    assert "not_null_orders_order_id" in data.stdout
    assert "orders_doubles_amounts" not in data.stdout
    by_name = run_cli("test", "--project-dir", root, "-s", "orders_doubles_amounts")
    assert "PASSED 1 check results" in by_name.stdout
    results = json.loads((root / "target/run_results.json").read_text())
    [result] = results["results"]
    assert result["unique_id"] == "unit_test.shop.orders.orders_doubles_amounts"
    assert result["status"] == "pass"


def test_build_skips_a_model_whose_unit_test_fails(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = project(make_project, tmp_path, FAILING)
    (root / "models/order_report.sql").write_text("select count(*) as n from orders\n")
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1, run.output
    assert "SKIP    orders: unit test 'orders_wrong' failed" in run.stdout
    assert "order_report: upstream 'orders' was skipped: unit test 'orders_wrong' failed" in (
        run.stdout
    )
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    found = con.execute("select table_name from information_schema.tables").fetchall()
    tables = {r[0] for r in found}
    assert tables == {"stg_orders"}  # orders and what reads it were not built
    con.close()
    status = run_cli("runs", "--project-dir", root)
    assert status.exit_code == 0
    # the unit test's result is in the state store and in run_results.json
    results = json.loads((root / "target/run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert statuses["unit_test.shop.orders.orders_wrong"] == "fail"
    assert statuses["model.shop.orders"] == "skipped"
    # excluding unit tests builds it
    again = run_cli("build", "--project-dir", root, "--exclude", "test_type:unit")
    assert again.exit_code == 0, again.output


def test_build_runs_passing_unit_tests_first(make_project: MakeProject, tmp_path: Path) -> None:
    root = project(make_project, tmp_path, PASSING)
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    test_line = next(i for i, line in enumerate(lines) if "orders_doubles_amounts" in line)
    model_line = next(i for i, line in enumerate(lines) if "OK      orders" in line)
    assert test_line < model_line
    assert "orch run" and run_cli("run", "--project-dir", root).exit_code == 0


def test_docs_site_lists_unit_tests(make_project: MakeProject, tmp_path: Path) -> None:
    root = project(make_project, tmp_path, FAILING)
    run_cli("test", "--project-dir", root)
    assert run_cli("docs", "generate", "--project-dir", root).exit_code == 0
    data = "".join(p.read_text(encoding="utf-8") for p in (root / "target/docs/data").glob("*.js"))
    start = data.index('"unit_tests":[{"name":"orders_wrong"')
    detail = data[start : start + 2000]
    assert '"given":["stg_orders"]' in detail
    assert '"status":"fail"' in detail
    assert "3 differ (comparing order_id, double_amount" in detail  # the last result's diff
    app = (root / "target/docs/static/app.js").read_text(encoding="utf-8")
    assert "function unitTestsSection" in app


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: orders
                given:
                  - input: ref('orders')
                    rows: []
                  - input: ref('stg_orders')
                    rows: []
                expect: {rows: []}
            """,
            "models/unit_tests.yml:5:9: unit test 't': given input ref('orders') is not an "
            "upstream of 'orders' (it reads ref('stg_orders')). Give rows only for what the "
            "model reads; remove this input",
            id="not-an-upstream",
        ),
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: orders
                given:
                  - input: ref('stg_orders')
                    rows:
                      - {order_id: 1, amount: 2, stauts: paid}
                expect: {rows: []}
            """,
            "models/unit_tests.yml:7:13: unit test 't': given ref('stg_orders') names the column "
            "'stauts', which 'stg_orders' does not have (its columns: order_id, amount, status, "
            "ordered_at). Did you mean 'status'?",
            id="given-column-unknown",
        ),
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: orders
                given:
                  - input: ref('stg_orders')
                    rows: [{order_id: 1}]
                expect:
                  rows:
                    - {order_id: 1, amount: 2}
            """,
            "models/unit_tests.yml:9:11: unit test 't': expect names the column 'amount', which "
            "'orders' does not produce (its columns: order_id, double_amount, status). "
            "Did you mean 'double_amount'?",
            id="expect-column-unknown",
        ),
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: orders
                given:
                  - input: ref('stg_orders')
                    rows:
                      - [1, 2]
                expect: {rows: []}
            """,
            "models/unit_tests.yml:7:13: given 'ref('stg_orders')': row 1 is not a mapping of "
            "column: value (got list [1, 2]). Write each row as {column: value, ...}",
            id="malformed-row",
        ),
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: orders
                given:
                  - input: ref('stg_orders')
                    format: csv
                    fixture: nowhere
                expect: {rows: []}
            """,
            "models/unit_tests.yml:7:9: fixture 'nowhere' not found (looked for "
            "checks/fixtures/nowhere.csv, tests/fixtures/nowhere.csv). Create the file "
            "checks/fixtures/nowhere.csv",
            id="missing-fixture",
        ),
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: orders
                given: []
                expect: {rows: []}
            """,
            "models/unit_tests.yml:2:5: unit test 't': the model 'orders' reads "
            "ref('stg_orders'), not given. Give rows for every input (rows: [] for an empty "
            "table)",
            id="missing-input",
        ),
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: order
                given: []
                expect: {rows: []}
            """,
            "models/unit_tests.yml:3:5: unit test 't' is for the model 'order', which does not "
            "exist. Did you mean 'orders'?",
            id="unknown-model",
        ),
        pytest.param(
            """\
            unit_tests:
              - name: t
                model: orders
                given:
                  - input: ref('stg_orders')
                    rows: {order_id: 1}
                expect: {rows: []}
            """,
            "models/unit_tests.yml:6:9: given 'ref('stg_orders')': 'rows' must be a list of rows, "
            "each a mapping of column: value",
            id="rows-not-a-list",
        ),
    ],
)
def test_user_errors(make_project: MakeProject, tmp_path: Path, tests: str, message: str) -> None:
    root = project(make_project, tmp_path, tests)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 2, run.output
    assert run.stderr.startswith("Error: " + message), run.stderr
    assert "Traceback" not in run.output
    assert not (root / "target/manifest.json").exists()


def test_cell_that_does_not_cast(make_project: MakeProject, tmp_path: Path) -> None:
    tests = """\
    unit_tests:
      - name: bad_amount
        model: orders
        given:
          - input: ref('stg_orders')
            rows:
              - {order_id: 1, amount: 10}
              - {order_id: 2, amount: ten}
        expect: {rows: []}
    """
    root = project(make_project, tmp_path, tests)
    (root / "models/props.yml").write_text(
        "models:\n  - name: stg_orders\n    columns:\n      - name: amount\n"
        "        data_type: integer\n"
    )
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 1, run.output
    assert (
        "unit test 'bad_amount' of 'orders': models/unit_tests.yml:8:13: given ref('stg_orders'), "
        "row 2: the value 'ten' of column 'amount' does not cast to integer. Write a value of "
        "type integer there"
    ) in run.stdout
    assert "ERROR   bad_amount" in run.stdout


def test_sql_failing_on_fixture_data_is_the_tests_error(
    make_project: MakeProject, tmp_path: Path
) -> None:
    tests = """\
    unit_tests:
      - name: bad_cast
        model: casted
        given:
          - input: stg_orders
            rows: [{order_id: 1, status: not-a-number}]
        expect: {rows: []}
    """
    root = project(make_project, tmp_path, tests)
    (root / "models/casted.sql").write_text(
        "select order_id, cast(status as integer) as n from stg_orders\n"
    )
    run = run_cli("build", "--project-dir", root, "-s", "casted")
    assert run.exit_code == 1
    assert "unit test 'bad_cast' of 'casted': the model's SQL failed on the test's rows" in (
        run.stdout
    )
    assert "Conversion Error" in run.stdout
    assert "SKIP    casted: unit test 'bad_cast' failed" in run.stdout
    assert "Failed: casted" not in run.stdout  # not a model failure


def test_snowflake_dialect_is_transpiled(make_project: MakeProject, tmp_path: Path) -> None:
    """A Snowflake project's unit tests run in DuckDB, without an account."""
    tests = """\
    unit_tests:
      - name: iff_and_div0
        model: ratios
        given:
          - input: stg
            rows: [{a: 1, b: 0}, {a: 6, b: 3}]
        expect:
          rows: [{a: 1, ratio: 0, big: 'no'}, {a: 6, ratio: 2, big: 'yes'}]
      - name: untranslatable
        model: odd
        given:
          - input: stg
            rows: [{a: 1}]
        expect: {rows: []}
    """
    root = make_project(
        tmp_path,
        {
            "models/stg.sql": "select 1 as a, 2 as b",
            "models/ratios.sql": "select a, div0(a, b) as ratio, iff(a > 5, 'yes', 'no') as big "
            "from stg",
            "models/odd.sql": "select a, some_udf_nobody_knows(a) as x from stg",
            "models/unit_tests.yml": tests,
        },
        project_yml="name: shop\nprofile: shop\ndialect: snowflake\n",
        profiles_yml="""\
        shop:
          target: prod
          outputs:
            prod:
              type: snowflake
              account: nowhere-at-all
              user: nobody
              password: wrong
              database: DB
              schema: PUBLIC
              state: sqlite
        """,
    )
    run = run_cli("test", "--project-dir", root, "-s", "test_type:unit")
    assert "PASS    iff_and_div0" in run.stdout, run.output
    assert (
        "unit test 'untranslatable' of 'odd' cannot run in DuckDB: models/odd.sql:1:11: cannot "
        "translate some_udf_nobody_knows() from snowflake to duckdb" in run.stdout
    )
    assert run.exit_code == 1


def test_unit_tests_of_a_dbt_project(tmp_path: Path, make_project: MakeProject) -> None:
    """dbt's spelling runs unchanged in a dbt project (also tests/dbt/test_dbt_unit_tests.py)."""
    root = tmp_path / "dbtproj"
    root.mkdir()
    (root / "dbt_project.yml").write_text("name: shop\nprofile: shop\nversion: '1.0'\n")
    (root / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'dev.duckdb'}\n"
    )
    (root / "models").mkdir()
    (root / "models/stg_orders.sql").write_text(STG)
    (root / "models/orders.sql").write_text(ORDERS.replace("stg_orders", "{{ ref('stg_orders') }}"))
    (root / "models/unit_tests.yml").write_text("version: 2\n" + PASSING)
    run = run_cli("test", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert "PASS    orders_doubles_amounts" in run.stdout


def test_manifest_reused_when_nothing_changed(make_project: MakeProject, tmp_path: Path) -> None:
    """A project with unit tests compiles once: the next command reuses the manifest (the key
    written beside it was once a check's key, so every command recompiled)."""
    from orch.compiler import compile_or_reuse
    from orch.compiler.artifacts import write_artifacts
    from orch.config import RunOptions

    root = project(make_project, tmp_path, PASSING)
    first = compile_or_reuse(RunOptions(project_dir=root))
    assert not first.unchanged
    write_artifacts(first)
    again = compile_or_reuse(RunOptions(project_dir=root))
    assert again.unchanged
    assert "orders_doubles_amounts" in {c.name for c in again.manifest.checks.values()}
