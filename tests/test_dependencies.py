"""Dependency inference: bare names, ref(), source(), CTEs, subqueries and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch.compiler.models import compile_project
from orch.config import RunOptions
from orch.errors import (
    AmbiguousReferenceError,
    CycleError,
    ErrorGroup,
    SqlSyntaxError,
    UnknownReferenceError,
)
from orch.manifest import Manifest

from tests.conftest import MakeProject, run_cli

BASE = {
    "seeds/raw_orders.csv": "id,customer_id,amount\n1,1,10\n",
    "seeds/raw_customers.csv": "id,name\n1,Ana\n",
    "models/stg_orders.sql": "select id, customer_id, amount from raw_orders",
    "models/stg_customers.sql": "select id, name from raw_customers",
}


def deps(root: Path) -> dict[str, list[str]]:
    """Each model's ``depends_on`` after ``orch compile``."""
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 0, run.output
    manifest = Manifest.read(root / "target" / "manifest.json")
    return {
        n: node.depends_on for n, node in manifest.nodes.items() if node.resource_type == "model"
    }


def compile_error(root: Path) -> str:
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    assert run.stdout == ""
    return run.stderr.strip()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select * from stg_orders", ["stg_orders"]),
        ("select * from {{ ref('stg_orders') }}", ["stg_orders"]),
        ("select * from STG_ORDERS", ["stg_orders"]),
        ("select * from analytics.stg_orders", ["stg_orders"]),
        (
            "select o.id, c.name from stg_orders o join stg_customers c on c.id = o.customer_id",
            ["stg_customers", "stg_orders"],
        ),
        (
            "select id from stg_orders where customer_id in (select id from stg_customers)",
            ["stg_customers", "stg_orders"],
        ),
        ("select * from (select id from stg_orders) as sub", ["stg_orders"]),
        ("select id from stg_orders union all select id from stg_customers", [
            "stg_customers", "stg_orders",
        ]),  # fmt: skip
        (
            "with a as (select * from stg_orders), b as (select * from a) select * from b",
            ["stg_orders"],
        ),
        (
            "select * from stg_orders o where exists "
            "(select 1 from stg_customers c where c.id = o.customer_id)",
            ["stg_customers", "stg_orders"],
        ),
        ("select * from range(3) r cross join stg_orders", ["stg_orders"]),
        ("select 1 as x", []),
    ],
    ids=[
        "bare", "ref", "case-insensitive", "schema-qualified", "join", "in-subquery",
        "derived-table", "union", "cte-chain", "exists", "table-function", "no-tables",
    ],
)  # fmt: skip
def test_edges(make_project: MakeProject, tmp_path: Path, sql: str, expected: list[str]):
    root = make_project(tmp_path, {**BASE, "models/m.sql": sql})
    assert deps(root)["m"] == expected


def test_source_edges(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **BASE,
            "models/_sources.yml": """
                sources:
                  - name: stripe
                    schema: raw_stripe
                    tables: [{name: payments}, {name: refunds}]
                """,
            "models/pay.sql": """
                select * from {{ source('stripe', 'payments') }}
                union all select * from raw_stripe.refunds
                """,
            "models/pay2.sql": "select * from payments",
        },
    )
    found = deps(root)
    assert found["pay"] == ["stripe.payments", "stripe.refunds"]
    assert found["pay2"] == ["stripe.payments"]


def test_cte_named_like_a_model_is_no_edge(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **BASE,
            "models/orders.sql": """
                with orders as (select * from stg_orders)
                select * from orders
                """,
            "models/report.sql": """
                with stg_customers as (select 1 as id)
                select * from stg_customers join orders using (id)
                """,
        },
    )
    found = deps(root)
    assert found["orders"] == ["stg_orders"]
    assert found["report"] == ["orders"]


def test_self_reference_is_an_error(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path, {**BASE, "models/m.sql": "select id\nfrom stg_orders join m using (id)"}
    )
    assert compile_error(root) == (
        "Error: models/m.sql:2:22: model 'm' reads itself. "
        "Use {{ this }} to read the existing table in an incremental model"
    )


def test_unknown_table_message(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {**BASE, "models/marts/orders.sql": "select id,\n       amount\nfrom stg_order\n"},
    )
    assert compile_error(root) == (
        "Error: models/marts/orders.sql:3:6: unknown table 'stg_order'. Did you mean 'stg_orders'?"
    )
    assert not (root / "target" / "manifest.json").exists()


