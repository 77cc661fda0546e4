"""dbt packages, ``adapter.dispatch``, ``orch deps`` and dbt_project.yml rendering.

The fixture ``fixtures/shop_dbt`` uses two packages shaped like dbt_utils and dbt_date:
``kit_utils`` (declared as a hub package, already installed in ``dbt_packages/`` as ``dbt deps``
leaves it) and ``kit_dates`` (``local: vendor/kit_dates``, installed by ``orch deps``). The
expected values are what ``dbt build`` (dbt-core 1.11, dbt-duckdb 1.11) writes for the same
project (``bench/compare_dbt.py --project shop_dbt`` shows 0 differences); each assertion
names the dbt rule it follows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.dbt.conftest import FIXTURES, RunOrch, Warehouse, without_hash


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/shop_dbt``; the current directory, ``HOME`` isolated."""
    project = tmp_path / "shop_dbt"
    shutil.copytree(FIXTURES / "shop_dbt", project)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR", "SHOP_TARGET_PATH", "SHOP_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(project)
    return project


def deps_and_build(orch: RunOrch, project: Path, *extra: str):
    deps = orch("deps", "--project-dir", str(project))
    assert deps.exit_code == 0, deps.output + deps.stderr
    result = orch("build", "--project-dir", str(project), *extra)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# --------------------------------------------------------------------------- orch deps


def test_deps_copies_local_packages_and_keeps_installed_hub_ones(shop: Path, orch: RunOrch):
    result = orch("deps", "--project-dir", str(shop))
    assert result.exit_code == 0, result.output
    assert "Installed kit_dates from vendor/kit_dates into dbt_packages/kit_dates" in result.output
    assert "Kept kit_utils (kit-labs/kit_utils): already installed" in result.output
    installed = shop / "dbt_packages" / "kit_dates"
    assert (installed / "macros" / "day_name.sql").read_text() == (
        shop / "vendor" / "kit_dates" / "macros" / "day_name.sql"
    ).read_text()
    # a second run replaces the copy with the current source
    (shop / "vendor" / "kit_dates" / "macros" / "extra.sql").write_text(
        "{% macro x() %}{% endmacro %}"
    )
    assert orch("deps", "--project-dir", str(shop)).exit_code == 0
    assert (installed / "macros" / "extra.sql").is_file()


def test_deps_refuses_to_download_a_hub_package(shop: Path, orch: RunOrch):
    shutil.rmtree(shop / "dbt_packages" / "kit_utils")
    result = orch("deps", "--project-dir", str(shop))
    assert result.exit_code == 2
    message = result.output + result.stderr
    assert "packages.yml:2:5: 'kit-labs/kit_utils' is a dbt Hub package" in message
    assert "orch does not download packages" in message
    assert "Run 'dbt deps'" in message and "Traceback" not in message
    assert not (shop / "dbt_packages" / "kit_dates").exists()  # nothing half-done


def test_a_package_not_installed_stops_the_build_at_its_line(shop: Path, orch: RunOrch):
    result = orch("build", "--project-dir", str(shop))  # kit_dates not installed yet
    assert result.exit_code == 2
    message = result.output + result.stderr
    assert "packages.yml:4:5: the package 'vendor/kit_dates' (local) is declared but not " \
        "installed in dbt_packages/" in message  # fmt: skip
    assert "Run 'orch deps'" in message and "'dbt deps'" in message


def test_packages_install_path_is_honoured(shop: Path, orch: RunOrch, tmp_path: Path):
    text = (shop / "dbt_project.yml").read_text()
    (shop / "dbt_project.yml").write_text(text + "packages-install-path: vendored\n")
    shutil.move(shop / "dbt_packages", shop / "vendored")
    deps_and_build(orch, shop)
    assert (shop / "vendored" / "kit_dates" / "dbt_project.yml").is_file()
    assert ("main", "kit_calendar", "TABLE") in Warehouse(shop / "shop.duckdb").relations()


# --------------------------------------------------------------------------- build


def test_package_models_and_seeds_land_where_dbt_puts_them(shop: Path, orch: RunOrch):
    deps_and_build(orch, shop)
    assert Warehouse(shop / "shop.duckdb").relations() == {
        # root seeds: +schema: raw
        ("main_raw", "orders", "TABLE"),
        # kit_utils' own project: +schema: kit, +materialized: table; the root's
        # `models: kit_utils: +materialized: view` wins over the package's own setting
        ("main_kit", "kit_currencies", "TABLE"),
        ("main_kit", "kit_currency_labels", "VIEW"),
        # kit_dates: +materialized: table, no schema
        ("main", "kit_calendar", "TABLE"),
        ("main", "stg_orders", "VIEW"),
        ("main", "order_summary", "TABLE"),
    }


