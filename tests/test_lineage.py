"""Column-level lineage, and ``orch lineage`` printed as trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch.manifest import Manifest

from tests.conftest import MakeProject, run_cli

PROJECT = {
    "seeds/raw_orders.csv": "id,customer_id,amount_cents,ordered_at\n1,1,100,2024-01-01\n",
    "seeds/raw_customers.csv": "id,first_name,last_name\n1,Ana,Lee\n",
    "seeds/raw_refunds.csv": "id,order_id,amount_cents\n1,1,50\n",
    # select * expansion from a seed's known columns
    "models/stg_orders.sql": "select * from raw_orders",
    # CTE + expression of two columns
    "models/stg_customers.sql": """
        with src as (select * from raw_customers)
        select id as customer_id, first_name || ' ' || last_name as full_name from src
        """,
    # join + aggregate
    "models/customer_totals.sql": """
        select c.customer_id, c.full_name, sum(o.amount_cents) / 100.0 as total,
               count(*) as n_orders
        from stg_customers c
        join stg_orders o on o.customer_id = c.customer_id
        group by 1, 2
        """,
    # window function
    "models/ranked.sql": """
        select customer_id,
               rank() over (order by total desc) as spend_rank,
               sum(total) over (partition by customer_id) as running
        from customer_totals
        """,
    # union
    "models/movements.sql": """
        select id, amount_cents as cents from raw_orders
        union all
        select id, -amount_cents from raw_refunds
        """,
}


@pytest.fixture
def manifest(make_project: MakeProject, tmp_path: Path) -> Manifest:
    root = make_project(tmp_path, PROJECT)
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 0, run.output
    return Manifest.read(root / "target" / "manifest.json")


def lineage(manifest: Manifest, model: str) -> dict[str, list[str]]:
    return {
        col: sorted(f"{r.asset}.{r.column}" for r in refs)
        for col, refs in manifest.nodes[model].column_lineage.items()
    }


def test_star_expansion_from_seed_columns(manifest: Manifest):
    assert list(manifest.nodes["stg_orders"].columns) == [
        "id", "customer_id", "amount_cents", "ordered_at",
    ]  # fmt: skip
    assert lineage(manifest, "stg_orders") == {
        "id": ["raw_orders.id"],
        "customer_id": ["raw_orders.customer_id"],
        "amount_cents": ["raw_orders.amount_cents"],
        "ordered_at": ["raw_orders.ordered_at"],
    }


def test_through_ctes_and_expressions(manifest: Manifest):
    assert lineage(manifest, "stg_customers") == {
        "customer_id": ["raw_customers.id"],
        "full_name": ["raw_customers.first_name", "raw_customers.last_name"],
    }


def test_joins_and_aggregates(manifest: Manifest):
    result = lineage(manifest, "customer_totals")
    assert result["customer_id"] == ["stg_customers.customer_id"]
    assert result["full_name"] == ["stg_customers.full_name"]
    assert result["total"] == ["stg_orders.amount_cents"]
    assert result.get("n_orders", []) == []  # count(*) reads no particular column


def test_window_functions(manifest: Manifest):
    result = lineage(manifest, "ranked")
    assert result["customer_id"] == ["customer_totals.customer_id"]
    assert result["spend_rank"] == ["customer_totals.total"]
    assert result["running"] == ["customer_totals.customer_id", "customer_totals.total"]


def test_unions(manifest: Manifest):
    assert lineage(manifest, "movements") == {
        "id": ["raw_orders.id", "raw_refunds.id"],
        "cents": ["raw_orders.amount_cents", "raw_refunds.amount_cents"],
    }


def test_cli_column_tree_upstream(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    run = run_cli("lineage", "ranked.spend_rank", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert run.stdout == (
        "ranked.spend_rank\n"
        "upstream:\n"
        "  └── customer_totals.total\n"
        "      └── stg_orders.amount_cents\n"
        "          └── raw_orders.amount_cents\n"
    )


def test_cli_column_tree_branches(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    run = run_cli("lineage", "customer_totals.full_name", "--project-dir", root)
    assert run.stdout == (
        "customer_totals.full_name\n"
        "upstream:\n"
        "  └── stg_customers.full_name\n"
        "      ├── raw_customers.first_name\n"
        "      └── raw_customers.last_name\n"
    )


def test_cli_column_tree_downstream(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    run = run_cli("lineage", "stg_orders.amount_cents", "-d", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert run.stdout == (
        "stg_orders.amount_cents\n"
        "upstream:\n"
        "  └── raw_orders.amount_cents\n"
        "downstream:\n"
        "  └── customer_totals.total\n"
        "      ├── ranked.running\n"
        "      └── ranked.spend_rank\n"
    )


def test_cli_asset_tree(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    run = run_cli("lineage", "customer_totals", "-d", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert run.stdout == (
        "customer_totals (view)\n"
        "upstream:\n"
        "  ├── stg_customers (view)\n"
        "  │   └── raw_customers (seed)\n"
        "  └── stg_orders (view)\n"
        "      └── raw_orders (seed)\n"
        "downstream:\n"
        "  └── ranked (view)\n"
    )


def test_cli_lineage_errors(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    run = run_cli("lineage", "customer_total.total", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == "Error: unknown asset 'customer_total'. Did you mean 'customer_totals'?\n"
    run = run_cli("lineage", "customer_totals.totl", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == "Error: 'customer_totals' has no column 'totl'. Did you mean 'total'?\n"


@pytest.mark.parametrize(
    "sql",
    [
        "select a / b as r, a % 2 as m, cast(a as decimal(10, 2)) as d from t",
        "with c as (select a, b from t) select c.a, sum(c.b) over (partition by c.a) as s from c",
        "select {'x': a} as s, [a, b] as l from t",  # a struct: rewritten while written
        "select x.u from t, unnest([t.a, t.b]) as x(u)",  # unnest: rewritten too
        "select first_value(a ignore nulls) over (order by b) as f from t",
        "select a from t where exists (select 1 from u where u.a = t.a) union all select b from u",
    ],
)
def test_column_versions_are_the_same_whether_written_with_copies_or_not(
    sql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # column versions write parts of the query as SQL; sqlglot copies a tree before writing it
    # unless told not to, which is skipped for trees free of what its generator rewrites
    import sqlglot
    from orch.compiler import lineage
    from sqlglot.optimizer.qualify import qualify

    def versions() -> tuple[dict[str, str], dict[str, list[str]]]:
        schema = {"t": {"a": "INT", "b": "INT"}, "u": {"a": "INT", "b": "INT"}}
        query = qualify(sqlglot.parse_one(sql, read="duckdb"), schema=schema, dialect="duckdb")
        return lineage.column_versions(query, lambda table: table.name)

    fast = versions()
    monkeypatch.setattr(lineage, "rewritten_when_written", lambda query: True)
    assert versions() == fast
    assert fast[0]
