"""dbt unit tests as dbt-audit-helper's integration tests write them: ``overrides: vars:`` that
change the model's columns, ``overrides: macros:`` of a package's macro, and ``format: sql``
fixture files that are templates.

The statuses are what ``dbt build`` / ``dbt test -s <test>`` (dbt-core 1.11.16, dbt-duckdb
1.11.1) reported for this same project: dbt renders a SQL fixture when the test runs
(``execute`` is True) with the project's vars, not the test's overrides, so
``money_from_a_sql_fixture`` fails there (``5.00`` where the test expects ``6``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch

PROJECT = {
    "dbt_project.yml": "name: 'uo'\nversion: '1.0.0'\nconfig-version: 2\nprofile: 'uo'\n"
    "vars:\n  cols: ['id']\n",
    "profiles.yml": "uo:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
    "      path: uo.duckdb\n      threads: 1\n",
    "dbt_packages/pk/dbt_project.yml": "name: 'pk'\nversion: '1.0.0'\nconfig-version: 2\n",
    "dbt_packages/pk/macros/pick.sql": (
        "{% macro pick(relation, columns) %}select {{ columns | join(', ') }}, {{ pk._bound() }}"
        " as bound from {{ relation }}{% endmacro %}\n"
        "{% macro _bound() %}{{ return(0) }}{% endmacro %}\n"
    ),
    "macros/money.sql": "{% macro as_money(x) %}cast({{ x }} as decimal(10,2)){% endmacro %}\n",
    "models/src_rows.sql": "select 1 as id, 'a' as name, 10 as amount\n",
    "models/picked.sql": "{{ pk.pick(ref('src_rows'), var('cols')) }}\n",
    "models/money.sql": "select id, amount from {{ ref('src_rows') }}\n",
    "tests/fixtures/money_rows.sql": "select 1 as id, {{ as_money(var('price', 5)) }} as amount\n",
    "tests/fixtures/live_rows.sql": (
        "{% if execute %}select 1 as id, 2 as amount{% else %}select 0 as id, 0 as amount"
        "{% endif %}\n"
    ),
    "models/unit.yml": """\
unit_tests:
  - name: picked_with_more_columns
    model: picked
    overrides:
      vars: {cols: ['id', 'name']}
      macros: {pk._bound: 7}
    given:
      - input: ref('src_rows')
        rows: [{id: 1, name: a, amount: 10}]
    expect:
      rows: [{id: 1, name: a, bound: 7}]
  - name: money_from_a_sql_fixture
    model: money
    overrides:
      vars: {price: 6}
    given:
      - input: ref('src_rows')
        format: sql
        fixture: money_rows
    expect:
      rows: [{id: 1, amount: 6}]
  - name: fixture_reading_execute
    model: money
    given:
      - input: ref('src_rows')
        format: sql
        fixture: live_rows
    expect:
      rows: [{id: 1, amount: 2}]
""",
}


@pytest.fixture
def uo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "uo"
    for rel, text in PROJECT.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(project)
    return project


def statuses(project: Path) -> dict[str, str]:
    results = json.loads((project / "target/run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"]: r["status"] for r in results["results"]}


def test_overrides_and_sql_fixture_templates_as_in_dbt(uo: Path, orch: RunOrch):
    result = orch("build")
    assert result.exit_code == 1, result.output + result.stderr  # one unit test fails, as in dbt
    found = statuses(uo)
    # vars that add a column, and a package macro overridden: the expect's columns are judged
    # on the model as the test renders it
    assert found["unit_test.uo.picked.picked_with_more_columns"] == "pass"
    assert found["unit_test.uo.money.money_from_a_sql_fixture"] == "fail"
    assert found["unit_test.uo.money.fixture_reading_execute"] == "pass"
    assert found["model.uo.money"] == "skipped"  # a failing unit test skips its model
    assert found["model.uo.picked"] == "success"


def test_a_fixture_that_queries_the_warehouse_errors_that_test_only(uo: Path, orch: RunOrch):
    (uo / "tests/fixtures/live_rows.sql").write_text(
        "{% set n = run_query('select 2').columns[0].values()[0] %}"
        "select 1 as id, {{ n }} as amount\n"
    )
    result = orch("build")
    assert result.exit_code == 1
    found = statuses(uo)
    assert found["unit_test.uo.money.fixture_reading_execute"] == "error"
    assert found["unit_test.uo.picked.picked_with_more_columns"] == "pass"  # the build went on
    message = result.output + result.stderr
    assert "unit test 'fixture_reading_execute' of 'money' has a SQL fixture " \
        "(tests/fixtures/live_rows.sql:1) that calls ref() or source(), or queries the warehouse" \
        in message  # fmt: skip
    assert "Traceback" not in message


def test_an_override_of_a_macro_in_a_package_not_installed(uo: Path, orch: RunOrch):
    unit = uo / "models/unit.yml"
    unit.write_text(unit.read_text().replace("pk._bound: 7", "pq._bound: 7"))
    result = orch("build")
    assert result.exit_code == 2
    assert "models/unit.yml:2:5: unit test 'picked_with_more_columns': the macro override " \
        "'pq._bound' names the package 'pq', which is not installed" in result.stderr  # fmt: skip
