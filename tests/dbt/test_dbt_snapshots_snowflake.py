"""dbt snapshots on a Snowflake target: the statements orch sends (dbt's default
``snapshot_merge_sql``: one MERGE) and a first build on fakesnow.

fakesnow emulates MERGE with a temporary table it cannot create inside a transaction, so the
incremental statements are checked as text here (a real account runs them); the first build
(``create table as`` the snapshot query) runs on fakesnow.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import fakesnow
import pytest
import snowflake.connector
from orch.adapters import get_adapter
from orch.compiler.models import compile_project
from orch.config import RunOptions
from orch.run.snapshots import SnapshotSql

from tests.dbt.conftest import FIXTURES, RunOrch

PROFILE = """\
snap:
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


@pytest.fixture
def snow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fixtures/snap_dbt with a Snowflake profile and without its DuckDB-only parts."""
    project = tmp_path / "snap_dbt"
    shutil.copytree(FIXTURES / "snap_dbt", project)
    (project / "profiles.yml").write_text(PROFILE, encoding="utf-8")
    (project / "models" / "tier_counts.py").unlink()  # dbt-duckdb's Python models only
    schema = project / "models" / "schema.yml"
    schema.write_text(schema.read_text().split("  - name: tier_counts")[0], encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(project)
    return project


def test_snapshot_statements_on_snowflake(snow: Path):
    compiled = compile_project(RunOptions(project_dir=snow))
    node = compiled.manifest.nodes["products_snapshot"]
    assert node.relation is not None
    assert (node.relation.schema_name, node.relation.identifier) == (
        "ANALYTICS_HISTORY",
        "PRODUCTS_SNAPSHOT",
    )
    adapter = get_adapter(compiled.project.target, snow)  # never opened: text only
    gen = SnapshotSql(node, adapter)
    strategy = gen.strategy(['"PRICE"'], column_added=False)
    now = "to_timestamp_ntz(convert_timezone('UTC', current_timestamp()))"
    assert strategy.updated_at == now
    assert strategy.scd_id == (f"md5(coalesce(cast(sku as varchar ), '') || '|' || "
                               f"coalesce(cast({now} as varchar ), ''))")  # fmt: skip
    first = gen.build_table("select 1", strategy)
    assert f"coalesce(nullif({now}, {now}), null) as dbt_valid_to" in first
    assert "'False' as dbt_is_deleted" in first  # hard_deletes: new_record
    target = adapter.render(node.relation.to_relation())
    assert target == '"SHOP_DB"."ANALYTICS_HISTORY"."PRODUCTS_SNAPSHOT"'
    [merge] = gen.merge(target, '"SHOP_DB"."ANALYTICS_HISTORY"."STAGED"', ['"SKU"', '"PRICE"'])
    assert merge == (
        f"merge into {target} as DBT_INTERNAL_TARGET using "
        '"SHOP_DB"."ANALYTICS_HISTORY"."STAGED" as DBT_INTERNAL_SOURCE on '
        "DBT_INTERNAL_SOURCE.dbt_scd_id = DBT_INTERNAL_TARGET.dbt_scd_id when matched and "
        "DBT_INTERNAL_TARGET.dbt_valid_to is null and DBT_INTERNAL_SOURCE.dbt_change_type in "
        "('update', 'delete') then update set dbt_valid_to = DBT_INTERNAL_SOURCE.dbt_valid_to "
        "when not matched and DBT_INTERNAL_SOURCE.dbt_change_type = 'insert' then insert "
        '("SKU", "PRICE") values (DBT_INTERNAL_SOURCE."SKU", DBT_INTERNAL_SOURCE."PRICE")'
    )


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow's
def test_first_snapshot_build_on_fakesnow(snow: Path, orch: RunOrch):
    with fakesnow.patch():
        result = orch("build", "--project-dir", str(snow), "-s", "+customers_snapshot")
        assert result.exit_code == 0, result.output + result.stderr
        con = snowflake.connector.connect(account="fakesnow", user="orch", password="secret",
                                          database="shop_db")  # fmt: skip
        rows = (
            con.cursor()
            .execute(
                "select id, tier, dbt_valid_from = updated_at, dbt_valid_to is null "
                "from snapshots.customers_snapshot order by id"
            )
            .fetchall()
        )
    assert rows == [(1, "gold", True, True), (2, "silver", True, True), (3, "bronze", True, True)]
