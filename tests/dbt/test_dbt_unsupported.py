"""dbt features orch does not implement stop the build with ONE clear message, exit 2.

Each case adds one file to a copy of ``fixtures/coffee_dbt`` and expects the message to name the
file (with the line where there is one) and the feature, with no traceback and nothing built.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch, Warehouse

PACKAGES_YML = """\
packages:
  - package: dbt-labs/dbt_utils
    version: [">=1.0.0", "<2.0.0"]
"""

CASES = [
    pytest.param(
        {
            "packages.yml": PACKAGES_YML,
            "transform/marts/core/wide.sql": "select\n  {{ dbt_utils.star(ref('dim_customers')) }}"
            "\nfrom {{ ref('dim_customers') }}\n",
        },
        "packages.yml:2:5: the package 'dbt-labs/dbt_utils' (dbt Hub) is declared but not "
        "installed in dbt_packages/",
        id="package-not-installed-macro",
    ),
    pytest.param(
        {
            "packages.yml": PACKAGES_YML,
            "transform/marts/tests.yml": "version: 2\nmodels:\n  - name: dim_beans\n"
            "    data_tests:\n      - dbt_utils.expression_is_true:\n"
            "          expression: 'order_total >= 0'\n",
        },
        "packages.yml:2:5: the package 'dbt-labs/dbt_utils' (dbt Hub) is declared but not "
        "installed",
        id="package-not-installed-test",
    ),
    pytest.param(
        {
            "transform/marts/customers_snapshot.sql": "-- history\n"
            "{% snapshot customers_snapshot %}\nselect * from {{ ref('customers') }}\n"
            "{% endsnapshot %}\n"
        },
        "transform/marts/customers_snapshot.sql:2:1: a {% snapshot %} block in a model file: not "
        "supported by orch",
        id="snapshot-in-models",
    ),
    pytest.param(
        {
            "snapshots/customers_snapshot.sql": "{% snapshot customers_snapshot %}\n"
            "{{ config(unique_key='customer_id', strategy='custom_strategy') }}\n"
            "select * from {{ ref('customers') }}\n{% endsnapshot %}\n"
        },
        "snapshots/customers_snapshot.sql: snapshot 'customers_snapshot': strategy "
        "'custom_strategy' is not supported by orch",
        id="snapshot-strategy",
    ),
    pytest.param(
        {
            "transform/marts/core/events.sql": "{{ config(materialized='incremental', "
            "incremental_strategy='microbatch', event_time='ordered_on', begin='2024-01-01', "
            "batch_size='day') }}\nselect * from {{ ref('stg_orders') }}\n"
        },
        "transform/marts/core/events.sql:1:61: 'events': incremental_strategy 'microbatch' is not "
        "supported by orch",
        id="microbatch",
    ),
    pytest.param(
        {
            "transform/marts/py_orders.py": "import pandas\n\n\ndef model(dbt, session):\n"
            "    name = 'fct_orders'\n    return dbt.ref(name).df()\n"
        },
        "transform/marts/py_orders.py:6:12: dbt.ref() with a computed argument: not supported in "
        "a dbt Python model",
        id="python-model-computed-ref",
    ),
    pytest.param(
        {
            "transform/marts/core/cols.sql": "-- an adapter method orch does not offer\n"
            "{% do adapter.drop_relation(ref('dim_customers')) %}\n"
            "select 1 as one\n"
        },
        "transform/marts/core/cols.sql:2: adapter.drop_relation() is not supported",
        id="adapter-method",
    ),
    pytest.param(
        {"macros/mat.sql": "{% materialization my_mat, default %}\n{% endmaterialization %}\n"},
        "macros/mat.sql:1:1: custom materializations ({% materialization %}): not supported",
        id="materialization",
    ),
]


@pytest.mark.parametrize(("files", "message"), CASES)
def test_unsupported_feature_is_one_clear_error(
    coffee: Path, orch: RunOrch, warehouse: Warehouse, files: dict[str, str], message: str
):
    for rel, text in files.items():
        path = coffee / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    result = orch("build", "--project-dir", str(coffee))
    assert result.exit_code == 2, result.output + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert "Traceback" not in result.stderr
    # nothing was built
    assert {s for s, _, _ in warehouse.relations()} == {"roastery_raw"}


def test_packages_yml_whose_packages_are_not_installed_stops_like_dbt(coffee: Path, orch: RunOrch):
    # dbt too refuses to run (UninstalledPackagesFoundError) until 'dbt deps' has run, even
    # when nothing uses the package
    (coffee / "packages.yml").write_text(PACKAGES_YML, encoding="utf-8")
    result = orch("build", "--project-dir", str(coffee))
    assert result.exit_code == 2, result.stderr
    assert "packages.yml:2:5: the package 'dbt-labs/dbt_utils'" in result.stderr
    (coffee / "dbt_packages" / "dbt_utils").mkdir(parents=True)
    (coffee / "dbt_packages" / "dbt_utils" / "dbt_project.yml").write_text("name: dbt_utils\n")
    result = orch("build", "--project-dir", str(coffee))
    assert result.exit_code == 0, result.stderr


def test_orch_project_file_keeps_its_strictness(coffee: Path, orch: RunOrch):
    text = (coffee / "dbt_project.yml").read_text()
    (coffee / "orch_project.yml").write_text(text, encoding="utf-8")  # the orch flavor wins
    result = orch("compile", "--project-dir", str(coffee))
    assert result.exit_code == 2
    # dbt-only top-level keys are fine in dbt_project.yml, errors in orch_project.yml
    assert "orch_project.yml" in result.stderr and "unknown key" in result.stderr
