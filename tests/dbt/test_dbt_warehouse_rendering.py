"""Macros that query the warehouse while rendering (``run_query``, ``statement`` + ``load_result``,
``adapter.get_columns_in_relation``, ``load_relation``, ``execute``), as dbt runs them.

The fixture ``probe_dbt`` uses kit_probe, a package written for these tests in dbt_utils' shape:
an ``execute`` guard (``'*'`` / ``[]`` while parsing), ``adapter.get_columns_in_relation``, a
``statement`` block read with ``load_result``, ``run_query`` with ``api.Relation.create``, and a
``statement`` without a guard (parse time sees ``none`` and counts 1). The load parses with
``execute`` False (dependencies from that render); each such model is rendered again right before
it runs, against the relations built before it.
"""

from __future__ import annotations

import json
from pathlib import Path

import fakesnow
import pytest
import snowflake.connector

from tests.dbt.conftest import RunOrch, Warehouse


def _manifest_node(project: Path, name: str) -> dict:
    data = json.loads((project / "target" / "orch_manifest.json").read_text())
    return data["nodes"][name]


def test_models_rendered_at_run_time_build_what_dbt_builds(
    probe: Path, orch: RunOrch, probe_db: Warehouse
):
    result = orch("build", "--project-dir", str(probe))
    assert result.exit_code == 0, result.output + result.stderr
    # columns_of(ref('orders'), skip=['customer']): the seed's columns, quoted, in order
    assert list(probe_db.types("main.stg_orders")) == [
        "order_id", "status", "amount", "ordered_on", "customer",
    ]  # fmt: skip
    # distinct_values(): a statement block, most frequent status first
    assert list(probe_db.types("main.orders_by_status")) == [
        "ordered_on", "shipped_amount", "placed_amount", "returned_amount",
    ]  # fmt: skip
    assert probe_db.rows("select * from main.orders_by_status order by ordered_on") == [
        (__import__("datetime").date(2024, 1, 1), 10.5, 0.0, 0.0),
        (__import__("datetime").date(2024, 1, 2), 7.25, 20.0, 0.0),
        (__import__("datetime").date(2024, 1, 4), 0.0, 0.0, 3.0),
        (__import__("datetime").date(2024, 1, 5), 11.0, 0.0, 0.0),
    ]
    # relations_like() (run_query) + stack() (get_columns_in_relation): null where missing
    assert probe_db.rows("select * from main.all_refunds order by refund_id") == [
        ("refunds_2023", 1, 4, 3.5, None),
        ("refunds_2024", 2, 2, 5.0, "late"),
        ("refunds_2024", 3, 5, 1.5, "damaged"),
    ]
    # days(): the count of a statement with no execute guard (1 at parse time, 4 at run time)
    assert probe_db.rows("select count(*), min(day), max(day) from main.order_days")[0][0] == 5
    assert probe_db.rows("select sum(orders) from main.daily_orders") == [(5,)]


def test_parse_time_render_gives_the_dependencies_and_no_lineage(probe: Path, orch: RunOrch):
    result = orch("compile", "--project-dir", str(probe))
    assert result.exit_code == 0, result.output + result.stderr
    node = _manifest_node(probe, "all_refunds")
    assert node["rendered_at_run_time"] is True
    assert node["depends_on"] == ["refunds_2023", "refunds_2024"]  # from the depends_on comment
    assert node["column_lineage"] == {} and node["columns"] == {}  # unknown until it runs
    by_status = _manifest_node(probe, "orders_by_status")
    assert by_status["depends_on"] == ["stg_orders"]
    assert by_status["compiled_code"].split() == [  # dbt's parse-time render: no statuses
        "select", "ordered_on", "from", '"main"."stg_orders"', "group", "by", "1",
    ]  # fmt: skip
    plain = _manifest_node(probe, "daily_orders")
    assert plain["rendered_at_run_time"] is False
    assert plain["column_lineage"]["orders"] == [{"asset": "stg_orders", "column": "order_id"}]
    # no warehouse yet: compile says what to build, and creates no database file
    assert "orders_by_status: queries the warehouse while rendering and the warehouse does " \
        "not exist yet" in result.stderr  # fmt: skip
    assert not (probe / "probe.duckdb").exists()


