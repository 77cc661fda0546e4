"""Hooks run as dbt runs them: pre-/post-hooks (folder level and config()), on-run-start/-end.

``fixtures/bakery_dbt`` logs into ``main_audit.run_log`` from each kind of hook: on-run-start
creates the log table, a ``+post-hook`` on every model folder logs 'built', ``product_revenue``
adds a ``pre_hook`` ('starting'), a post-hook deleting rows, and an ``after_commit`` one
('committed'); on-run-end logs 'end'. The expected order is dbt's (checked against dbt-core 1.11
with bench/compare_dbt.py): folder hooks before the model's own, after_commit after the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.dbt.conftest import RunOrch, Warehouse

LOG = "select event, model from main_audit.run_log order by rowid"


def test_hooks_run_in_dbt_order(bakery: Path, orch: RunOrch, bakery_db: Warehouse):
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 0, result.output + result.stderr
    assert bakery_db.rows(LOG) == [
        ("built", "metricflow_time_spine"),  # reads nothing: first (seeds have no model hooks)
        ("built", "stg_products"),  # views too: the folder's +post-hook
        ("built", "stg_sales"),
        ("starting", "product_revenue"),  # config(pre_hook=...)
        ("built", "product_revenue"),  # the folder's hook first, then the model's own
        ("committed", "product_revenue"),  # after_commit(): outside the transaction, last
        ("end", None),  # on-run-end
    ]
    assert bakery_db.rows("select bool_and(has_invocation) from main_audit.run_log") == [(True,)]


def test_invocation_id_is_the_run_id(bakery: Path, orch: RunOrch, bakery_db: Warehouse):
    project = bakery / "dbt_project.yml"
    project.write_text(
        project.read_text().replace(
            "on-run-end:\n",
            "on-run-end:\n"
            "  - \"create table main_audit.ids as select '{{ invocation_id }}' as id\"\n",
            1,
        )
    )
    assert orch("build", "--project-dir", str(bakery)).exit_code == 0
    run_results = json.loads((bakery / "target" / "run_results.json").read_text())
    run_id = run_results["metadata"]["invocation_id"]
    assert bakery_db.rows("select id from main_audit.ids") == [(run_id,)]
    # the hooks are dbt's operation results
    ops = sorted(r["unique_id"] for r in run_results["results"] if r["unique_id"].startswith("op"))
    assert ops == [
        "operation.bakery_dbt.bakery_dbt-on-run-end-0",
        "operation.bakery_dbt.bakery_dbt-on-run-end-1",
        "operation.bakery_dbt.bakery_dbt-on-run-start-0",
        "operation.bakery_dbt.bakery_dbt-on-run-start-1",
    ]


def test_post_hook_changes_the_data(bakery: Path, orch: RunOrch, bakery_db: Warehouse):
    sales = bakery / "seeds" / "sales.csv"
    sales.write_text(sales.read_text().replace("104,4,3,", "104,4,0,"))  # no eclair sold
    assert orch("build", "--project-dir", str(bakery)).exit_code == 0
    # post-hook "delete from {{ this }} where units = 0" removed the eclair
    assert bakery_db.rows("select product_id from main.product_revenue order by 1") == [
        (1,), (2,), (3,)
    ]  # fmt: skip


def test_failing_post_hook_rolls_the_step_back(bakery: Path, orch: RunOrch, bakery_db: Warehouse):
    assert orch("build", "--project-dir", str(bakery)).exit_code == 0
    model = bakery / "models" / "marts" / "product_revenue.sql"
    model.write_text(
        model.read_text()
        .replace("delete from {{ this }} where units = 0", "delete from {{ this }} where nope = 0")
        .replace(
            "coalesce(sum(s.quantity), 0) as units", "coalesce(sum(s.quantity), 0) + 100 as units"
        )
    )
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 1
    assert "post-hook 2 of 'product_revenue' failed" in result.output + result.stderr
    assert "models/marts/product_revenue.sql" in result.output + result.stderr
    # the new table (units + 100) was rolled back with the hook's transaction: the old one stays
    assert bakery_db.rows("select max(units) from main.product_revenue") == [(12,)]
    # the after_commit hook did not run; on-run-end did
    events = [e for e, _ in bakery_db.rows(LOG)]
    assert events.count("committed") == 1 and events.count("end") == 2


def test_failing_on_run_start_skips_the_run(bakery: Path, orch: RunOrch, bakery_db: Warehouse):
    project = bakery / "dbt_project.yml"
    project.write_text(
        project.read_text().replace(
            "on-run-start:\n", 'on-run-start:\n  - "select * from no_such_table"\n', 1
        )
    )
    result = orch("build", "--project-dir", str(bakery))
    assert result.exit_code == 1
    assert "on-run-start hook 1 (dbt_project.yml) failed" in result.output
    assert "an on-run-start hook failed" in result.output  # each step skipped, saying why
    assert ("main", "product_revenue", "TABLE") not in bakery_db.relations()


def test_results_in_on_run_end(bakery: Path, orch: RunOrch, bakery_db: Warehouse):
    """``results`` in on-run-end, as dbt gives it: each node's RunResult (status, failures,
    execution_time, node); rows checked against dbt-duckdb 1.11 on the same hook."""
    macro = bakery / "macros" / "log_results.sql"
    macro.write_text(LOG_RESULTS, encoding="utf-8")
    project = bakery / "dbt_project.yml"
    project.write_text(
        project.read_text().replace(
            "on-run-end:\n", 'on-run-end:\n  - "{{ log_results(results) }}"\n', 1
        )
    )
    result = orch("build", "--project-dir", str(bakery))
    assert "on-run-end hook 1" not in result.output or "failed" not in result.output, result.output
    logged = bakery_db.rows("select uid, status, kind from run_log order by 1")
    statuses = {uid: status for uid, status, _ in logged}
    run = json.loads((bakery / "target" / "run_results.json").read_text())
    expected = {r["unique_id"]: r["status"] for r in run["results"]
                if not r["unique_id"].startswith(("operation.", "exposure."))}  # fmt: skip
    assert statuses == expected
    assert {kind for _, _, kind in logged} >= {"model", "seed", "test"}


LOG_RESULTS = """
{% macro log_results(results) %}
  {% if execute %}
  {% set rows = [] %}
  {% for r in results | sort(attribute='node.unique_id') %}
    {% do rows.append("('" ~ r.node.unique_id ~ "', '" ~ r.status ~ "', '"
       ~ r.node.resource_type ~ "', " ~ (r.failures if r.failures is not none else 'null') ~ ")") %}
  {% endfor %}
  create or replace table run_log as
  select * from (values {{ rows | join(', ') }}) t(uid, status, kind, failures)
  {% endif %}
{% endmacro %}
"""
