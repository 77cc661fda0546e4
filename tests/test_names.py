"""The one identifier rule (``orch.names.normalize_identifier``) and the SQL that follows it.

Snowflake stores an unquoted name in upper case and compares quoted names exactly, so every
column orch names in SQL it builds must be the stored spelling; DuckDB ignores case.
"""

from __future__ import annotations

import pytest
from orch.compiler.settings import ModelSettings
from orch.manifest import Manifest
from orch.names import column, normalize_identifier, normalize_name
from sqlglot import exp

from tests.conftest import MakeProject, run_cli
from tests.test_compile import SNOWFLAKE_PROFILES

CASES = [
    ("ordered_at", "snowflake", "ORDERED_AT"),
    ("Ordered_At", "snowflake", "ORDERED_AT"),
    ('"orderedAt"', "snowflake", "orderedAt"),
    ('"say ""hi"""', "snowflake", 'say "hi"'),
    ("Order Total", "snowflake", "Order Total"),  # only ever written quoted: keeps its case
    ("ordered_at", "duckdb", "ordered_at"),
    ("ORDERED_AT", "duckdb", "ordered_at"),
    ('"orderedAt"', "duckdb", "orderedat"),  # case-insensitive: quoting changes nothing
    ("ordered_at", "postgres", "ordered_at"),
    ('"OrderedAt"', "postgres", "OrderedAt"),
]


@pytest.mark.parametrize(
    ("name", "dialect", "stored"), CASES, ids=[f"{d}:{n}" for n, d, _ in CASES]
)
def test_normalize_identifier(name: str, dialect: str, stored: str) -> None:
    ident = normalize_identifier(name, dialect)
    assert ident.quoted
    assert ident.name == stored
    assert normalize_name(name, dialect) == stored


def test_an_identifier_from_parsed_sql_keeps_its_quoting() -> None:
    quoted = exp.to_identifier("orderedAt", quoted=True)
    plain = exp.to_identifier("orderedAt", quoted=False)
    assert normalize_identifier(quoted, "snowflake").sql("snowflake") == '"orderedAt"'
    assert normalize_identifier(plain, "snowflake").sql("snowflake") == '"ORDEREDAT"'
    assert normalize_identifier(quoted, "snowflake") is not normalize_identifier(
        quoted, "snowflake"
    )


def test_column_is_qualified_by_an_alias_as_written() -> None:
    assert column("order_id", "snowflake", "child").sql("snowflake") == '"child"."ORDER_ID"'


def test_relation_names_use_the_same_rule(make_project: MakeProject, tmp_path) -> None:
    """``ModelSettings.normalize`` (relations) and the adapters' ``normalize_name`` agree."""
    from orch.adapters.snowflake import SnowflakeAdapter
    from orch.config import SnowflakeTargetConfig

    adapter = SnowflakeAdapter(SnowflakeTargetConfig(account="a", user="u"), tmp_path)
    for name in ("stg_orders", '"Mixed"', "_orch"):
        assert adapter.normalize_name(name) == normalize_name(name, "snowflake")
    assert ModelSettings.normalize.__doc__ and "orch.names" in ModelSettings.normalize.__doc__


def test_snowflake_compile_names_partition_and_check_columns_as_stored(
    make_project: MakeProject, tmp_path
) -> None:
    """Checks and the window filter of an upstream read name ``"ORDERED_AT"``, never
    ``"ordered_at"``; a column quoted in YAML, or in the model's SQL, keeps its case."""
    daily = "{'grain': 'daily', 'start': '2024-01-01', 'column': 'ordered_at'}"
    quoted = "{'grain': 'daily', 'start': '2024-01-01', 'column': 'orderedAt'}"
    root = make_project(
        tmp_path,
        {
            "seeds/raw_orders.csv": "order_id,ordered_at\n1,2024-01-01 10:00:00\n",
            "models/fct_orders.sql": f"""
                {{{{ config(materialized='incremental', partitioned_by={daily}) }}}}
                select order_id, ordered_at, 1 as "lineCount" from raw_orders
                where ordered_at >= {{{{ partition.start }}}}
                  and ordered_at < {{{{ partition.end }}}}
                """,
            "models/customer_days.sql": f"""
                {{{{ config(materialized='incremental', partitioned_by={daily}) }}}}
                select min(ordered_at) as ordered_at, count(*) as n from fct_orders
                """,
            "models/quoted_days.sql": f"""
                {{{{ config(materialized='incremental', partitioned_by={quoted}) }}}}
                select ordered_at as "orderedAt" from fct_orders
                where ordered_at >= {{{{ partition.start }}}}
                  and ordered_at < {{{{ partition.end }}}}
                """,
            "models/quoted_reader.sql": f"""
                {{{{ config(materialized='incremental', partitioned_by={quoted}) }}}}
                select "orderedAt" from quoted_days
                """,
            "models/_models.yml": """
                models:
                  - name: fct_orders
                    columns:
                      - name: order_id
                        checks: [not_null, unique]
                      - name: '"lineCount"'
                        checks: [not_null]
                  - name: quoted_days
                    columns:
                      - name: orderedat
                        checks: [not_null]
                """,
        },
        profiles_yml=SNOWFLAKE_PROFILES,
    )
    run = run_cli("compile", "--project-dir", root, "--target", "sf")
    assert run.exit_code == 0, run.output
    manifest = Manifest.read(root / "target" / "manifest.json")
    upstream_read = manifest.nodes["customer_days"].compiled_code
    assert "\"ORDERED_AT\" >= CAST('__orch_partition_start__' AS TIMESTAMPNTZ)" in upstream_read
    assert '"ordered_at"' not in upstream_read
    checks = {c.check_type + ":" + (c.column or ""): c.sql for c in manifest.checks.values()}
    assert '"ORDER_ID" IS NULL' in checks["not_null:order_id"]
    assert 'COUNT(*) AS "N_RECORDS"' in checks["unique:order_id"]
    assert '"lineCount" IS NULL' in checks['not_null:"lineCount"']
    # written unquoted in YAML, quoted in the model's SQL: the SQL's spelling wins
    assert '"orderedAt" IS NULL' in checks["not_null:orderedat"]
    reader = manifest.nodes["quoted_reader"].compiled_code
    assert "\"orderedAt\" >= CAST('__orch_partition_start__' AS TIMESTAMPNTZ)" in reader