def test_each_run_renders_again_with_the_current_data(
    probe: Path, orch: RunOrch, probe_db: Warehouse
):
    assert orch("build", "--project-dir", str(probe)).exit_code == 0
    with (probe / "seeds" / "orders.csv").open("a", encoding="utf-8") as f:
        f.write("6,dee,lost,4.0,2024-01-05\n")
    result = orch("build", "--project-dir", str(probe))
    assert result.exit_code == 0, result.output + result.stderr
    assert "lost_amount" in probe_db.types("main.orders_by_status")


def test_compile_renders_against_the_built_warehouse(probe: Path, orch: RunOrch):
    assert orch("build", "--project-dir", str(probe), "-s", "orders").exit_code == 0
    result = orch("compile", "--project-dir", str(probe))
    assert result.exit_code == 0
    assert "stg_orders: rendered against the warehouse" in result.stderr
    assert ("orders_by_status: queries the warehouse while rendering and stg_orders not built "
            "yet") in result.stderr  # fmt: skip
    compiled = (probe / "target" / "compiled" / "models" / "staging" / "stg_orders.sql").read_text()
    assert compiled.startswith('select "order_id", "status", "amount", "ordered_on", upper(')


def test_a_failing_run_time_render_fails_the_step_at_its_line(probe: Path, orch: RunOrch):
    (probe / "models" / "marts" / "gone.sql").write_text(
        "-- reads a relation nobody builds\n"
        "{% set v = kit_probe.distinct_values(api.Relation.create(schema='main', "
        "identifier='nope'), 'x') %}\nselect 1 as one\n",
        encoding="utf-8",
    )
    result = orch("build", "--project-dir", str(probe))
    assert result.exit_code == 1
    assert "rendering 'gone' at run time failed" in result.output
    assert (
        'models/marts/gone.sql:2: Jinja error: distinct_values: "main"."nope" does not exist'
    ) in result.output


def test_env_var_in_a_run_query_is_bound_never_pasted(
    probe: Path, orch: RunOrch, probe_db: Warehouse, monkeypatch
):
    monkeypatch.setenv("PROBE_TOKEN", "s3cr3t-value")
    (probe / "models" / "marts" / "token_check.sql").write_text(
        "{% set found = run_query(\"select 1 as n where '\" ~ env_var('PROBE_TOKEN') ~ "
        "\"' = 's3cr3t-value'\") %}\n"
        "select {{ found.rows | length if execute else 0 }} as matched\n",
        encoding="utf-8",
    )
    result = orch("build", "--project-dir", str(probe), "-s", "token_check")
    assert result.exit_code == 0, result.output + result.stderr
    assert probe_db.rows("select matched from main.token_check") == [(1,)]
    for path in (probe / "target").rglob("*"):
        if path.is_file():
            assert "s3cr3t-value" not in path.read_text(errors="replace"), path


def test_an_ephemeral_upstream_is_refused_at_its_line(probe: Path, orch: RunOrch):
    (probe / "models" / "marts" / "eph.sql").write_text(
        "{{ config(materialized='ephemeral') }}\nselect 1 as x\n", encoding="utf-8"
    )
    (probe / "models" / "marts" / "wide.sql").write_text(
        "select {{ kit_probe.columns_of(ref('orders')) }}\nfrom {{ ref('eph') }}\n",
        encoding="utf-8",
    )
    result = orch("build", "--project-dir", str(probe))
    assert result.exit_code == 2
    assert ("models/marts/wide.sql:2:6: 'wide' queries the warehouse while rendering and reads "
            "the ephemeral model 'eph'") in result.stderr  # fmt: skip


