"""Project loading: orch_project.yml, profiles.yml, discovery, properties and folder configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch.compiler.models import compile_project
from orch.config import RunOptions
from orch.errors import ConfigError, ProjectError
from orch.load.project import load_project
from orch.manifest import Manifest

from tests.conftest import DEFAULT_PROFILES_YML, MakeProject, run_cli


def compile_ok(root: Path, *args: str) -> Manifest:
    """Run ``orch compile`` and return the manifest it wrote."""
    run = run_cli("compile", "--project-dir", root, *args)
    assert run.exit_code == 0, run.output
    return Manifest.read(root / "target" / "manifest.json")


def compile_error(root: Path, *args: str) -> str:
    """Run ``orch compile`` expecting a user error; returns stderr (checked: one clean message)."""
    run = run_cli("compile", "--project-dir", root, *args)
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    assert run.stderr.startswith("Error: ")
    return run.stderr.strip()


# --------------------------------------------------------------------------- project file


@pytest.mark.parametrize(
    ("project_yml", "expected"),
    [
        (
            "name: shop\nprofile: shop\nmodel-path: [models]\n",
            "Error: orch_project.yml:3:1: unknown key 'model-path'. Did you mean 'model-paths'?",
        ),
        (
            "name: shop\nprofile: shop\nmodel-paths: models_folder\n",
            "Error: orch_project.yml:3:1: invalid value for 'model-paths': "
            "Input should be a valid list. Fix the setting",
        ),
        (
            "profile: shop\ndialect: duckdb\n",
            "Error: orch_project.yml:1:1: missing required key 'name'. Add it",
        ),
        (
            "name: shop\nprofile: shop\nvars:\n  a: [1, 2\n",
            "Error: orch_project.yml:5:1: invalid YAML: did not find expected ',' or ']'. "
            "Fix the YAML syntax at that position",
        ),
    ],
    ids=["unknown-key", "wrong-type", "missing-field", "invalid-yaml"],
)
def test_project_file_errors(make_project: MakeProject, tmp_path: Path, project_yml, expected):
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, project_yml=project_yml)
    assert compile_error(root) == expected
    assert not (root / "target" / "manifest.json").exists()


def test_nested_unknown_key_names_key_path_and_line(make_project: MakeProject, tmp_path: Path):
    project_yml = """\
    name: shop
    profile: shop
    schedules:
      nightly:
        job: all
        cron: "0 3 * * *"
        timezon: UTC
    """
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, project_yml=project_yml)
    assert compile_error(root) == (
        "Error: orch_project.yml:7:5: unknown key 'schedules.nightly.timezon'. "
        "Did you mean 'timezone'?"
    )


def test_several_config_errors_are_all_reported(make_project: MakeProject, tmp_path: Path):
    project_yml = "name: shop\nprofile: shop\nmodel-path: [models]\ntarget-paht: t\n"
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, project_yml=project_yml)
    lines = compile_error(root).splitlines()
    assert lines[0].startswith("Error: orch_project.yml:3:1: unknown key 'model-path'")
    assert lines[1].startswith("orch_project.yml:4:1: unknown key 'target-paht'")
    assert "Did you mean 'target-path'?" in lines[1]


# --------------------------------------------------------------------------- profiles


def test_profile_wrong_type(make_project: MakeProject, tmp_path: Path):
    profiles = DEFAULT_PROFILES_YML + "      threads: many\n"
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=profiles)
    assert compile_error(root) == (
        "Error: profiles.yml:8:7: invalid value for 'shop.outputs.dev.threads': "
        "Input should be a valid integer, unable to parse string as an integer. Fix the setting"
    )


def test_profile_missing_field(make_project: MakeProject, tmp_path: Path):
    profiles = """\
    shop:
      target: dev
      outputs:
        dev:
          type: snowflake
          schema: analytics
    """
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=profiles)
    assert compile_error(root) == (
        "Error: profiles.yml:4:5: missing required key 'shop.outputs.dev.account'. Add it"
    )


def test_profile_unknown_key(make_project: MakeProject, tmp_path: Path):
    profiles = DEFAULT_PROFILES_YML + "      treads: 4\n"
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=profiles)
    assert compile_error(root) == (
        "Error: profiles.yml:8:7: unknown key 'shop.outputs.dev.treads'. Did you mean 'threads'?"
    )


PROFILES_WITH_ENV = """\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('ORCH_TEST_DB_PATH', 'default.duckdb') }}"
      schema: "{{ env_var('ORCH_TEST_SCHEMA') }}"