def test_namespaced_macros_dispatch_and_builtins(shop: Path, orch: RunOrch):
    deps_and_build(orch, shop)
    db = Warehouse(shop / "shop.duckdb")
    rows = db.rows("select * from main.stg_orders order by order_id")
    # kit_utils.surrogate_key -> default__surrogate_key: dbt.hash(dbt.concat(...)) = md5 of the
    # fields cast to text, nulls as the var's default (a root model sees the root's vars)
    assert [r[0] for r in rows] == [md5("1-ada"), md5("2-bob"), md5("3-_kit_null_"), md5("4-cy")]
    # kit_utils.cents_to_amount dispatches to duckdb__cents_to_amount (a decimal(12,2))
    assert [r[4] for r in rows] == [Decimal("12.50"), Decimal("9.90"), Decimal("40.00"),
                                    Decimal("0.15")]  # fmt: skip
    # dispatch: kit_dates searches shop_dbt first: the root's duckdb__day_name ('%a') wins
    assert [r[6] for r in rows] == ["Fri", "Sat", "Mon", "Sat"]
    # an unqualified kit_label() in a root model is the root's own (upper)
    assert [r[7] for r in rows] == ["ADA", "BOB", None, "CY"]
    assert db.types("main.stg_orders")["amount"] == "DECIMAL(12,2)"


def test_a_package_model_sees_its_own_macros_and_scoped_vars(shop: Path, orch: RunOrch):
    deps_and_build(orch, shop)
    db = Warehouse(shop / "shop.duckdb")
    # kit_label() in a kit_utils model is kit_utils' (lower): the node's package comes first;
    # var('kit_null_token') is the root's `vars: kit_utils:` value, over the package default
    assert db.rows("select * from main_kit.kit_currency_labels order by 1") == [
        ("EUR", "euro", "<none>"),
        ("GBP", "pound sterling", "<none>"),
        ("USD", "us dollar", "<none>"),
    ]
    # kit_dates' calendar: its own scoped vars (21 days from 2024-02-26), dbt.date_trunc
    calendar = "select count(*), min(calendar_day), max(week_start) from main.kit_calendar"
    assert db.rows(calendar) == [(21, date(2024, 2, 26), date(2024, 3, 11))]


def test_two_argument_refs_and_package_generic_tests(shop: Path, orch: RunOrch):
    result = deps_and_build(orch, shop)
    db = Warehouse(shop / "shop.duckdb")
    assert db.rows("select order_id, currency_name, cast(week_start as varchar) "
                   "from main.order_summary order by 1") == [
        (1, "Euro", "2024-02-26"), (2, "US Dollar", "2024-02-26"),
        (3, "Euro", "2024-03-04"), (4, "Pound Sterling", "2024-03-04"),
    ]  # fmt: skip
    assert "PASS    check kit_utils_at_least_stg_orders_amount__0" in result.output
    assert (
        "WARN    check kit_utils_at_least_order_summary_amount__1 (1 failing rows)" in result.output
    )
    results = json.loads((shop / "target" / "run_results.json").read_text())["results"]
    status = {without_hash(r["unique_id"]): r["status"] for r in results}
    assert status["test.shop_dbt.kit_utils_at_least_order_summary_amount__1"] == "warn"
    # a package's nodes carry its name, as in dbt's unique_id
    assert status["model.kit_dates.kit_calendar"] == "success"
    assert status["seed.kit_utils.kit_currencies"] == "success"


def test_ref_naming_the_wrong_package_is_an_error(shop: Path, orch: RunOrch):
    model = shop / "models" / "marts" / "order_summary.sql"
    model.write_text(model.read_text().replace("ref('kit_dates', 'kit_calendar')",
                                               "ref('kit_utils', 'kit_calendar')"))  # fmt: skip
    assert orch("deps").exit_code == 0
    result = orch("build")
    assert result.exit_code == 2
    message = result.output + result.stderr
    assert "models/marts/order_summary.sql:" in message
    assert "ref('kit_utils', 'kit_calendar'): 'kit_calendar' is not in 'kit_utils' but in " \
        "'kit_dates'" in message  # fmt: skip


