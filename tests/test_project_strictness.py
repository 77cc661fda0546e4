"""What the README promises to reject: unknown folder ``+keys`` and refs to unknown projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from orch.load.project import folder_key_errors
from orch.yamldoc import load_yaml

from tests.conftest import MakeProject, run_cli
from tests.dbt.conftest import FIXTURES, load_raw_batches


def user_error(root: Path, command: str = "build") -> str:
    """Run ``orch <command>`` expecting a user error: exit 2, no traceback, nothing built."""
    run = run_cli(command, "--project-dir", root)
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    assert not (root / "warehouse.duckdb").exists()
    return run.stderr.strip()


def relation_types(root: Path) -> dict[str, str]:
    """table_name -> BASE TABLE / VIEW in the project's DuckDB file."""
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select table_name, table_type from information_schema.tables"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


MARTS = {
    "models/staging/stg_orders.sql": "select 1 as order_id, 10 as amount",
    "models/marts/orders.sql": "select * from stg_orders",
}


# --------------------------------------------------------------------------- folder +keys


def test_a_misspelt_folder_key_is_an_error(make_project: MakeProject, tmp_path: Path) -> None:
    project_yml = """\
    name: shop
    profile: shop
    models:
      shop:
        marts:
          +materialised: table
    """
    root = make_project(tmp_path, MARTS, project_yml=project_yml)
    assert user_error(root) == (
        "Error: orch_project.yml:6:7: unknown config key '+materialised' in 'models.shop.marts'. "
        "Did you mean '+materialized'?"
    )


def test_every_unknown_folder_key_is_reported(make_project: MakeProject, tmp_path: Path) -> None:
    project_yml = """\
    name: shop
    profile: shop
    models:
      +tagz: [a]
      shop:
        staging:
          +shema: raw
    seeds:
      +colum_types: {id: integer}
    """
    root = make_project(tmp_path, MARTS, project_yml=project_yml)
    assert user_error(root, "compile").splitlines() == [
        "Error: orch_project.yml:4:3: unknown config key '+tagz' in 'models'. "
        "Did you mean '+tags'?",
        "orch_project.yml:7:7: unknown config key '+shema' in 'models.shop.staging'. "
        "Did you mean '+schema'?",
        "orch_project.yml:9:3: unknown config key '+colum_types' in 'seeds'. "
        "Did you mean '+column_types'?",
    ]


def test_dbt_folder_keys_stay_accepted(make_project: MakeProject, tmp_path: Path) -> None:
    project_yml = """\
    name: shop
    profile: shop
    models:
      shop:
        +persist_docs: {relation: true}
        +grants: {select: [reporter]}
        +pre-hook: []
        +post-hook: []
        +on_schema_change: ignore
        +contract: {enforced: false}
        +access: protected
        +sql_header: ""
        +event_time: created_at
        +batch_size: day
        +docs: {show: true}
        +meta: {owner: data}
        staging:
          +materialized: view
          +schema: main
          +tags: [staging]
          +enabled: true
          +full_refresh: false
        marts:
          +materialized: table
          +group: commerce
          +alias: null
          +unique_key: order_id
          +incremental_strategy: merge
          +transient: false
          +cluster_by: [order_id]
    seeds:
      +quote_columns: false
      +delimiter: ","
      +column_types: {id: integer}
    data_tests:
      +severity: warn
      +store_failures: false
    """
    root = make_project(tmp_path, MARTS, project_yml=project_yml)
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    types = relation_types(root)
    assert types["orders"] == "BASE TABLE"
    assert types["stg_orders"] == "VIEW"


def test_the_dbt_fixture_project_keys_pass_the_orch_check() -> None:
    doc = load_yaml(FIXTURES / "coffee_dbt" / "dbt_project.yml", "dbt_project.yml")
    assert folder_key_errors(doc, doc.data) == []


def test_a_dbt_project_keeps_its_unknown_folder_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt itself accepts any ``+key`` (it lands in the node's config): so does orch for dbt."""
    project = tmp_path / "coffee_dbt"
    shutil.copytree(FIXTURES / "coffee_dbt", project)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR", "COFFEE_REGION", "COFFEE_CI_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(project)
    load_raw_batches(project / "coffee.duckdb")
    text = (project / "dbt_project.yml").read_text()
    text = text.replace(
        "    +materialized: table\n", "    +materialized: table\n    +my_team_key: 1\n", 1
    )
    assert "+my_team_key" in text
    (project / "dbt_project.yml").write_text(text)
    run = run_cli("build", "--project-dir", project)
    assert run.exit_code == 0, run.output


# --------------------------------------------------------------------------- ref('project', 'm')


def test_a_ref_to_an_unknown_project_is_an_error(make_project: MakeProject, tmp_path: Path) -> None:
    files = {
        "models/a.sql": "select 1 as x",
        "models/b.sql": (
            "select x\nfrom {{ ref('a') }}\njoin {{ ref('other_project', 'a') }} using (x)\n"
        ),
    }
    root = make_project(tmp_path, files)
    assert user_error(root) == (
        "Error: models/b.sql:3:9: ref('other_project', 'a') names the project 'other_project', "
        "which orch does not know. The only known project is 'shop' (this one; orch does not "
        "install dbt packages): write ref('a')"
    )


def test_a_ref_to_an_unknown_project_in_full_jinja(
    make_project: MakeProject, tmp_path: Path
) -> None:
    files = {
        "models/a.sql": "select 1 as x",
        "models/b.sql": (
            "select 1 as x\n{% if var('more', true) %}\n"
            "union all select x from {{ ref('elsewhere', 'a') }}\n{% endif %}\n"
        ),
    }
    root = make_project(tmp_path, files)
    assert user_error(root) == (
        "Error: models/b.sql:3:28: ref('elsewhere', 'a') names the project 'elsewhere', which "
        "orch does not know. The only known project is 'shop' (this one; orch does not install "
        "dbt packages): write ref('a')"
    )


def test_a_ref_naming_the_project_itself_resolves_locally(
    make_project: MakeProject, tmp_path: Path
) -> None:
    files = {
        "models/a.sql": "select 1 as x",
        "models/b.sql": "select x + 1 as y from {{ ref('shop', 'a') }}",
    }
    root = make_project(tmp_path, files)
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("select y from analytics.b").fetchall() == [(2,)]
    finally:
        con.close()
