"""Jinja in a dbt project's properties files and test arguments, rendered as dbt renders them
(dbt-project-evaluator's integration project writes all of these): ``data_type``, a seed's
``column_types`` and a contract's ``enforced`` with ``target``; test arguments holding a var's
list (``values: "{{ var('kinds') }}"``, built-in and custom tests); a test column that is an SQL
expression; ``model.config`` while a model renders at run time. Expected results from
dbt-duckdb 1.11 on the same project."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch
from tests.dbt.test_dbt_real_shapes import dbt_project, results, rows

FILES = {
    "macros/among.sql": """
        {% test among(model, column_name, allowed) %}
        select * from {{ model }} where {{ column_name }} not in (
        {%- for v in allowed %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
        {% endtest %}
    """,
    "seeds/shares.csv": "id,share\n1,0.5\n2,0.25\n",
    "seeds/shares.yml": """
        version: 2
        seeds:
          - name: shares
            config:
              column_types:
                share: "{{ 'float' if target.type != 'duckdb' else 'decimal(10,2)' }}"
    """,
    "models/kinds.sql": """
        {{ config(materialized='table') }}
        {% set m = model.config.materialized if execute else '?' %}
        select * from (values ('a', 1), ('b', 2)) t(kind, id), (select '{{ m }}' as materialized_as)
    """,
    "models/kinds_view.sql": "select * from {{ ref('kinds') }}\n",
    "models/kinds.yml": """
        version: 2
        models:
          - name: kinds
            config:
              contract:
                enforced: "{{ target.name == 'dev' }}"
            columns:
              - name: kind
                data_type: "{{ 'varchar' if target.type == 'duckdb' else 'string' }}"
                data_tests:
                  - accepted_values:
                      arguments:
                        values: "{{ var('kinds') }}"
                  - among:
                      arguments:
                        allowed: "{{ var('kinds') }}"
              - name: id
                data_type: integer
              - name: materialized_as
                data_type: varchar
          - name: kinds_view
            columns:
              - name: "coalesce(kind, '') || 'x'"
                data_tests: [not_null]
    """,
}


def test_rendered_properties_and_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch
) -> None:
    root = dbt_project(tmp_path, monkeypatch, FILES, project_yml="vars:\n  kinds: [a, b]\n")
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root) == {
        "model.shape.kinds": "success",
        "model.shape.kinds_view": "success",
        "seed.shape.shares": "success",
        "test.shape.accepted_values_kinds_kind___var_kinds_.bdf1e1609e": "pass",
        "test.shape.among_kinds__var_kinds___kind.667c622a25": "pass",
        "test.shape.not_null_kinds_view_coalesce_kind_x_.d4150e105e": "pass",
    }
    assert rows(root, "select * from kinds order by 1") == [("a", 1, "table"), ("b", 2, "table")]
    assert rows(root, "select column_name, data_type from information_schema.columns "
                "where table_name = 'shares' order by ordinal_position") == [
        ("id", "INTEGER"), ("share", "DECIMAL(10,2)"),
    ]  # fmt: skip


def test_a_contract_enforced_by_a_rendered_flag_fails_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch
) -> None:
    """``enforced: "{{ target.name == 'dev' }}"`` is true on dev: a wrong data_type fails."""
    files = dict(FILES)
    files["models/kinds.yml"] = FILES["models/kinds.yml"].replace("data_type: integer",
                                                                 "data_type: date")  # fmt: skip
    root = dbt_project(tmp_path, monkeypatch, files, project_yml="vars:\n  kinds: [a, b]\n")
    done = orch("build")
    assert done.exit_code == 1, done.output
    assert "'kinds' does not meet its contract" in done.output
    assert results(root)["model.shape.kinds"] == "error"