# --------------------------------------------------------------------------- dispatch errors


def test_dispatch_without_a_candidate_names_what_it_searched(shop: Path, orch: RunOrch):
    (shop / "macros" / "broken.sql").write_text(
        "{% macro shout(x) %}{{ return(adapter.dispatch('shout', 'kit_utils')(x)) }}{% endmacro %}"
    )
    (shop / "models" / "loud.sql").write_text("select {{ shout('1') }} as x\n")
    assert orch("deps").exit_code == 0
    result = orch("build")
    assert result.exit_code == 2
    message = result.output + result.stderr
    assert "no macro named 'shout' found within namespace 'kit_utils'" in message
    assert "'shop_dbt.duckdb__shout', 'shop_dbt.default__shout', 'kit_utils.duckdb__shout', " \
        "'kit_utils.default__shout'" in message  # fmt: skip
    assert "models/loud.sql" in message


def test_dispatch_config_must_name_namespace_and_order(shop: Path, orch: RunOrch):
    text = (shop / "dbt_project.yml").read_text()
    (shop / "dbt_project.yml").write_text(
        text.replace("    search_order: ['shop_dbt', 'kit_dates']\n", "")
    )
    assert orch("deps").exit_code == 0
    result = orch("build")
    assert result.exit_code == 2
    message = result.output + result.stderr
    assert "dbt_project.yml:21:5: each 'dispatch:' entry needs macro_namespace" in message


def test_an_unprovided_dbt_builtin_is_refused_by_name(shop: Path, orch: RunOrch):
    (shop / "models" / "arr.sql").write_text(
        "select {{ dbt.get_columns_in_query('select 1') }} as x\n"
    )
    assert orch("deps").exit_code == 0
    result = orch("build")
    assert result.exit_code == 2
    message = result.output + result.stderr
    assert "models/arr.sql:1" in message
    assert "dbt.get_columns_in_query() is not supported by orch" in message
    assert "the package 'dbt' has no macro named 'get_columns_in_query'" in message


# --------------------------------------------------------------------------- dbt_project.yml


