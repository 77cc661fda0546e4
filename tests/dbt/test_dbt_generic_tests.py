"""Custom generic tests (``{% test name(model, column_name, ...) %}``) run like dbt runs them.

The fixture ``fixtures/bakery_dbt`` defines ``is_positive`` in ``tests/generic/`` and
``at_most_share``/``has_match_in`` in ``macros/``, and uses them in ``models/schema.yml`` with
arguments (top level and under ``arguments:``), ``config:`` (severity, where, store_failures) and
a ``config()`` call inside the definition (a default severity), as dbt documents.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.dbt.conftest import RunOrch, Warehouse, without_hash


def _results(project: Path) -> dict[str, str]:
    data = json.loads((project / "target" / "run_results.json").read_text())
    return {
        without_hash(r["unique_id"]): r["status"]
        for r in data["results"]
        if r["unique_id"].startswith("test.")
    }


def test_custom_generic_tests_run_with_arguments_and_config(
    bakery: Path, orch: RunOrch, bakery_db: Warehouse
):
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 0, result.output + result.stderr
    assert _results(bakery) == {
        # dbt's names: <test>_<model>_<argument values sorted by argument name>
        # where: sold_on >= '2024-02-02' keeps sale 103 (quantity 0): warn (config severity)
        "test.bakery_dbt.is_positive_stg_sales_quantity": "warn",
        # allow_zero: true under arguments: -> `quantity < 0`: no row fails
        "test.bakery_dbt.is_positive_stg_sales_True__quantity": "pass",
        "test.bakery_dbt.has_match_in_stg_sales_product_id__product_id__ref_stg_products_": "pass",
        "test.bakery_dbt.is_positive_product_revenue_revenue": "pass",
        # config(severity='warn') in the definition: pastry has 37.8 of 54.6 revenue (> 50%)
        "test.bakery_dbt.at_most_share_product_revenue_revenue__category__0_5": "warn",
        "test.bakery_dbt.at_most_share_product_revenue_units__category__0_9": "pass",
    }
    # the where config wraps the model in dbt's subquery; the sample names the failing row
    assert '(select * from "main"."stg_sales" where sold_on >= \'2024-02-02\') dbt_subquery' in (
        result.output
    )
    # store_failures: true -> dbt's audit schema <target schema>_dbt_test__audit, here empty
    audit = "main_dbt_test__audit.at_most_share_product_revenue_units__category__0_9"
    assert bakery_db.rows(f"select count(*) from {audit}") == [(0,)]


def test_failing_error_severity_generic_test_fails_the_build(
    bakery: Path, orch: RunOrch, bakery_db: Warehouse
):
    schema = bakery / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace("max_share: 0.9", "max_share: 0.4"))
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 1
    assert _results(bakery)[
        "test.bakery_dbt.at_most_share_product_revenue_units__category__0_4"
    ] == ("fail")
    # the failing rows are kept where dbt keeps them: pastry sold 15 of 18 units
    audit = "main_dbt_test__audit.at_most_share_product_revenue_units__category__0_4"
    assert bakery_db.rows(f"select grp, part from {audit}") == [("pastry", 15)]


def test_unknown_argument_names_the_yaml_entry(bakery: Path, orch: RunOrch):
    schema = bakery / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace("allow_zero: true", "allow_zeros: true"))
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert (
        "models/schema.yml:12:13: test 'is_positive' on 'stg_sales': Jinja error: macro "
        "'test_is_positive' takes no keyword argument 'allow_zeros'. Its {% test is_positive %} "
        "block is in tests/generic/is_positive.sql"
    ) in result.stderr


def test_select_by_test_type_and_name(bakery: Path, orch: RunOrch):
    assert orch("build", "--project-dir", str(bakery)).exit_code == 0
    result = orch("ls", "--project-dir", str(bakery), "-s", "test_type:generic,stg_sales")
    assert result.exit_code == 0, result.stderr
    assert "is_positive_stg_sales_quantity" in result.output


def test_unsupported_test_settings_are_refused(bakery: Path, orch: RunOrch):
    schema = bakery / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace("store_failures: true", "limit: 10"))
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 2
    assert "test setting limit: 10 is not supported by orch" in result.stderr


# --------------------------------------------------------------------------- exposures etc.


def test_exposures_and_semantic_layer_are_read_and_kept(bakery: Path, orch: RunOrch):
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((bakery / "target" / "orch_manifest.json").read_text())
    exposure = manifest["exposures"]["weekly_sales_dashboard"]
    assert exposure["depends_on"] == ["product_revenue", "stg_sales"]
    assert exposure["type"] == "dashboard" and exposure["owner"]["email"] == "ops@example.com"
    assert exposure["tags"] == ["finance", "weekly"]  # from config:, sorted as dbt does
    assert exposure["meta"] == {"refresh": "Mondays 06:00"}
    assert set(manifest["semantic_layer"]) == {"metrics", "semantic_models"}
    sales = manifest["semantic_layer"]["semantic_models"]["sales"]
    assert sales["depends_on"] == ["stg_sales"] and sales["measures"] == ["units_sold"]
    assert sales["description"] == "One row per sale."
    metric = manifest["semantic_layer"]["metrics"]["total_units"]
    assert metric["type"] == "simple" and metric["type_params"] == {"measure": "units_sold"}


def test_exposure_on_an_unknown_model_names_the_line(bakery: Path, orch: RunOrch):
    path = bakery / "models" / "exposures.yml"
    path.write_text(path.read_text().replace("ref('stg_sales')", "ref('stg_sale')"))
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 2
    assert (
        "models/exposures.yml:12:9: \"ref('stg_sale')\" is not a model, seed or source of the "
        "project. Did you mean 'stg_sales'?"
    ) in result.stderr