"""


def test_env_var_in_profiles(make_project: MakeProject, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("ORCH_TEST_DB_PATH", raising=False)
    monkeypatch.setenv("ORCH_TEST_SCHEMA", "from_env")
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=PROFILES_WITH_ENV)
    project = load_project(RunOptions(project_dir=root))
    assert project.target.path == "default.duckdb"  # type: ignore[attr-defined]
    assert project.target.schema_ == "from_env"
    monkeypatch.setenv("ORCH_TEST_DB_PATH", "other.duckdb")
    assert load_project(RunOptions(project_dir=root)).target.path == "other.duckdb"  # type: ignore[attr-defined]


def test_missing_env_var_without_default(make_project: MakeProject, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("ORCH_TEST_SCHEMA", raising=False)
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=PROFILES_WITH_ENV)
    assert compile_error(root) == (
        "Error: profiles.yml:7:7: environment variable 'ORCH_TEST_SCHEMA' is not set "
        "(used by 'shop.outputs.dev.schema'). "
        "Set ORCH_TEST_SCHEMA, or give a default: env_var('ORCH_TEST_SCHEMA', 'value')"
    )


def test_target_selects_an_output(make_project: MakeProject, tmp_path: Path):
    profiles = DEFAULT_PROFILES_YML + (
        "    prod:\n      type: duckdb\n      path: prod.duckdb\n      schema: prod_schema\n"
    )
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=profiles)
    manifest = compile_ok(root, "--target", "prod")
    assert manifest.project.target_name == "prod"
    assert manifest.nodes["a"].relation.schema_name == "prod_schema"  # type: ignore[union-attr]
    assert compile_ok(root).nodes["a"].relation.schema_name == "analytics"  # type: ignore[union-attr]


def test_unknown_target(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"})
    assert compile_error(root, "--target", "deev") == (
        "Error: profiles.yml:3:3: target 'deev' is not defined in profile 'shop'. "
        "Did you mean 'dev'?"
    )


def test_profiles_dir(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path / "proj", {"models/a.sql": "select 1 as x"})
    (root / "profiles.yml").unlink()
    elsewhere = tmp_path / "profiles"
    elsewhere.mkdir()
    (elsewhere / "profiles.yml").write_text(
        DEFAULT_PROFILES_YML.replace("analytics", "elsewhere"), encoding="utf-8"
    )
    manifest = compile_ok(root, "--profiles-dir", str(elsewhere))
    assert manifest.project.schema_name == "elsewhere"


# --------------------------------------------------------------------------- project folder


def test_project_dir_does_not_exist(tmp_path: Path):
    missing = tmp_path / "nope"
    run = run_cli("compile", "--project-dir", missing)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        f"Error: project folder '{missing}' does not exist. Pass --project-dir pointing at a "
        "folder with orch_project.yml, or run 'orch init'"
    )
    assert not missing.exists()


def test_no_project_file(tmp_path: Path):
    (tmp_path / "models").mkdir()
    run = run_cli("compile", "--project-dir", tmp_path)
    assert run.exit_code == 2
    assert "no orch_project.yml (or dbt_project.yml)" in run.stderr
    assert "orch init" in run.stderr
    assert "Traceback" not in run.output


def test_empty_models_folder(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, {})
    (root / "models").mkdir()
    assert compile_error(root) == (
        "Error: orch_project.yml: no models found in models/. Add a .sql model file there "
        "(e.g. models/my_model.sql), or fix 'model-paths'"
    )
    assert not (root / "target").exists()


def test_duplicate_model_names_name_both_files(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {"models/staging/orders.sql": "select 1 as x", "models/marts/orders.sql": "select 2 as x"},
    )
    assert compile_error(root) == (
        "Error: models/staging/orders.sql: two files define the asset 'orders': "
        "models/marts/orders.sql and models/staging/orders.sql. Rename one of them "
        "(asset names are file stems and must be unique)"
    )


def test_duplicate_model_and_seed_name(make_project: MakeProject, tmp_path: Path):
    files = {"models/orders.sql": "select 1 as x", "seeds/orders.csv": "x\n1"}
    root = make_project(tmp_path, files)
    message = compile_error(root)
    assert "two files define the asset 'orders'" in message
    assert "models/orders.sql" in message and "seeds/orders.csv" in message


# --------------------------------------------------------------------------- properties


def test_properties_merged_onto_models(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            "seeds/raw_orders.csv": "id,amount\n1,10\n",
            "models/orders.sql": "select id, amount from raw_orders",
            "models/_orders.yml": """
                version: 2
                models:
                  - name: orders
                    description: One row per order.
                    tags: [finance]
                    group: sales
                    owner: ana@example.com
                    meta: {tier: gold}
                    config:
                      materialized: table
                    columns:
                      - name: id
                        description: The order id.
                        data_type: integer
                      - name: amount
                        description: In cents.
                        meta: {pii: false}
                """,
        },
    )
    node = compile_ok(root).nodes["orders"]
    assert node.description == "One row per order."
    assert node.tags == ["finance"]
    assert node.config.group == "sales"
    assert node.config.owner == "ana@example.com"
    assert node.config.meta == {"tier": "gold"}
    assert node.materialized == "table"
    assert node.patch_path == "models/_orders.yml"
    assert list(node.columns) == ["id", "amount"]
    assert node.columns["id"].description == "The order id."
    assert node.columns["id"].data_type == "integer"
    assert node.columns["amount"].meta == {"pii": False}


def test_unknown_key_in_properties(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            "models/orders.sql": "select 1 as id",
            "models/_orders.yml": """
                models:
                  - name: orders
                    descripton: typo
                """,
        },
    )
    assert compile_error(root) == (
        "Error: models/_orders.yml:3:5: unknown key 'models.0.descripton'. "
        "Did you mean 'description'?"
    )


def test_unknown_config_key_in_properties(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            "models/orders.sql": "select 1 as id",
            "models/_orders.yml": """
                models:
                  - name: orders
                    config:
                      materialised: table
                """,
        },
    )
    assert compile_error(root) == (
        "Error: models/_orders.yml:4:7: unknown config key 'materialised'. "
        "Did you mean 'materialized'?"
    )


def test_wrong_materialization_value(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path, {"models/orders.sql": "{{ config(materialized='tabel') }}\nselect 1 as id"}
    )
    message = compile_error(root)
    assert message.startswith("Error: models/orders.sql:1:11: invalid config for 'orders': ")
    assert "'materialized'" in message and "'view', 'table', 'incremental'" in message


# --------------------------------------------------------------------------- folder configs


FOLDER_PROJECT = """\
name: shop
profile: shop
models:
  shop:
    +materialized: table
    +tags: [all]
    staging:
      +materialized: view
      +tags: [staging]
      legacy:
        +materialized: ephemeral
    marts:
      +schema: marts