def test_target_and_env_var_in_the_project_file(
    shop: Path, orch: RunOrch, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SHOP_TARGET_PATH", "artifacts")
    deps_and_build(orch, shop)
    manifest = json.loads((shop / "artifacts" / "orch_manifest.json").read_text())
    assert not (shop / "target").exists()
    # +tags: ["{{ target.name }}_staging"] rendered with the dev target
    assert "dev_staging" in manifest["nodes"]["stg_orders"]["config"]["tags"]


def test_a_secret_from_env_var_in_the_project_file_never_reaches_artifacts(
    shop: Path, orch: RunOrch, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SHOP_API_KEY", "s3cr3t-value-123")
    text = (shop / "dbt_project.yml").read_text()
    text = text.replace(
        "  shop_currency: EUR\n",
        "  shop_currency: EUR\n  api_key: \"{{ env_var('SHOP_API_KEY') }}\"\n",
    )
    (shop / "dbt_project.yml").write_text(text)
    model = shop / "models" / "marts" / "order_summary.sql"
    model.write_text(
        model.read_text().replace(
            "as report_currency", "as report_currency, length('{{ var(\"api_key\") }}') as key_len"
        )
    )
    deps_and_build(orch, shop)
    for path in (shop / "target").rglob("*"):
        if path.is_file():
            assert b"s3cr3t-value-123" not in path.read_bytes(), path
    # the value still reaches the warehouse
    assert Warehouse(shop / "shop.duckdb").rows(
        "select distinct key_len from main.order_summary"
    ) == [(16,)]


def test_flags_known_unknown_and_unsupported(shop: Path, orch: RunOrch):
    project_file = shop / "dbt_project.yml"
    original = project_file.read_text()
    assert orch("deps").exit_code == 0
    project_file.write_text(
        original.replace("flags:\n", "flags:\n  send_anonymus_usage_stats: false\n")
    )
    result = orch("build")
    assert result.exit_code == 0  # dbt accepts an unknown flag too
    assert "dbt_project.yml:10:3: 'send_anonymus_usage_stats' is not a flag dbt knows; it has " \
        "no effect (Did you mean 'send_anonymous_usage_stats'?)" in result.stderr  # fmt: skip
    project_file.write_text(original.replace("flags:\n", "flags:\n  fail_fast: true\n"))
    result = orch("build")
    assert result.exit_code == 2
    assert "dbt_project.yml:10:3: the dbt flag 'fail_fast: True': not supported by orch" \
        in result.output + result.stderr  # fmt: skip
    assert "--fail-fast" in result.output + result.stderr
    # dbt-expectations' integration tests: silencing a deprecation turns nothing into an error
    quiet = "flags:\n  warn_error_options:\n    silence: [TestsConfigDeprecation]\n"
    project_file.write_text(original.replace("flags:\n", quiet))
    assert orch("build").exit_code == 0
    loud = "flags:\n  warn_error_options:\n    include: all\n    silence: [Deprecations]\n"
    project_file.write_text(original.replace("flags:\n", loud))
    result = orch("build")
    assert result.exit_code == 2
    assert "the dbt flag 'warn_error_options: {'include': 'all'" in result.output + result.stderr
    project_file.write_text(original.replace("flags:\n", "flags:\n  partial_parse: maybe\n"))
    result = orch("build")
    assert result.exit_code == 2
    assert "the flag 'partial_parse' must be a bool, not 'maybe'" in result.output + result.stderr


# --------------------------------------------------------------------------- dbt's artifacts

RESULT_KEYS = ("status", "timing", "thread_id", "execution_time", "adapter_response", "message",
               "failures", "compiled", "compiled_code", "relation_name")  # fmt: skip


def test_dbt_manifest_and_run_results_in_dbt_schemas(shop: Path, orch: RunOrch):
    """The shape dbt-core's WritableManifest (v12) and RunResultsArtifact (v6) read
    (bench/compare_dbt.py loads them with dbt-core's own classes)."""
    deps_and_build(orch, shop)
    manifest = json.loads((shop / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["dbt_schema_version"] == (
        "https://schemas.getdbt.com/dbt/manifest/v12.json"
    )
    assert manifest["metadata"]["project_name"] == "shop_dbt"
    assert manifest["metadata"]["adapter_type"] == "duckdb"
    for key in ("nodes", "sources", "macros", "docs", "exposures", "metrics", "groups",
                "selectors", "disabled", "parent_map", "child_map", "group_map",
                "saved_queries", "semantic_models", "unit_tests"):  # fmt: skip
        assert key in manifest, key
    nodes = {without_hash(k): v for k, v in manifest["nodes"].items()}
    assert set(nodes) == {
        "model.shop_dbt.stg_orders", "model.shop_dbt.order_summary", "seed.shop_dbt.orders",
        "model.kit_utils.kit_currency_labels", "seed.kit_utils.kit_currencies",
        "model.kit_dates.kit_calendar",
        "test.shop_dbt.unique_stg_orders_order_key", "test.shop_dbt.not_null_stg_orders_order_key",
        "test.shop_dbt.kit_utils_at_least_stg_orders_amount__0",
        "test.shop_dbt.kit_utils_at_least_order_summary_amount__1",
    }  # fmt: skip
    summary = nodes["model.shop_dbt.order_summary"]
    assert sorted(summary["depends_on"]["nodes"]) == [
        "model.kit_dates.kit_calendar", "model.shop_dbt.stg_orders",
        "seed.kit_utils.kit_currencies",
    ]  # fmt: skip
    assert summary["fqn"] == ["shop_dbt", "marts", "order_summary"]
    assert summary["relation_name"] == '"shop"."main"."order_summary"'
    assert summary["config"]["materialized"] == "table"
    assert 'from "main"."stg_orders"' in summary["compiled_code"]
    labels = nodes["model.kit_utils.kit_currency_labels"]
    assert labels["package_name"] == "kit_utils"
    assert labels["original_file_path"] == "models/kit_currency_labels.sql"  # in its package
    assert labels["schema"] == "main_kit" and labels["config"]["materialized"] == "view"
    test = nodes["test.shop_dbt.kit_utils_at_least_order_summary_amount__1"]
    assert test["test_metadata"] == {
        "name": "at_least", "namespace": "kit_utils",
        "kwargs": {"column_name": "amount", "min_value": 1,
                   "model": "{{ get_where_subquery(ref('order_summary')) }}"},
    }  # fmt: skip
    assert test["attached_node"] == "model.shop_dbt.order_summary"
    assert test["config"]["severity"] == "WARN"
    assert sorted(map(without_hash, manifest["child_map"]["model.shop_dbt.stg_orders"])) == sorted([
        "model.shop_dbt.order_summary", "test.shop_dbt.unique_stg_orders_order_key",
        "test.shop_dbt.not_null_stg_orders_order_key",
        "test.shop_dbt.kit_utils_at_least_stg_orders_amount__0",
    ])  # fmt: skip
    # run_results.json names the same unique_ids, with the fields dbt's reader requires
    results = json.loads((shop / "target" / "run_results.json").read_text())
    assert results["metadata"]["dbt_schema_version"] == (
        "https://schemas.getdbt.com/dbt/run-results/v6.json"
    )
    for result in results["results"]:
        assert result["unique_id"] in manifest["nodes"]
        for key in RESULT_KEYS:
            assert key in result, (key, result)


def test_a_package_model_named_like_a_root_model_is_an_error(shop: Path, orch: RunOrch):
    (shop / "dbt_packages" / "kit_utils" / "models" / "stg_orders.sql").write_text("select 1\n")
    assert orch("deps").exit_code == 0
    result = orch("build")
    assert result.exit_code == 2
    assert "two files define the asset 'stg_orders': models/staging/stg_orders.sql and " \
        "dbt_packages/kit_utils/models/stg_orders.sql" in result.stderr  # fmt: skip


def override_package_seed(shop: Path) -> None:
    """The root project's own kit_currencies seed, and the package's disabled, as users of
    dbt-project-evaluator override its exceptions seed."""
    (shop / "seeds" / "kit_currencies.csv").write_text(
        "currency_code,currency_name,minor_units\nEUR,Euro root,2\nJPY,Yen,0\n"
    )
    project = shop / "dbt_project.yml"
    project.write_text(project.read_text() + "  kit_utils:\n    kit_currencies:\n"
                       "      +enabled: false\n")  # fmt: skip


def test_a_disabled_package_seed_gives_its_name_to_the_root_seed(shop: Path, orch: RunOrch):
    override_package_seed(shop)
    order_summary = shop / "models" / "marts" / "order_summary.sql"
    order_summary.write_text(order_summary.read_text().replace(
        "ref('kit_utils', 'kit_currencies')", "ref('kit_currencies')"))  # fmt: skip
    deps_and_build(orch, shop)
    db = Warehouse(shop / "shop.duckdb")
    # dbt 1.11 on the same project: the root's seed in main_raw, none in main_kit, and the
    # package's model reads the root's seed (its own is disabled)
    assert ("main_raw", "kit_currencies", "TABLE") in db.relations()
    assert ("main_kit", "kit_currencies", "TABLE") not in db.relations()
    assert db.rows("select * from main_kit.kit_currency_labels order by 1") == [
        ("EUR", "euro root", "<none>"), ("JPY", "yen", "<none>")]  # fmt: skip


def test_a_ref_to_the_disabled_package_seed_by_package_is_an_error(shop: Path, orch: RunOrch):
    override_package_seed(shop)  # order_summary keeps ref('kit_utils', 'kit_currencies')
    assert orch("deps").exit_code == 0
    result = orch("build")
    assert result.exit_code == 2
    assert "models/marts/order_summary.sql:9:14: ref('kit_utils', 'kit_currencies') names a " \
        "node of 'kit_utils' which is disabled (enabled: false, " \
        "dbt_packages/kit_utils/seeds/kit_currencies.csv)" in result.stderr  # fmt: skip
    assert "Traceback" not in result.stderr


def test_deps_without_packages_says_so(shop: Path, orch: RunOrch):
    (shop / "packages.yml").unlink()
    result = orch("deps", "--project-dir", str(shop))
    assert result.exit_code == 2
    assert "no packages to install: there is no packages.yml or dependencies.yml" in result.stderr


def test_a_package_project_file_change_recompiles(shop: Path, orch: RunOrch):
    deps_and_build(orch, shop)
    own = shop / "dbt_packages" / "kit_dates" / "dbt_project.yml"
    own.write_text(own.read_text().replace("calendar_days: 21", "calendar_days: 7"))
    deps = orch("build")  # not 'orch deps': the installed copy is what dbt reads
    assert deps.exit_code == 0, deps.stderr
    rows = Warehouse(shop / "shop.duckdb").rows("select count(*) from main.kit_calendar")
    assert rows == [(7,)]
