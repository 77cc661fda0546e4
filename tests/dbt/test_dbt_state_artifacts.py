"""dbt's manifest.json as orch writes it: what ``dbt ls -s state:modified --state`` compares.

dbt calls a node modified when its ``raw_code``, ``unrendered_config``, ``fqn``, seed checksum
or a macro it calls (``depends_on.macros``, then those macros' own, each compared by
``macro_sql``) differs from the state's manifest. The expected values are the ones dbt-core 1.11
(dbt-duckdb 1.11) writes for the same fixture projects; ``bench/compare_dbt.py`` runs
``dbt ls -s state:modified`` itself against orch's artifacts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from orch.compiler.dbt_macros import builtin_macros, toplevel_blocks

from tests.dbt.conftest import STUB_GENERIC_TESTS, RunOrch, copy_fixture, without_hash


def compile_dbt_manifest(orch: RunOrch, project: Path, target: str = "target") -> dict[str, Any]:
    """``orch compile`` the project and read dbt's manifest.json it writes."""
    result = orch("compile", "--project-dir", str(project))
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads((project / target / "manifest.json").read_text())


def by_name(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The nodes by unique_id without a test's hash suffix."""
    return {without_hash(uid): node for uid, node in manifest["nodes"].items()}


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch) -> Path:
    """A copy of ``fixtures/shop_dbt`` with its local package installed (``orch deps``)."""
    project = copy_fixture("shop_dbt", tmp_path, monkeypatch, unset=("SHOP_TARGET_PATH",))
    assert orch("deps", "--project-dir", str(project)).exit_code == 0
    return project


def test_macros_are_listed_with_dbt_s_macro_sql(shop: Path, orch: RunOrch, stub_dbt: Path):
    manifest = compile_dbt_manifest(orch, shop)
    macros = manifest["macros"]
    # the root project's macro: the block's text, cut as dbt cuts it
    assert macros["macro.shop_dbt.kit_label"]["macro_sql"] == (
        "{% macro kit_label(text) -%}\n    upper({{ text }})\n{%- endmacro %}"
    )
    assert macros["macro.shop_dbt.kit_label"]["original_file_path"] == "macros/labels.sql"
    # a package's macro: '-%}' takes the whitespace after it, the file is read stripped
    surrogate = macros["macro.kit_utils.surrogate_key"]
    assert surrogate["macro_sql"] == (
        "{%- macro surrogate_key(field_list) -%}\n"
        "    {{ return(adapter.dispatch('surrogate_key', 'kit_utils')(field_list)) }}\n"
        "{%- endmacro -%}\n\n"
    )
    assert surrogate["path"] == "macros/surrogate_key.sql"
    # a {% test %} block is the macro test_<name>
    assert macros["macro.kit_utils.test_at_least"]["macro_sql"].startswith(
        "{% test at_least(model, column_name, min_value) %}"
    )
    # dbt's own macros (the 'dbt' and 'dbt_duckdb' packages), from the installed dbt's files
    assert macros["macro.dbt.test_unique"]["macro_sql"] == STUB_GENERIC_TESTS.splitlines()[0]
    assert macros["macro.dbt.test_unique"]["path"] == "tests/generic/builtin.sql"
    packages = {m["package_name"] for m in macros.values()}
    assert packages == {"dbt", "dbt_duckdb", "shop_dbt", "kit_utils", "kit_dates"}


def test_depends_on_macros_as_dbt_records_them(shop: Path, orch: RunOrch, stub_dbt: Path):
    manifest = compile_dbt_manifest(orch, shop)
    nodes, macros = by_name(manifest), manifest["macros"]
    # the macros the model calls, in the order they run; the root's kit_label wins
    assert nodes["model.shop_dbt.stg_orders"]["depends_on"]["macros"] == [
        "macro.kit_utils.surrogate_key", "macro.kit_utils.cents_to_amount",
        "macro.kit_dates.day_name", "macro.shop_dbt.kit_label",
    ]  # fmt: skip
    assert nodes["model.shop_dbt.order_summary"]["depends_on"]["macros"] == []
    # a macro's: adapter.dispatch resolved with the project's dispatch: search order
    assert macros["macro.kit_dates.day_name"]["depends_on"]["macros"] == [
        "macro.shop_dbt.duckdb__day_name"
    ]
    assert macros["macro.kit_utils.cents_to_amount"]["depends_on"]["macros"] == [
        "macro.kit_utils.duckdb__cents_to_amount"
    ]
    assert macros["macro.kit_utils.default__surrogate_key"]["depends_on"]["macros"] == [
        "macro.dbt.type_string", "macro.dbt.hash", "macro.dbt.concat",
    ]  # fmt: skip
    # generic tests: the test's macro (and get_where_subquery, but not for dbt's own
    # not_null and unique, which dbt parses without rendering)
    assert nodes["test.shop_dbt.kit_utils_at_least_order_summary_amount__1"]["depends_on"][
        "macros"
    ] == ["macro.kit_utils.test_at_least", "macro.dbt.get_where_subquery"]
    assert nodes["test.shop_dbt.not_null_stg_orders_order_key"]["depends_on"]["macros"] == [
        "macro.dbt.test_not_null"
    ]


