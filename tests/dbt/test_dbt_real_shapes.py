"""Constructs of real public dbt projects (issue 17), each in a small project of the same shape.

``bench/compare_real.py`` builds the public projects themselves (jaffle-shop, dbt-utils'
integration tests...) with dbt and orch, outside the repo; each test here pins one construct one
of them needed, with the rows, results or error a dbt user relies on.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb
import pytest

from tests.dbt.conftest import RunOrch


def dbt_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], project_yml: str = ""
) -> Path:
    """A dbt project ``shape`` in ``tmp_path`` (DuckDB file ``shape.duckdb``), made the current
    directory; ``project_yml`` is appended to its dbt_project.yml."""
    root = tmp_path / "shape"
    root.mkdir()
    head = "name: shape\nprofile: shape\nconfig-version: 2\n"
    (root / "dbt_project.yml").write_text(head + textwrap.dedent(project_yml), encoding="utf-8")
    (root / "profiles.yml").write_text(
        "shape:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: shape.duckdb\n      schema: main\n",
        encoding="utf-8",
    )
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(root)
    return root


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "shape.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def results(root: Path) -> dict[str, str]:
    """``{unique_id: status}`` of target/run_results.json."""
    data = json.loads((root / "target" / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in data["results"]}


def test_source_over_a_seeds_table(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """jaffle-shop: seeds (schema raw) load the tables its ``ecom`` sources declare."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "seeds/raw_orders.csv": "id,total\n1,10\n2,32\n",
            "models/sources.yml": """
                version: 2
                sources:
                  - name: ecom
                    schema: main_raw
                    tables:
                      - name: raw_orders
            """,
            "models/stg_orders.sql": "select id as order_id, total from {{ source('ecom', "
            "'raw_orders') }}\n",
        },
        "seeds:\n  shape:\n    +schema: raw\n",  # dbt's default schema name: main_raw
    )
    assert orch("seed").exit_code == 0
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from main.stg_orders order by 1") == [(1, 10), (2, 32)]
    assert results(root)["seed.shape.raw_orders"] == "success"


def test_saved_queries_are_no_op_results(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """jaffle-shop: ``dbt build`` lists each saved query as a ``no-op`` result."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/orders.sql": "select 1 as order_id, 5 as total\n",
            "models/orders.yml": """
                version: 2
                semantic_models:
                  - name: orders
                    model: ref('orders')
                    entities: [{name: order_id, type: primary}]
                    measures: [{name: order_total, agg: sum, expr: total}]
                metrics:
                  - name: order_total
                    type: simple
                    type_params: {measure: order_total}
                saved_queries:
                  - name: order_metrics
                    query_params: {metrics: [order_total]}
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root) == {
        "model.shape.orders": "success",
        "saved_query.shape.order_metrics": "no-op",
    }


def test_unit_tests_listed_in_dbts_manifest(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """jaffle-shop: run_results.json names unit tests; dbt's manifest lists them (unit_tests)."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/orders.sql": "select 1 as order_id, 5 as total\n",
            "models/totals.sql": "select sum(total) as total from {{ ref('orders') }}\n",
            "models/totals.yml": """
                unit_tests:
                  - name: test_sums
                    model: totals
                    given:
                      - input: ref('orders')
                        rows: [{total: 2}, {total: 3}]
                    expect:
                      rows: [{total: 5}]
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root)["unit_test.shape.totals.test_sums"] == "pass"
    listed = json.loads((root / "target" / "manifest.json").read_text())["unit_tests"]
    entry = listed["unit_test.shape.totals.test_sums"]
    assert (entry["model"], entry["given"], entry["expect"], entry["depends_on"]["nodes"]) == (
        "totals",
        [{"input": "ref('orders')", "rows": [{"total": 2}, {"total": 3}], "format": "dict",
          "fixture": None}],
        {"rows": [{"total": 5}], "format": "dict", "fixture": None},
        ["model.shape.totals"],
    )  # fmt: skip