def test_compile_after_a_build_gives_their_column_lineage(probe: Path, orch: RunOrch):
    assert orch("build", "--project-dir", str(probe)).exit_code == 0
    assert orch("compile", "--project-dir", str(probe)).exit_code == 0
    node = _manifest_node(probe, "orders_by_status")
    assert list(node["columns"]) == [
        "ordered_on", "shipped_amount", "placed_amount", "returned_amount",
    ]  # fmt: skip
    assert node["column_lineage"]["shipped_amount"] == [
        {"asset": "stg_orders", "column": "amount"},
        {"asset": "stg_orders", "column": "status"},
    ]
    # relations found by run_query, not by ref(): their columns are traced too
    stacked = _manifest_node(probe, "all_refunds")["column_lineage"]
    assert stacked["reason"] == [{"asset": "refunds_2024", "column": "reason"}]
    lineage = orch("lineage", "--project-dir", str(probe), "orders_by_status.shipped_amount")
    assert "stg_orders.amount" in lineage.output and "orders.amount" in lineage.output


def test_a_unit_test_of_such_a_model_is_refused_at_its_line(probe: Path, orch: RunOrch):
    (probe / "models" / "unit.yml").write_text(
        "unit_tests:\n  - name: t_status\n    model: orders_by_status\n    given:\n"
        "      - input: ref('stg_orders')\n        rows:\n          - {order_id: 1}\n"
        "    expect:\n      rows:\n        - {ordered_on: 2024-01-01}\n",
        encoding="utf-8",
    )
    result = orch("build", "--project-dir", str(probe))
    assert result.exit_code == 1
    assert (
        "models/unit.yml:2:5: unit test 't_status': the model 'orders_by_status' queries the "
        "warehouse while rendering"
    ) in result.output


def test_reading_a_relations_parts_renders_at_run_time(
    probe: Path, orch: RunOrch, probe_db: Warehouse
):
    # dbt gives the real parts; while parsing orch does not know them yet (aliases, schemas)
    (probe / "models" / "marts" / "names.sql").write_text(
        "{{ config(alias='named') }}\n"
        "select '{{ this.identifier }}' as me, '{{ ref('stg_orders').schema }}' as up_schema\n",
        encoding="utf-8",
    )
    result = orch("build", "--project-dir", str(probe), "-s", "+names")
    assert result.exit_code == 0, result.output + result.stderr
    assert probe_db.rows("select * from main.named") == [("named", "main")]


SNOWFLAKE_PROFILE = """\
probe:
  target: prod
  outputs:
    prod:
      type: snowflake
      account: fakesnow
      user: orch
      password: secret
      database: shop_db
      schema: analytics
      threads: 1
"""


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow's
def test_run_time_render_on_snowflake_through_the_adapter(probe: Path, orch: RunOrch):
    (probe / "profiles.yml").write_text(SNOWFLAKE_PROFILE, encoding="utf-8")
    with fakesnow.patch():
        result = orch("build", "--project-dir", str(probe), "-s", "+orders_by_status")
        assert result.exit_code == 0, result.output + result.stderr
        con = snowflake.connector.connect(account="fakesnow", user="orch", password="secret",
                                          database="shop_db")  # fmt: skip
        cur = con.cursor()
        by_status = cur.execute("select * from analytics.orders_by_status order by 1").fetchall()
        cur.execute("select * from analytics.stg_orders limit 0")
        stg_columns = [d[0] for d in cur.description]
    assert stg_columns == ["ORDER_ID", "STATUS", "AMOUNT", "ORDERED_ON", "CUSTOMER"]
    assert [row[1:] for row in by_status] == [
        (10.5, 0.0, 0.0), (7.25, 20.0, 0.0), (0.0, 0.0, 3.0), (11.0, 0.0, 0.0),
    ]  # fmt: skip


def test_the_sql_that_ran_is_in_target_compiled(probe: Path, orch: RunOrch):
    assert orch("build", "--project-dir", str(probe), "-s", "+orders_by_status").exit_code == 0
    sql = (probe / "target" / "compiled" / "models" / "marts" / "orders_by_status.sql").read_text()
    assert "as shipped_amount" in sql and '"probe"."main"."stg_orders"' in sql


def test_show_renders_it_against_the_warehouse(probe: Path, orch: RunOrch):
    assert orch("build", "--project-dir", str(probe), "-s", "+stg_orders").exit_code == 0
    result = orch("show", "--project-dir", str(probe), "-s", "orders_by_status")
    assert result.exit_code == 0, result.output + result.stderr
    assert "shipped_amount" in result.output and "4 rows" in result.output