def test_dbt_s_own_tests_are_named_without_an_installed_dbt(
    shop: Path, orch: RunOrch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """dbt's four generic tests are dbt's macros even where dbt-core is not installed (as dbt
    parse lists them: not_null alone; a relationships test with get_where_subquery), and every
    test carries dbt's ``group`` (None) — dbt-project-evaluator reads both from the graph."""
    monkeypatch.delenv("ORCH_DBT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no dbt anywhere
    nodes = by_name(compile_dbt_manifest(orch, shop))
    not_null = nodes["test.shop_dbt.not_null_stg_orders_order_key"]
    assert not_null["depends_on"]["macros"] == ["macro.dbt.test_not_null"]
    assert not_null["group"] is None and not_null["config"]["group"] is None
    assert not_null["doc_blocks"] == [] and not_null["relation_name"] is None


def test_unrendered_config_of_package_nodes_and_tests(shop: Path, orch: RunOrch):
    nodes = by_name(compile_dbt_manifest(orch, shop))
    # the package's own dbt_project.yml, then the root project's block for the package
    assert nodes["model.kit_utils.kit_currency_labels"]["unrendered_config"] == {
        "materialized": "view", "schema": "kit",
    }  # fmt: skip
    assert nodes["model.kit_dates.kit_calendar"]["unrendered_config"] == {"materialized": "table"}
    assert nodes["seed.kit_utils.kit_currencies"]["unrendered_config"] == {"schema": "kit"}
    # a generic test's YAML config: in its raw_code as a config() call, and unrendered
    test = nodes["test.shop_dbt.kit_utils_at_least_order_summary_amount__1"]
    assert test["raw_code"] == (
        '{{ kit_utils.test_at_least(**_dbt_generic_test_kwargs) }}{{ config(severity="warn") }}'
    )
    assert test["unrendered_config"] == {"severity": "warn"}


def test_generic_tests_long_names_hooks_and_sources(coffee: Path, orch: RunOrch, stub_dbt: Path):
    manifest = compile_dbt_manifest(orch, coffee, "build_artifacts")
    nodes = by_name(manifest)
    # a name of 64 characters or more: dbt's hashed alias, in config, raw_code and unrendered
    name = "test.coffee_dbt.relationships_stg_orders_customer_id__customer_id__ref_stg_customers_"
    alias = "relationships_stg_orders_96411fe0c89b49c3f4da955dfd358ba0"
    assert nodes[name]["alias"] == alias and nodes[name]["config"]["alias"] == alias
    assert nodes[name]["unrendered_config"] == {"alias": alias}
    assert nodes[name]["raw_code"].endswith(f'{{{{ config(alias="{alias}") }}}}')
    where = "test.coffee_dbt.accepted_values_fct_orders_status__placed__shipped"
    assert nodes[where]["unrendered_config"] == {
        "severity": "warn", "where": "ordered_on < '2024-03-06'",
    }  # fmt: skip
    assert nodes["model.coffee_dbt.fct_orders"]["depends_on"]["macros"] == [
        "macro.coffee_dbt.to_cents", "macro.dbt.is_incremental",
    ]  # fmt: skip
    assert manifest["macros"]["macro.coffee_dbt.to_cents"]["macro_sql"] == (
        "{% macro to_cents(column) -%}\n    cast(round({{ column }} * 100) as integer)\n"
        "{%- endmacro %}"
    )
    # dbt lists the columns the YAML names (same_persisted_description compares them)
    assert list(nodes["model.coffee_dbt.revenue_by_day"]["columns"]) == ["revenue"]
    source = manifest["sources"]["source.coffee_dbt.roastery.roast_batches"]
    assert source["fqn"] == ["coffee_dbt", "staging", "roastery", "roast_batches"]
    assert source["path"] == "transform/staging/schema.yml"
    assert source["unrendered_config"] == {
        "loaded_at_field": None, "loaded_at_query": None, "meta": {}, "tags": [],
    }  # fmt: skip
    assert source["freshness"]["warn_after"] == {"count": None, "period": None}


def test_hooks_in_config_and_definition_config(bakery: Path, orch: RunOrch, stub_dbt: Path):
    nodes = by_name(compile_dbt_manifest(orch, bakery))
    # config(post_hook=[..., after_commit(...)]) replaces the folder's post-hook; after_commit
    # is recorded as the text dbt's macro renders
    sql = "insert into {{ target.schema }}_audit.run_log values ('committed', '{{ this.name }}', length('{{ invocation_id }}') > 0)"  # noqa: E501
    assert nodes["model.bakery_dbt.product_revenue"]["unrendered_config"]["post-hook"] == [
        "delete from {{ this }} where units = 0",
        "\n    \n    " + json.dumps({"sql": sql, "transaction": False}) + "\n\n",
    ]
    assert nodes["model.bakery_dbt.product_revenue"]["depends_on"]["macros"] == [
        "macro.dbt.after_commit"
    ]
    # a config() in the {% test %} definition joins the unrendered_config, not the raw_code
    test = nodes["test.bakery_dbt.at_most_share_product_revenue_revenue__category__0_5"]
    assert test["unrendered_config"] == {"severity": "warn"}
    assert test["raw_code"] == "{{ test_at_most_share(**_dbt_generic_test_kwargs) }}"


def test_snapshots_keep_their_block_text(snap: Path, orch: RunOrch):
    nodes = by_name(compile_dbt_manifest(orch, snap))
    snapshot = nodes["snapshot.snap_dbt.customers_snapshot"]
    # a {% snapshot %} block: its text as it is, fqn [project, file, snapshot]
    assert snapshot["raw_code"].startswith("\n\n{{\n    config(")
    assert snapshot["raw_code"].endswith("from {{ ref('customers') }}\n\n")
    assert snapshot["fqn"] == ["snap_dbt", "customers_snapshot", "customers_snapshot"]
    assert "materialized" not in snapshot["unrendered_config"]  # models: +materialized
    assert nodes["snapshot.snap_dbt.products_snapshot"]["fqn"] == ["snap_dbt", "products_snapshot"]


@pytest.mark.parametrize(
    ("text", "blocks"),
    [
        ("{% macro a() %}x{% endmacro %}", [("a", "{% macro a() %}x{% endmacro %}")]),
        # '{%-' takes the whitespace before it, '-%}' the whitespace after it
        ("x\n  {%- macro a() -%} 1 {%- endmacro -%}\n\n{% macro b() %}2{% endmacro %}\n",
         [("a", "\n  {%- macro a() -%} 1 {%- endmacro -%}\n\n"),
          ("b", "{% macro b() %}2{% endmacro %}")]),
        # '%}' inside a string or an expression ends nothing
        ("{% macro a(s='%}') %}{{ '{% endmacro %}' }}{% endmacro %}",
         [("a", "{% macro a(s='%}') %}{{ '{% endmacro %}' }}{% endmacro %}")]),
        ("{# {% macro no() %}{% endmacro %} #}{% test t(model) %}1{% endtest %}",
         [("test_t", "{% test t(model) %}1{% endtest %}")]),
        # a block never closed, a string never ended: no blocks (dbt refuses the file)
        ("{% macro a() %}x", []),
        ("{% macro a() %}{{ 'x }}{% endmacro %}", []),
    ],
    ids=["plain", "whitespace-control", "strings", "comment-and-test", "unclosed", "bad-string"],
)  # fmt: skip
def test_toplevel_blocks_cut_like_dbt(text: str, blocks: list[tuple[str, str]]):
    assert [(b.name, b.text) for b in toplevel_blocks(text)] == blocks


def test_builtin_macros_are_read_from_the_installed_dbt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """dbt's own macros come from the files of the dbt named by ORCH_DBT (a venv's dbt: its
    ``lib/python*/site-packages/dbt/include/<project>/``), cut like the project's."""
    include = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "dbt" / "include"
    for folder, name in (("global_project", "dbt"), ("duckdb", "dbt_duckdb"), ("x", "dbt_x")):
        (include / folder / "macros").mkdir(parents=True)
        (include / folder / "dbt_project.yml").write_text(f"name: {name}\nversion: 1.0\n")
    (include / "global_project" / "macros" / "a.sql").write_text(
        "{% macro now_sql() %}now(){% endmacro %}\n\n"
        "{% materialization table, default %}{{ return({}) }}{% endmaterialization %}\n"
    )
    (include / "global_project" / "tests" / "generic").mkdir(parents=True)
    (include / "global_project" / "tests" / "generic" / "builtin.sql").write_text(
        "{% test not_null(model, column_name) %}select 1{% endtest %}\n"
    )
    (include / "duckdb" / "macros" / "m.sql").write_text(
        "{% materialization incremental, adapter='duckdb', supported_languages=['sql', 'python'] %}"
        "x{% endmaterialization %}\n"
    )
    (include / "x" / "macros" / "m.sql").write_text("{% macro other() %}{% endmacro %}\n")
    (tmp_path / "venv" / "bin").mkdir()
    (tmp_path / "venv" / "bin" / "dbt").write_text("#!/bin/sh\n")
    monkeypatch.setenv("ORCH_DBT", str(tmp_path / "venv" / "bin" / "dbt"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no other dbt
    macros = builtin_macros("duckdb")
    assert sorted(macros) == [
        "macro.dbt.materialization_table_default",
        "macro.dbt.now_sql",
        "macro.dbt.test_not_null",
        "macro.dbt_duckdb.materialization_incremental_duckdb",
    ]  # the other adapter's package is not listed
    assert macros["macro.dbt.now_sql"]["macro_sql"] == "{% macro now_sql() %}now(){% endmacro %}"
    assert macros["macro.dbt.test_not_null"]["path"] == "tests/generic/builtin.sql"
    incremental = macros["macro.dbt_duckdb.materialization_incremental_duckdb"]
    assert incremental["supported_languages"] == ["sql", "python"]
    assert macros["macro.dbt.materialization_table_default"]["supported_languages"] == ["sql"]
    monkeypatch.delenv("ORCH_DBT")
    assert builtin_macros("duckdb") == {}  # no dbt installed: none listed


def test_unit_tests_carry_dbt_s_checksum(tmp_path: Path, monkeypatch, orch: RunOrch):
    # dbt compares a unit test by its checksum: sha256 of the repr of its model, given (a
    # fixture file's rows appended), expect and overrides; the values dbt 1.11 writes
    project = copy_fixture("unit_dbt", tmp_path, monkeypatch)
    unit_tests = compile_dbt_manifest(orch, project)["unit_tests"]
    checksums = {uid.rsplit(".", 1)[-1]: test["checksum"] for uid, test in unit_tests.items()}
    assert checksums["stg_orders_from_fixture"] == (  # csv fixture file
        "3d6e38243233c0236e26e1120e4510b0bd04859a66d5532e3f940fb6638a193c"
    )
    assert checksums["customer_totals_min_amount"] == (  # format: sql, overrides: vars
        "074760ad3f9e30df9e0f1f5ec244b2cfa61ab7a938015d970b165508f4ae8ce3"
    )
    assert checksums["fct_orders_incremental_new_rows"] == (  # given 'this', is_incremental
        "33d188c928ba3eb46589bf5b6c8fb53a2766e694101fd9e8bf0912dffe05f674"
    )


def test_a_time_spine_is_in_dbt_s_manifest(tmp_path: Path, orch: RunOrch):
    """A model's MetricFlow ``time_spine:`` as dbt 1.11 records it (custom_granularities always
    listed), None on the others: dbt-project-evaluator leaves the time spine out of its naming
    checks by this key (without it every model was left out)."""
    files = {
        "dbt_project.yml": "name: spine\nprofile: spine\n",
        "profiles.yml": "spine:\n  target: dev\n  outputs:\n    dev: {type: duckdb}\n",
        "models/all_days.sql": "select current_date as date_day",
        "models/other.sql": "select 1 as x",
        "models/_models.yml": "models:\n  - name: all_days\n    time_spine:\n"
        "      standard_granularity_column: date_day\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = orch("compile", "--project-dir", str(tmp_path), "--profiles-dir", str(tmp_path))
    assert result.exit_code == 0, result.output + result.stderr
    nodes = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"]
    assert nodes["model.spine.all_days"]["time_spine"] == {
        "standard_granularity_column": "date_day",
        "custom_granularities": [],
    }
    assert nodes["model.spine.other"]["time_spine"] is None
    assert nodes["model.spine.other"]["doc_blocks"] == []