"""


def test_folder_configs_nested_override(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            "models/top.sql": "select 1 as x",
            "models/staging/stg.sql": "select 1 as x",
            "models/staging/legacy/old.sql": "select 1 as x",
            "models/marts/mart.sql": "select * from stg join old on true",
        },
        project_yml=FOLDER_PROJECT,
    )
    nodes = compile_ok(root).nodes
    assert nodes["top"].materialized == "table"
    assert nodes["stg"].materialized == "view"
    assert nodes["old"].materialized == "ephemeral"
    assert nodes["mart"].materialized == "table"
    assert nodes["top"].tags == ["all"]
    assert nodes["stg"].tags == ["all", "staging"]
    assert nodes["old"].tags == ["all", "staging"]
    assert nodes["mart"].relation.schema_name == "analytics_marts"  # type: ignore[union-attr]


def test_folder_configs_without_project_level(make_project: MakeProject, tmp_path: Path):
    project_yml = "name: shop\nprofile: shop\nmodels:\n  staging:\n    +materialized: table\n"
    root = make_project(
        tmp_path, {"models/staging/stg.sql": "select 1 as x"}, project_yml=project_yml
    )
    assert compile_ok(root).nodes["stg"].materialized == "table"


def test_precedence_config_over_yaml_over_folder(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            "models/staging/a.sql": "select 1 as x",  # folder only
            "models/staging/b.sql": "select 1 as x",  # folder + YAML
            "models/staging/c.sql": "{{ config(materialized='incremental') }}\nselect 1 as x",
            "models/staging/_props.yml": """
                models:
                  - name: b
                    config: {materialized: table}
                  - name: c
                    config: {materialized: table, tags: [from_yaml]}
                """,
        },
        project_yml=FOLDER_PROJECT,
    )
    nodes = compile_ok(root).nodes
    assert nodes["a"].materialized == "view"
    assert nodes["b"].materialized == "table"
    assert nodes["c"].materialized == "incremental"
    assert nodes["c"].tags == ["all", "staging", "from_yaml"]


# --------------------------------------------------------------------------- sources, seeds


def test_sources_declared_in_yaml(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            "models/_sources.yml": """
                sources:
                  - name: shopify
                    schema: raw_shopify
                    description: The shop.
                    tables:
                      - name: orders
                        identifier: shopify_orders
                        columns:
                          - name: id
                          - name: total
                """,
            "models/stg_orders.sql": "select id, total from {{ source('shopify', 'orders') }}",
        },
    )
    manifest = compile_ok(root)
    src = manifest.nodes["shopify.orders"]
    assert src.resource_type == "source"
    assert src.relation.schema_name == "raw_shopify"  # type: ignore[union-attr]
    assert src.relation.identifier == "shopify_orders"  # type: ignore[union-attr]
    assert list(src.columns) == ["id", "total"]
    assert manifest.nodes["stg_orders"].depends_on == ["shopify.orders"]
    assert '"raw_shopify"."shopify_orders"' in manifest.nodes["stg_orders"].compiled_code


def test_seeds_registered(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            "seeds/country_codes.csv": "code,name\nFR,France\n",
            "seeds/_seeds.yml": """
                seeds:
                  - name: country_codes
                    description: ISO codes.
                """,
            "models/countries.sql": "select code from country_codes",
        },
    )
    manifest = compile_ok(root)
    seed = manifest.nodes["country_codes"]
    assert seed.resource_type == "seed"
    assert seed.path == "seeds/country_codes.csv"
    assert seed.description == "ISO codes."
    assert list(seed.columns) == ["code", "name"]
    assert seed.materialized == "table"
    assert manifest.nodes["countries"].depends_on == ["country_codes"]


# --------------------------------------------------------------------------- vars


def test_cli_vars_override_project_vars(make_project: MakeProject, tmp_path: Path):
    project_yml = "name: shop\nprofile: shop\nvars:\n  min_amount: 5\n  region: eu\n"
    root = make_project(
        tmp_path,
        {"models/a.sql": "select {{ var('min_amount') }} as m, '{{ var('region') }}' as r"},
        project_yml=project_yml,
    )
    assert "select 5 as m, 'eu' as r" in compile_ok(root).nodes["a"].compiled_code
    manifest = compile_ok(root, "--vars", '{"min_amount": 7}')
    assert "select 7 as m, 'eu' as r" in manifest.nodes["a"].compiled_code


def test_bad_vars_option(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"})
    run = run_cli("compile", "--project-dir", root, "--vars", "[1, 2]")
    assert run.exit_code == 2
    assert "Invalid value for '--vars'" in run.stderr
    assert "Traceback" not in run.output


def test_load_errors_are_user_errors(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, project_yml="name: [x\n")
    with pytest.raises(ConfigError):
        compile_project(RunOptions(project_dir=root))
    with pytest.raises(ProjectError):
        load_project(RunOptions(project_dir=tmp_path / "missing"))
