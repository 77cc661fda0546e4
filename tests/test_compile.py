"""Compile: relations, compiled files, transpiling, ephemerals, fingerprints, the manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from orch.compiler.models import compile_project
from orch.config import RunOptions
from orch.errors import UnsupportedFeatureError
from orch.manifest import SCHEMA_VERSION, Manifest
from orch.sql import transpile
from sqlglot import exp, parse_one

from tests.conftest import DEFAULT_PROFILES_YML, MakeProject, run_cli

SNOWFLAKE_PROFILES = DEFAULT_PROFILES_YML + (
    "    sf:\n"
    "      type: snowflake\n"
    "      account: dummy-account\n"
    "      user: nobody\n"
    "      database: analytics_db\n"
    "      schema: dev\n"
)

SHOP = {
    "seeds/raw_orders.csv": "id,customer_id,amount_cents,status\n1,1,1000,paid\n2,1,500,paid\n"
    "3,2,700,returned\n",
    "seeds/raw_customers.csv": "id,name\n1,Ana\n2,Bo\n",
    "models/staging/stg_orders.sql": """
        select id, customer_id, amount_cents / 100.0 as amount, status
        from raw_orders
        """,
    "models/staging/stg_customers.sql": "select id, name from raw_customers",
    "models/marts/customer_totals.sql": """
        {{ config(materialized='table', schema='marts', alias='cust_totals') }}
        select c.id, c.name, sum(o.amount) as total
        from stg_customers c
        join stg_orders o on o.customer_id = c.id
        group by c.id, c.name
        """,
}


def compile_ok(root: Path, *args: str) -> Manifest:
    run = run_cli("compile", "--project-dir", root, *args)
    assert run.exit_code == 0, run.output
    return Manifest.read(root / "target" / "manifest.json")


def assert_sql_equal(actual: str, expected: str, dialect: str = "duckdb") -> None:
    """Compare SQL as ASTs."""
    assert parse_one(actual, read=dialect) == parse_one(expected, read=dialect), actual


def test_relations_qualified_to_target(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, SHOP)
    manifest = compile_ok(root)
    stg = manifest.nodes["stg_orders"]
    assert stg.relation.model_dump() == {  # type: ignore[union-attr]
        "database": None,
        "schema_name": "analytics",
        "identifier": "stg_orders",
    }
    assert stg.compiled_code == (
        "select id, customer_id, amount_cents / 100.0 as amount, status\n"
        'from "analytics"."raw_orders"'
    )
    mart = manifest.nodes["customer_totals"]
    # dbt's rule: a custom schema becomes <target_schema>_<custom>
    assert mart.relation.schema_name == "analytics_marts"  # type: ignore[union-attr]
    assert mart.relation.identifier == "cust_totals"  # type: ignore[union-attr]
    assert_sql_equal(
        mart.compiled_code,
        'select c.id, c.name, sum(o.amount) as total from "analytics"."stg_customers" c '
        'join "analytics"."stg_orders" o on o.customer_id = c.id group by c.id, c.name',
    )


def test_reading_an_aliased_model_keeps_its_name(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path, {**SHOP, "models/top.sql": "select customer_totals.id from customer_totals"}
    )
    code = compile_ok(root).nodes["top"].compiled_code
    assert code == (
        'select customer_totals.id from "analytics_marts"."cust_totals" AS customer_totals'
    )


def test_compiled_files_written(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, SHOP)
    manifest = compile_ok(root)
    compiled = root / "target" / "compiled" / "models"
    assert sorted(p.relative_to(compiled).as_posix() for p in compiled.rglob("*.sql")) == [
        "marts/customer_totals.sql",
        "staging/stg_customers.sql",
        "staging/stg_orders.sql",
    ]
    text = (compiled / "staging" / "stg_orders.sql").read_text()
    assert text == manifest.nodes["stg_orders"].compiled_code + "\n"


def test_compiled_sql_runs_in_duckdb(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, SHOP)
    manifest = compile_ok(root)
    con = duckdb.connect()
    for schema in ("analytics", "analytics_marts"):
        con.execute(f"create schema {schema}")
    for seed in ("raw_orders", "raw_customers"):
        path = root / "seeds" / f"{seed}.csv"
        con.execute(f"create table analytics.{seed} as select * from read_csv_auto('{path}')")
    for name in manifest.topological_names():
        node = manifest.nodes[name]
        if node.resource_type == "model":
            rel = node.relation
            con.execute(
                f'create view "{rel.schema_name}"."{rel.identifier}" as {node.compiled_code}'  # type: ignore[union-attr]
            )
    rows = con.execute("select * from analytics_marts.cust_totals order by id").fetchall()
    assert rows == [(1, "Ana", 15.0), (2, "Bo", 7.0)]


def test_transpile_to_snowflake(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **SHOP,
            "models/fuzzy.sql": """
                select id, levenshtein(name, 'Ana') as distance, name::varchar as n
                from stg_customers
                """,
        },
        profiles_yml=SNOWFLAKE_PROFILES,
    )
    manifest = compile_ok(root, "--target", "sf")
    assert manifest.project.target_dialect == "snowflake"
    stg = manifest.nodes["stg_orders"]
    assert stg.relation.model_dump() == {  # type: ignore[union-attr]
        "database": "ANALYTICS_DB",
        "schema_name": "DEV",
        "identifier": "STG_ORDERS",
    }
    mart = manifest.nodes["customer_totals"]
    assert mart.relation.schema_name == "DEV_MARTS"  # type: ignore[union-attr]
    assert mart.relation.identifier == "CUST_TOTALS"  # type: ignore[union-attr]
    fuzzy = manifest.nodes["fuzzy"].compiled_code
    assert '"ANALYTICS_DB"."DEV"."STG_CUSTOMERS"' in fuzzy
    assert "EDITDISTANCE(name, 'Ana')" in fuzzy  # duckdb's levenshtein, in Snowflake's words
    assert "levenshtein" not in fuzzy.lower()
    parse_one(fuzzy, read="snowflake")  # valid Snowflake
    # compiled files follow the target too
    text = (root / "target" / "compiled" / "models" / "fuzzy.sql").read_text()
    assert "EDITDISTANCE" in text


def test_untranslatable_construct_errors_clearly():
    # sqlglot cannot write a DATE_SUB with no amount for Snowflake: orch names the file
    query = exp.select(exp.DateSub(this=exp.column("d"), unit=exp.var("DAY"))).from_("t")
    with pytest.raises(UnsupportedFeatureError) as info:
        transpile(query, "snowflake", "models/m.sql")
    message = info.value.format_message()
    assert message.startswith("models/m.sql: cannot translate to snowflake: ")
    assert "DateSub cannot be transpiled" in message
    assert message.endswith("or set config(dialect=...) to write it in snowflake")


def test_ephemeral_inlined_nested(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **SHOP,
            "models/paid.sql": """
                {{ config(materialized='ephemeral') }}
                select * from stg_orders where status = 'paid'
                """,
            "models/big_paid.sql": """
                {{ config(materialized='ephemeral') }}
                select id, customer_id, amount from paid where amount >= 10
                """,
            "models/report.sql": """
                with paid as (select customer_id, count(*) as n from big_paid group by 1)
                select c.name, paid.n
                from stg_customers c join paid on paid.customer_id = c.id
                """,
            "models/also.sql": "select count(*) as n from paid join big_paid using (id)",
        },
    )
    manifest = compile_ok(root)
    assert manifest.nodes["paid"].relation is None
    assert manifest.nodes["report"].depends_on == ["big_paid", "stg_customers"]
    con = duckdb.connect()
    con.execute("create schema analytics")
    con.execute(
        "create table analytics.stg_orders as select * from (values "
        "(1, 1, 10.0, 'paid'), (2, 1, 5.0, 'paid'), (3, 2, 7.0, 'returned'), (4, 2, 12.0, 'paid'))"
        " t(id, customer_id, amount, status)"
    )
    con.execute("create table analytics.stg_customers as select * from (values (1, 'Ana'), "
                "(2, 'Bo')) t(id, name)")  # fmt: skip
    report = manifest.nodes["report"].compiled_code
    assert "big_paid" in report and "'paid'" in report
    assert sorted(con.execute(report).fetchall()) == [("Ana", 1), ("Bo", 1)]
    also = manifest.nodes["also"].compiled_code
    assert con.execute(also).fetchall() == [(2,)]


def _fingerprints(root: Path) -> dict[str, str]:
    manifest = compile_project(RunOptions(project_dir=root)).manifest
    return {n: node.fingerprint for n, node in manifest.nodes.items()}


@pytest.mark.parametrize(
    ("new_sql", "changed"),
    [
        ("SELECT id,\n    amount\nFROM   stg_orders\nWHERE amount > 1", False),
        ("-- a comment\nselect id, amount /* inline */ from stg_orders where amount > 1", False),
        ("select ID, AMOUNT from STG_ORDERS where AMOUNT > 1", False),
        ("select id, amount from stg_orders where amount > 2", True),
        ("select id, amount as amt from stg_orders where amount > 1", True),
        ("select amount, id from stg_orders where amount > 1", True),
        ("{{ config(materialized='table') }} select id, amount from stg_orders where amount > 1",
         True),
        ("{{ config(tags=['x']) }} select id, amount from stg_orders where amount > 1", False),
    ],
    ids=[
        "reformatted", "comments", "keyword-case", "literal", "alias", "column-order",
        "materialization", "tags-only",
    ],
)  # fmt: skip
def test_fingerprint(make_project: MakeProject, tmp_path: Path, new_sql: str, changed: bool):
    original = "select id, amount from stg_orders where amount > 1"
    root = make_project(tmp_path, {**SHOP, "models/m.sql": original})
    before = _fingerprints(root)
    (root / "models" / "m.sql").write_text(new_sql)
    after = _fingerprints(root)
    assert (before["m"] != after["m"]) is changed
    assert {k: v for k, v in before.items() if k != "m"} == {
        k: v for k, v in after.items() if k != "m"
    }


def test_manifest_deterministic(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path / "p", SHOP)
    compile_ok(root)
    first = (root / "target" / "manifest.json").read_bytes()
    compile_ok(root)  # warm cache
    assert (root / "target" / "manifest.json").read_bytes() == first
    shutil.rmtree(root / "target")
    compile_ok(root)  # cold cache
    assert (root / "target" / "manifest.json").read_bytes() == first
    # a second copy of the project elsewhere gives the same bytes
    other = make_project(tmp_path / "q", SHOP)
    compile_ok(other)
    assert (other / "target" / "manifest.json").read_bytes() == first


def test_manifest_contents(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, SHOP)
    compile_ok(root)
    data = json.loads((root / "target" / "manifest.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert SCHEMA_VERSION.startswith("orch/manifest/v")
    assert data["project"]["name"] == "shop"
    node = data["nodes"]["customer_totals"]
    for key in ("resource_type", "path", "raw_code", "compiled_code", "config", "columns",
                "description", "fingerprint", "column_lineage", "depends_on"):  # fmt: skip
        assert key in node
    assert data["parents"]["customer_totals"] == ["stg_customers", "stg_orders"]
    assert data["children"]["stg_orders"] == ["customer_totals"]
    assert list(node["columns"]) == ["id", "name", "total"]
    assert Manifest.model_validate(data).nodes["customer_totals"].materialized == "table"


def test_failed_compile_keeps_previous_artifacts(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, SHOP)
    compile_ok(root)
    manifest_path = root / "target" / "manifest.json"
    before = manifest_path.read_bytes()
    compiled_before = sorted(p.as_posix() for p in (root / "target" / "compiled").rglob("*"))
    (root / "models" / "new.sql").write_text("select * from stg_ordrs")
    (root / "models" / "staging" / "stg_customers.sql").write_text("select id from raw_customers")
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert manifest_path.read_bytes() == before
    assert sorted(p.as_posix() for p in (root / "target" / "compiled").rglob("*")) == (
        compiled_before
    )
    stg = root / "target" / "compiled" / "models" / "staging" / "stg_customers.sql"
    assert "name" in stg.read_text()


def test_schema_qualified_reference_to_model(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path, {**SHOP, "models/m.sql": "select o.id from analytics.stg_orders o"}
    )
    code = compile_ok(root).nodes["m"].compiled_code
    table = parse_one(code).find(exp.Table)
    assert table is not None and (table.db, table.name, table.alias) == (
        "analytics",
        "stg_orders",
        "o",
    )