def test_unknown_table_in_jinja_model_maps_to_template_line(
    make_project: MakeProject, tmp_path: Path
):
    root = make_project(
        tmp_path,
        {
            **BASE,
            "models/m.sql": "{{ config(materialized='table') }}\n"
            "{% set cols = ['id', 'amount'] %}\n"
            "select {{ cols | join(', ') }}\n"
            "from stg_ordrs\n",
        },
    )
    assert compile_error(root) == (
        "Error: models/m.sql:4:6: unknown table 'stg_ordrs'. Did you mean 'stg_orders'?"
    )


def test_unknown_ref_and_source(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **BASE,
            "models/a.sql": "select *\nfrom {{ ref('stg_order') }}",
            "models/b.sql": "select * from {{ source('shop', 'orders') }}",
        },
    )
    assert compile_error(root) == (
        "Error: models/a.sql:2:9: ref('stg_order') names no model or seed. "
        "Did you mean 'stg_orders'?\n"
        "models/b.sql:1:18: source('shop', 'orders') is not declared. "
        "Declare it under 'sources:' in a YAML file in models/"
    )


def test_all_unknown_tables_reported_at_once(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {**BASE, "models/a.sql": "select * from nope_a", "models/b.sql": "select * from nope_b"},
    )
    with pytest.raises(ErrorGroup) as info:
        compile_project(RunOptions(project_dir=root))
    errors = info.value.errors
    assert [type(e) for e in errors] == [UnknownReferenceError, UnknownReferenceError]
    assert [str(e.location) for e in errors] == ["models/a.sql:1:15", "models/b.sql:1:15"]


def test_ambiguous_source_table(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **BASE,
            "models/_sources.yml": """
                sources:
                  - name: shopify
                    tables: [{name: refunds}]
                  - name: stripe
                    tables: [{name: refunds}]
                """,
            "models/m.sql": "select *\nfrom refunds",
            "models/ok.sql": "select * from stripe.refunds",
        },
    )
    assert compile_error(root) == (
        "Error: models/m.sql:2:6: table 'refunds' is ambiguous: it matches sources "
        "'shopify.refunds', 'stripe.refunds'. Qualify it (e.g. shopify.refunds) or use source()"
    )
    with pytest.raises(AmbiguousReferenceError):
        compile_project(RunOptions(project_dir=root))


def test_cycle_prints_the_cycle(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **BASE,
            "models/a.sql": "select * from c",
            "models/b.sql": "select * from a",
            "models/c.sql": "select * from b join stg_orders using (id)",
        },
    )
    message = compile_error(root)
    # "x -> y": x reads y
    assert message == (
        "Error: models/a.sql: dependency cycle: a -> c -> b -> a. "
        "Break the cycle: one of these models must not read the next"
    )
    with pytest.raises(CycleError):
        compile_project(RunOptions(project_dir=root))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "select id,\n  amount\nfrom stg_orders\nwhere (\n",
            "Error: models/m.sql:4:7: SQL syntax error near '('",
        ),
        (
            "select id, amount\nfrom stg_orders\ngroup id\n",
            "Error: models/m.sql:3:7: SQL syntax error near 'id': Invalid expression / "
            "Unexpected token. Fix the SQL at that position",
        ),
        (
            "select 1 as x;\nselect 2 as y",
            "Error: models/m.sql:1:1: a model must be one SELECT statement, found 2 statements",
        ),
        ("", "Error: models/m.sql:1:1: the model is empty. Write a SELECT statement"),
    ],
    ids=["unclosed-paren", "bad-token", "two-statements", "empty"],
)
def test_sql_syntax_errors(make_project: MakeProject, tmp_path: Path, sql: str, expected: str):
    root = make_project(tmp_path, {**BASE, "models/m.sql": sql})
    message = compile_error(root)
    assert message.startswith(expected), message
    with pytest.raises(SqlSyntaxError):
        compile_project(RunOptions(project_dir=root))


def test_many_errors_are_capped(make_project: MakeProject, tmp_path: Path):
    files = {f"models/m{i:02d}.sql": f"select * from missing_{i:02d}" for i in range(25)}
    root = make_project(tmp_path, files)
    lines = compile_error(root).splitlines()
    assert len(lines) == 21
    assert lines[0].startswith("Error: models/m00.sql:1:15: unknown table 'missing_00'")
    assert lines[19].startswith("models/m19.sql:1:15: unknown table 'missing_19'")
    assert lines[20] == "... and 5 more"