def test_modules_pytz_and_itertools(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-date: ``modules.pytz.timezone(tz)`` (with pytz's own offsets), ``modules.itertools``."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/zoned.sql": """
                {%- set tz = modules.pytz.timezone('UTC') -%}
                {%- set at = modules.datetime.datetime(1997, 9, 29, 6, 14, tzinfo=tz) -%}
                select '{{ at }}' as at,
                  '{{ modules.itertools.chain([1], [2]) | list | join("-") }}' as chained
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from main.zoned") == [("1997-09-29 06:14:00+00:00", "1-2")]


def test_return_from_a_sibling_macro(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-date: a macro calls another of its file, which ``{{ return() }}``s a list: the
    caller gets the list (and goes on), not its own output replaced by the list."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/dates.sql": """
                {% macro test_dates() -%}
                    select cast('{{ week_start()[0] }}' as date) as week_start
                {%- endmacro %}
                {% macro week_start() -%}
                    {{ return(adapter.dispatch('week_start')()) }}
                {%- endmacro %}
                {% macro default__week_start() -%}
                    {{ return(['2020-11-29', '2020-12-06']) }}
                {%- endmacro %}
            """,
            "models/dates.sql": "{{ test_dates() }}\n",
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select cast(week_start as varchar) from main.dates") == [("2020-11-29",)]


def test_enabled_false_everywhere(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-date, jaffle-shop: ``config(enabled=...)`` computed in a model, seeds disabled by a
    var in dbt_project.yml, a source disabled in YAML: none of them exists (no relation, no
    result, no test); ``--vars`` enables the seeds."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "seeds/raw_customers.csv": "id,name\n1,Ann\n",
            "models/sources.yml": """
                version: 2
                sources:
                  - name: legacy
                    schema: main
                    config: {enabled: false}
                    tables: [{name: old_orders}]
            """,
            "models/retired.sql": "{{ config(enabled=(1 > 2)) }}\nselect 1 as x\n",
            "models/retired.yml": """
                version: 2
                models:
                  - name: retired
                    columns: [{name: x, data_tests: [unique]}]
            """,
            "models/on.sql": "select 1 as x\n",
        },
        "seeds:\n  shape:\n    +enabled: \"{{ var('load_source_data', false) }}\"\n",
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root) == {"model.shape.on": "success"}
    assert rows(root, "select table_name from information_schema.tables") == [("on",)]
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert (sorted(manifest["nodes"]), manifest["sources"]) == (["model.shape.on"], {})
    done = orch("build", "--vars", "{load_source_data: true}")
    assert done.exit_code == 0, done.output
    assert results(root) == {"model.shape.on": "success", "seed.shape.raw_customers": "success"}


def test_ref_to_a_disabled_model(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """As dbt: an enabled model reading a disabled one is an error naming both."""
    dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/off.sql": "{{ config(enabled=false) }}\nselect 1 as x\n",
            "models/reader.sql": "select x\nfrom {{ ref('off') }}\n",
        },
    )
    done = orch("build")
    assert done.exit_code == 2
    assert "models/reader.sql:2:" in done.stderr
    assert "ref('off') names 'off', which is disabled (enabled: false, models/off.sql)" in (
        done.stderr
    )
    assert "Traceback" not in done.output


def test_cross_database_macros(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-utils: dbt.except(), dbt.intersect(), dbt.listagg(), dbt.date() as dbt-duckdb
    renders them."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/letters.sql": "select * from (values ('a', 1), ('b', 2), ('c', 3)) t(l, n)\n",
            "models/macros_used.sql": """
                with only_ab as (
                    select l from {{ ref('letters') }} {{ dbt.except() }}
                    select 'c' {{ dbt.intersect() }} select 'c'
                )
                select
                  (select {{ dbt.listagg('l', "'-'", 'order by l desc') }} from only_ab) as agg,
                  (select {{ dbt.listagg('l', "','", 'order by n', 2) }}
                   from {{ ref('letters') }}) as first_two,
                  {{ dbt.date(2024, 2, 29) }} as leap_day
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select agg, first_two, cast(leap_day as varchar) from main.macros_used") == [
        ("b-a", "a,b", "2024-02-29")
    ]


def test_array_series_and_date_spine_macros(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt.array_construct/append/concat, dbt.equals, dbt.generate_series and dbt.date_spine
    (which queries the warehouse for the number of periods): the columns, types and rows dbt
    1.11 with dbt-duckdb wrote for the same models."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/arrays.sql": """
                select {{ dbt.array_construct(['1', '2']) }} as a,
                  {{ dbt.array_append(dbt.array_construct(['1']), '3') }} as b,
                  {{ dbt.array_concat(dbt.array_construct(['1']),
                                      dbt.array_construct(['4', '5'])) }} as c,
                  {{ dbt.array_construct([], 'varchar') }} as e,
                  {{ dbt.equals("'x'", "'x'") }} as eq, {{ dbt.equals("null", "null") }} as n
            """,
            "models/series.sql": "{{ dbt.generate_series(5) }}\n",
            "models/spine.sql": """
                {{ dbt.date_spine('month', "cast('2024-01-01' as date)",
                                  "cast('2024-06-01' as date)") }}
            """,
        },
        "models:\n  shape:\n    +materialized: table\n",
    )
    done = orch("build")
    assert done.exit_code == 0, done.output + done.stderr
    assert rows(root, "select * from main.arrays") == [([1, 2], [1, 3], [1, 4, 5], [], True, None)]
    types = rows(root, "select column_type from (describe main.arrays)")
    assert [t for (t,) in types] == ["INTEGER[]"] * 3 + ["VARCHAR[]", "BOOLEAN", "BOOLEAN"]
    assert rows(root, "select * from main.series order by 1") == [(n,) for n in range(1, 6)]
    spine = rows(root, "select cast(date_month as varchar) from main.spine order by 1")
    assert spine == [(f"2024-0{m}-01 00:00:00",) for m in range(1, 6)]


def test_post_hook_drops_this(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-utils: a seed's post-hook ``{% do adapter.drop_relation(this.incorporate(type=
    'table')) %}`` drops the table it just loaded (the seed still succeeds)."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {"seeds/dropped.csv": "a\n1\n", "seeds/kept.csv": "a\n2\n"},
        'seeds:\n  shape:\n    dropped:\n      +post-hook: "{% do adapter.drop_relation('
        "this.incorporate(type='table')) %}\"\n",
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root)["seed.shape.dropped"] == "success"
    assert rows(root, "select table_name from information_schema.tables") == [("kept",)]


TEST_SUMMED = """
{% test summed_delta(model, column_name) %}
{{ config(fail_calc='sum(delta)') }}
select {{ column_name }} as delta from {{ model }} where {{ column_name }} != 0
{% endtest %}
"""


def test_fail_calc(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-utils' equal_rowcount: ``config(fail_calc=...)`` in a test sets its failures (the
    sum of the failing rows' deltas, not their count); warn_if/error_if compare that."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/summed_delta.sql": TEST_SUMMED,
            "models/deltas.sql": "select * from (values (0), (2), (3)) t(d)\n",
            "models/deltas.yml": """
                version: 2
                models:
                  - name: deltas
                    columns:
                      - name: d
                        data_tests:
                          - summed_delta:
                              config: {severity: warn, warn_if: '>4'}
                          - summed_delta:
                              name: summed_at_most_five
                              config: {warn_if: '>5', error_if: '>5'}
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    data = json.loads((root / "target" / "run_results.json").read_text())["results"]
    tests = {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in data
             if r["unique_id"].startswith("test.")}  # fmt: skip
    assert tests == {"summed_delta_deltas_d": ("warn", 5), "summed_at_most_five": ("pass", 5)}


TEST_SAME_COLUMNS = """
{% test same_columns(model, compare_model) %}
{%- set mine = set(adapter.get_columns_in_relation(model) | map(attribute='name')) -%}
{%- set theirs = adapter.get_columns_in_relation(compare_model) | map(attribute='name') -%}
select '{{ c }}' as missing from (select 1) t where false
{%- for c in theirs if c not in mine %} union all select '{{ c }}'{% endfor %}
{% endtest %}
"""


def test_generic_test_querying_the_warehouse(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-utils' equality: a test whose template reads the warehouse (columns of its model)
    is rendered again right before it runs, as dbt does, with set() as dbt provides it."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/same_columns.sql": TEST_SAME_COLUMNS,
            "models/a.sql": "select 1 as x, 2 as y\n",
            "models/b.sql": "select 1 as x\n",
            "models/a.yml": """
                version: 2
                models:
                  - name: a
                    data_tests: [{same_columns: {compare_model: ref('b')}}]
                  - name: b
                    data_tests: [{same_columns: {compare_model: ref('a')}}]
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 1
    statuses = {k.split(".")[2]: v for k, v in results(root).items() if k.startswith("test.")}
    assert statuses == {"same_columns_a_ref_b_": "pass", "same_columns_b_ref_a_": "fail"}
    manifest = json.loads((root / "target" / "orch_manifest.json").read_text())
    check = manifest["checks"]["same_columns_b_ref_a_"]
    # rendered right before it runs, after what its template ref()s (its compare_model too)
    assert (check["rendered_at_run_time"], sorted(check["depends_on"])) == (True, ["a", "b"])
    done = orch("test")  # dbt test renders it again too
    assert done.exit_code == 1
    statuses = {k.split(".")[2]: v for k, v in results(root).items() if k.startswith("test.")}
    assert statuses == {"same_columns_a_ref_b_": "pass", "same_columns_b_ref_a_": "fail"}


def test_query_result_columns_items(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-utils' get_query_results_as_dict: ``load_result(...).table.columns.items()``."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/pairs.sql": """
                {%- set table = run_query('select 1 as a, 2 as b') -%}
                select 0 as zero
                {%- if execute -%}
                {%- for name, column in table.columns.items() -%}
                , {{ column.values()[0] }} as {{ name }}
                {%- endfor -%}
                {%- endif %}
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from main.pairs") == [(0, 1, 2)]


def test_yaml_entry_without_a_model(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-utils (test_unpivot_original_api): a YAML entry names a model with no file; dbt
    warns and creates none of its tests; so does orch."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/same_columns.sql": TEST_SAME_COLUMNS,
            "models/a.sql": "select 1 as x\n",
            "models/schema.yml": """
                version: 2
                models:
                  - name: ghost
                    data_tests: [{same_columns: {compare_model: ref('a')}}]
                    columns: [{name: x, data_tests: [not_null]}]
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root) == {"model.shape.a": "success"}
    assert (
        "models/schema.yml: 'ghost' is described but there is no model, seed or snapshot of "
        "that name: its tests are ignored (as dbt does)"
    ) in done.output


TEST_ROWS_AT_LEAST = """
{% test rows_at_least(model, n) %}
{%- set probe = run_query('select 1') -%}
select c from (select count(*) as c from {{ model }}) as counted where c < {{ n }}
{% endtest %}
"""


def test_run_time_test_on_an_ephemeral_model(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-utils (equality on test_equal_column_subset): a test rendered at run time reads an
    ephemeral model, inlined as a CTE as dbt inlines it."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/rows_at_least.sql": TEST_ROWS_AT_LEAST,
            "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as x union all "
            "select 2\n",
            "models/eph.yml": """
                version: 2
                models:
                  - name: eph
                    data_tests:
                      - rows_at_least: {n: 2}
                      - rows_at_least: {n: 3}
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 1
    statuses = {k.split(".")[2]: v for k, v in results(root).items() if k.startswith("test.")}
    assert statuses == {"rows_at_least_eph_2": "pass", "rows_at_least_eph_3": "fail"}


def test_test_config_rendered_as_dbt_renders_it(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-expectations' tests write ``severity: "{{ 'warn' if target.type in [...] else
    'error' }}"``: dbt renders every string of a test's config while parsing (target, var),
    a single ``{{ }}`` giving its value (``enabled: "{{ target.name != 'dev' }}"`` is False).
    Results checked against dbt-duckdb 1.11 on the same project."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/positive.sql": """
                {% test positive(model, column_name) %}
                select {{ column_name }} as n from {{ model }} where {{ column_name }} > 0
                {% endtest %}
            """,
            "models/ids.sql": "select * from (values (1), (2), (3), (null)) t(id)\n",
            "models/ids.yml": """
                version: 2
                models:
                  - name: ids
                    columns:
                      - name: id
                        data_tests:
                          - not_null:
                              name: null_warns_in_dev
                              config:
                                severity: "{{ 'warn' if target.name == 'dev' else 'error' }}"
                          - not_null:
                              name: null_filtered_by_var
                              config:
                                where: "id >= {{ var('min_id') }}"
                          - unique:
                              name: disabled_in_dev
                              config:
                                enabled: "{{ target.name != 'dev' }}"
                          - positive:
                              config:
                                severity: "{{ 'warn' if target.type == 'duckdb' else 'error' }}"
                                warn_if: ">{{ 1 }}"
            """,
        },
        project_yml="vars:\n  min_id: 2\n",
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    data = json.loads((root / "target" / "run_results.json").read_text())["results"]
    tests = {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in data
             if r["unique_id"].startswith("test.")}  # fmt: skip
    assert tests == {
        "null_warns_in_dev": ("warn", 1),
        "null_filtered_by_var": ("pass", 0),
        "positive_ids_id": ("warn", 3),
    }
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    configs = {n["name"]: n["unrendered_config"] for n in manifest["nodes"].values()
               if n["resource_type"] == "test"}  # fmt: skip
    assert configs["null_filtered_by_var"] == {"where": "id >= 2"}  # rendered, as dbt records it


def test_test_config_that_cannot_render(tmp_path, monkeypatch, orch: RunOrch) -> None:
    dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/ids.sql": "select 1 as id\n",
            "models/ids.yml": """
                version: 2
                models:
                  - name: ids
                    columns:
                      - name: id
                        data_tests:
                          - not_null:
                              config:
                                severity: "{{ var('no_such_var') }}"
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 2
    assert "models/ids.yml:7:" in done.output
    assert "cannot render the test setting severity on 'ids'" in done.output
    assert "Traceback" not in done.output


def test_tests_dbt_names_alike_keep_dbts_ids(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt-expectations' ``like_pattern: "%@%"`` and ``"%&%"`` on one column: dbt names both
    ``..._email___`` and tells them apart by the hash in their unique_id. orch's ids are dbt's
    (the second test's own name in orch has a ``_2``). Ids checked against dbt-duckdb 1.11."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/matches.sql": """
                {% test matches(model, column_name, like_pattern) %}
                select * from {{ model }} where {{ column_name }} not like '{{ like_pattern }}'
                {% endtest %}
            """,
            "models/emails.sql": "select * from (values ('a@b'), ('c@d&')) t(email)\n",
            "models/emails.yml": """
                version: 2
                models:
                  - name: emails
                    columns:
                      - name: email
                        data_tests:
                          - matches:
                              like_pattern: "%@%"
                          - matches:
                              like_pattern: "%&%"
                              config:
                                severity: warn
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    data = json.loads((root / "target" / "run_results.json").read_text())["results"]
    tests = {r["unique_id"]: (r["status"], r["failures"]) for r in data
             if r["unique_id"].startswith("test.")}  # fmt: skip
    assert tests == {
        "test.shape.matches_emails_email___.bfc1b4a1de": ("pass", 0),
        "test.shape.matches_emails_email___.0b11184b4d": ("warn", 1),
    }
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"} == {
        "matches_emails_email___"
    }


def test_data_tests_folder_config(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """``data_tests:`` in dbt_project.yml: severity, store_failures and tags by folder, a test
    disabled by its name (dbt-project-evaluator's integration project: a custom test reading a
    table that does not exist, never run). Results, stored failures and tags checked against
    dbt-duckdb 1.11."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/broken.sql": """
                {% test broken(model) %}
                select * from no_such_table_anywhere
                {% endtest %}
            """,
            "models/staging/ids.sql": "select * from (values (1), (1), (null)) t(id)\n",
            "models/staging/ids.yml": """
                version: 2
                models:
                  - name: ids
                    data_tests: [broken]
                    columns:
                      - name: id
                        data_tests: [unique, not_null]
            """,
            "tests/positive_ids.sql": "select * from {{ ref('ids') }} where id > 0\n",
        },
        project_yml="""
            data_tests:
              shape:
                +severity: warn
                staging:
                  +store_failures: true
                  +tags: [stg]
                  broken_ids_:
                    +enabled: "{{ target.name != 'dev' }}"
        """,
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root) == {
        "model.shape.ids": "success",
        "test.shape.not_null_ids_id.25b90cf2d0": "warn",
        "test.shape.positive_ids": "warn",
        "test.shape.unique_ids_id.0001373c33": "warn",
    }
    assert rows(root, "select * from main_dbt_test__audit.unique_ids_id") == [(1, 2)]
    assert rows(root, "select column_name from information_schema.columns where "
                "table_name = 'unique_ids_id' order by ordinal_position") == [
        ("unique_field",), ("n_records",),
    ]  # fmt: skip
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    tags = {n["name"]: n["tags"] for n in manifest["nodes"].values()
            if n["resource_type"] == "test"}  # fmt: skip
    assert tags == {"not_null_ids_id": ["stg"], "unique_ids_id": ["stg"], "positive_ids": []}


def test_tests_on_an_ephemeral_model(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt runs a test of an ephemeral model over its query (a CTE); so does orch, built-in and
    custom tests alike, also through an ephemeral upstream. Checked against dbt-duckdb 1.11."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/positive.sql": """
                {% test positive(model, column_name) %}
                select * from {{ model }} where {{ column_name }} <= 0
                {% endtest %}
            """,
            "models/base_ids.sql": (
                "{{ config(materialized='ephemeral') }}\n"
                "select * from (values (1, 'a'), (2, 'b'), (2, 'c'), (null, 'd')) t(id, code)\n"
            ),
            "models/eph_ids.sql": (
                "{{ config(materialized='ephemeral') }}\n"
                "select id, code from {{ ref('base_ids') }}\n"
            ),
            "models/parents.sql": "select 1 as id\n",
            # an ephemeral model over a table of the same build: its test waits for that table
            "models/eph_parents.sql": (
                "{{ config(materialized='ephemeral') }}\nselect id from {{ ref('parents') }}\n"
            ),
            "models/eph.yml": """
                version: 2
                models:
                  - name: eph_ids
                    columns:
                      - name: id
                        data_tests:
                          - not_null
                          - unique
                          - positive
                          - accepted_values:
                              arguments: {values: [1, 2], quote: false}
                          - relationships:
                              arguments: {to: ref('parents'), field: id}
                      - name: code
                        data_tests: [not_null]
                  - name: eph_parents
                    columns:
                      - name: id
                        data_tests: [not_null]
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 1, done.output
    data = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"]: (r["status"], r["failures"]) for r in data} == {
        "model.shape.parents": ("success", None),
        "test.shape.accepted_values_eph_ids_id__False__1__2.15b975f2b4": ("pass", 0),
        "test.shape.not_null_eph_ids_code.3f2c2267c9": ("pass", 0),
        "test.shape.not_null_eph_ids_id.f6a55efaff": ("fail", 1),
        "test.shape.positive_eph_ids_id.09a0c081c0": ("pass", 0),
        "test.shape.relationships_eph_ids_id__id__ref_parents_.87a1174cbc": ("fail", 2),
        "test.shape.unique_eph_ids_id.53560432e7": ("fail", 1),
        "test.shape.not_null_eph_parents_id.4d6d74a061": ("pass", 0),
    }


def test_serialization_functions(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt's tojson / fromjson / fromyaml / toyaml / local_md5 / diff_of_two_dicts, with their
    defaults (the row dbt-duckdb 1.11 writes for the same model), and print()."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/ser.sql": """
                select '{{ tojson({"b": 1, "a": [true, none]}) }}' as j,
                  '{{ tojson({"b": 1, "a": 2}, sort_keys=true) }}' as s,
                  {{ fromjson('[1, 2]')[1] }} as k,
                  '{{ fromjson('not json', 'fallback') }}' as f,
                  '{{ (fromyaml('a: [x, y]')).a | join('|') }}' as y,
                  '{{ toyaml({"b": 1, "a": 2}) | trim }}' as t,
                  '{{ local_md5("hello world") }}' as m,
                  '{{ tojson(diff_of_two_dicts({'a': ['X', 'y'], 'B': ['z']}, {'A': ['x']})) }}'
                    as d
                {{ print('hello from print') }}
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from ser") == [
        ('{"b": 1, "a": [true, null]}', '{"a": 2, "b": 1}', 2, "fallback", "x|y", "b: 1\na: 2",
         "5eb63bbbe01eeed093cb22bb8f5acdc3", '{"a": ["y"], "B": ["z"]}'),
    ]  # fmt: skip
    assert "hello from print" in done.output


NOT_SQL = {
    "models/base.sql": "select 1 as id\n",
    # dbt-project-evaluator's fake models: ephemeral, never compiled by dbt as nothing reads them
    "models/fake_refs.sql": "{{ ref('base') }}\n{{ ref('base') }}\n{{ ref('base') }}\n",
    "models/fake_reader.sql": "select * from {{ ref('fake_refs') }}\n",  # ephemeral, unread
}


def test_an_unread_ephemeral_model_need_not_be_sql(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """dbt never compiles an ephemeral model nothing built or tested reads, so it may be no
    SQL at all; orch builds the rest, as dbt does."""
    root = dbt_project(tmp_path, monkeypatch, NOT_SQL,
                       project_yml="models:\n  +materialized: ephemeral\n"
                       "  shape:\n    base:\n      +materialized: table\n")  # fmt: skip
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from base") == [(1,)]


def test_a_read_model_that_is_not_sql_is_an_error(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """The same model read by a table (through an ephemeral one): its parse error, as dbt's
    compile of the table fails."""
    files = {**NOT_SQL, "models/mart.sql": "{{ config(materialized='table') }}\n"
             "select * from {{ ref('fake_reader') }}\n"}  # fmt: skip
    dbt_project(tmp_path, monkeypatch, files, project_yml="models:\n  +materialized: ephemeral\n")
    done = orch("build")
    assert done.exit_code == 2, done.output
    assert "models/fake_refs.sql:3:1: SQL syntax error near 'ref('base')'" in done.output
    assert "__orch" not in done.output and "Traceback" not in done.output
