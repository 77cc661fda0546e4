"""dbt's ``graph`` context variable (``graph.nodes``, ``graph.sources``...), as macros of real
projects read it (dbt-project-evaluator, dbt_artifacts-style reports): empty while parsing, the
project's flat graph when the model renders again at run time. Expected rows from dbt-duckdb 1.11
on the same project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch
from tests.dbt.test_dbt_real_shapes import dbt_project, rows

REPORT = """
{% set rows = [] %}
{% if execute %}
{% for node in graph.nodes.values() | selectattr("resource_type", "in", ["model", "seed", "test"])
   | sort(attribute="unique_id") %}
  {% do rows.append("select '" ~ node.unique_id ~ "' as unique_id, '" ~ node.resource_type
     ~ "' as resource_type, '" ~ node.config.materialized ~ "' as materialized, '"
     ~ (node.tags | join('|')) ~ "' as tags, '" ~ (node.depends_on.nodes | join('|'))
     ~ "' as depends_on, '" ~ (node.fqn | join('.')) ~ "' as fqn, '" ~ node.original_file_path
     ~ "' as path, '" ~ (node.columns.keys() | join('|')) ~ "' as columns, '" ~ node.schema
     ~ "' as schema_name, '" ~ (node.description | default('')) ~ "' as description") %}
{% endfor %}
{% for src in graph.sources.values() %}
  {% do rows.append("select '" ~ src.unique_id ~ "', 'source', '', '', '', '"
     ~ (src.fqn | join('.')) ~ "', '" ~ src.original_file_path ~ "', '', '" ~ src.schema
     ~ "', ''") %}
{% endfor %}
{% endif %}
{% if rows %}{{ rows | join('\\nunion all\\n') }}{% else %}select 1 as unique_id{% endif %}
"""

FILES = {
    "seeds/people.csv": "id,name\n1,a\n2,b\n",
    "models/staging/stg_people.sql": "select * from {{ ref('people') }}\n",
    "models/staging/src.yml": """
        version: 2
        sources:
          - name: raw
            schema: main
            tables:
              - name: people
        models:
          - name: stg_people
            description: People, staged.
            columns:
              - name: id
                data_tests: [unique]
    """,
    "models/marts/people_mart.sql": "select * from {{ ref('stg_people') }}\n",
    "models/marts/graph_report.sql": REPORT,
}
PROJECT = """
models:
  shape:
    marts:
      +materialized: table
      +tags: [mart]
"""


def test_graph_nodes_and_sources_at_run_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch
) -> None:
    root = dbt_project(tmp_path, monkeypatch, FILES, project_yml=PROJECT)
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from graph_report order by 1") == [
        ("model.shape.graph_report", "model", "table", "mart", "", "shape.marts.graph_report",
         "models/marts/graph_report.sql", "", "main", ""),
        ("model.shape.people_mart", "model", "table", "mart", "model.shape.stg_people",
         "shape.marts.people_mart", "models/marts/people_mart.sql", "", "main", ""),
        ("model.shape.stg_people", "model", "view", "", "seed.shape.people",
         "shape.staging.stg_people", "models/staging/stg_people.sql", "id", "main",
         "People, staged."),
        ("seed.shape.people", "seed", "seed", "", "", "shape.people", "seeds/people.csv", "",
         "main", ""),
        # declared and read by no model: in dbt's graph all the same
        ("source.shape.raw.people", "source", "", "", "", "shape.staging.raw.people",
         "models/staging/src.yml", "", "main", ""),
        ("test.shape.unique_stg_people_id.27b08cba8e", "test", "test", "",
         "model.shape.stg_people", "shape.staging.unique_stg_people_id",
         "models/staging/src.yml", "", "main_dbt_test__audit", ""),
    ]  # fmt: skip


def test_graph_while_parsing_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch
) -> None:
    """Read outside ``{% if execute %}``: empty while parsing (no error, no dependency), the
    project's graph when the model renders again before it runs."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/a.sql": "select 1 as x\n",
            "models/b.sql": "select 2 as x\n",
            "models/count_models.sql": (
                "select {{ graph.nodes.values() | selectattr('resource_type', 'equalto', "
                "'model') | list | length }} as models\n"
            ),
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select models from count_models") == [(3,)]


RECORD_MODELS = """
{% macro record_models(relation) %}
  {% if execute %}
  {% set names = [] %}
  {% for n in graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') %}
    {% do names.append(n.name ~ ':' ~ n.config.materialized) %}
  {% endfor %}
  {% call statement('insert') %}
    insert into {{ relation }} values
    {% for n in names | sort %}('{{ n }}'){% if not loop.last %}, {% endif %}{% endfor %}
  {% endcall %}
  {% endif %}
{% endmacro %}
"""


def test_hooks_that_query_the_warehouse_render_when_they_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch
) -> None:
    """dbt renders a hook when it runs: a post-hook's ``statement`` block inserts what it reads
    from ``graph`` (dbt-project-evaluator's insert_resources_from_graph), an on-run-end hook's
    ``run_query`` creates a table. Rendered at compile time, both did nothing."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "macros/record.sql": RECORD_MODELS,
            "models/model_names.sql": (
                "{{ config(materialized='table', post_hook=\"{{ record_models(this) }}\") }}\n"
                "select cast(null as varchar) as name where false\n"
            ),
            "models/other.sql": "select 1 as x\n",
        },
        project_yml="""
            on-run-end:
              - "{% if execute %}{% do run_query('create or replace table run_end_audit as
                select count(*) as n from model_names') %}{% endif %}"
        """,
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from model_names order by 1") == [
        ("model_names:table",), ("other:view",),
    ]  # fmt: skip
    assert rows(root, "select * from run_end_audit") == [(2,)]


def test_exposures_and_commented_sources_in_dbts_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch
) -> None:
    """An exposure is in dbt's manifest.json (and so in ``graph.exposures``), with dbt's fields;
    a ``source()`` called in a SQL comment is a dependency, as dbt records every call (fields
    checked against dbt-duckdb 1.11's manifest of the same project)."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "seeds/raw_people.csv": "id\n1\n",
            "models/staging/src.yml": """
                version: 2
                sources:
                  - name: raw
                    schema: main
                    tables:
                      - name: raw_people
            """,
            "models/staging/stg.sql": (
                "-- depends on: {{ source('raw', 'raw_people') }}\nselect 1 as id\n"
            ),
            "models/marts/exposures.yml": """
                version: 2
                exposures:
                  - name: dash
                    type: dashboard
                    maturity: low
                    url: example.com/dash
                    owner: {name: Ann, email: ann@example.com}
                    config:
                      tags: [bi]
                    depends_on:
                      - ref('stg')
                      - source('raw', 'raw_people')
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["nodes"]["model.shape.stg"]["depends_on"]["nodes"] == [
        "source.shape.raw.raw_people"
    ]
    exposure = manifest["exposures"]["exposure.shape.dash"]
    assert {k: exposure[k] for k in ("fqn", "path", "original_file_path", "type", "maturity",
                                     "tags", "url", "depends_on", "sources", "refs")} == {
        "fqn": ["shape", "marts", "dash"],
        "path": "marts/exposures.yml",
        "original_file_path": "models/marts/exposures.yml",
        "type": "dashboard",
        "maturity": "low",
        "tags": ["bi"],
        "url": "example.com/dash",
        "depends_on": {"macros": [], "nodes": ["source.shape.raw.raw_people", "model.shape.stg"]},
        "sources": [["raw", "raw_people"]],
        "refs": [{"name": "stg", "package": None, "version": None}],
    }  # fmt: skip
    assert "exposure.shape.dash" in manifest["child_map"]["model.shape.stg"]


def test_manifest_fields_dbt_tooling_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orch: RunOrch
) -> None:
    """What dbt-project-evaluator reads of each node, as dbt-duckdb 1.11 writes it for the same
    project: an enforced contract's checksum, access and group, a generic test's path,
    file_key_name and ``model`` kwarg, dbt's default threshold text, a package's source id and
    the table's own description."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "packages.yml": "packages:\n  - local: pkgs/kit\n",
            "dbt_packages/kit/dbt_project.yml": "name: kit\nconfig-version: 2\n",
            "dbt_packages/kit/models/kit_sources.yml": """
                version: 2
                sources:
                  - name: kit_raw
                    schema: main
                    description: The kit's raw tables.
                    tables:
                      - name: kit_table
            """,
            "models/report.sql": "select 1 as id, 'a' as name\n",
            "models/report.yml": """
                version: 2
                groups:
                  - name: finance
                    owner: {name: Fin}
                models:
                  - name: report
                    config:
                      access: public
                      group: finance
                      materialized: table
                      contract: {enforced: true}
                    columns:
                      - name: id
                        data_type: integer
                        data_tests: [unique]
                      - name: name
                        data_type: varchar
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    report = manifest["nodes"]["model.shape.report"]
    assert report["contract"] == {
        "enforced": True, "alias_types": True,
        "checksum": "1cbf0f83ca06d81a7a872416af49481ee148f6fc82ea6b76c3d6e59856774cb3",
    }  # fmt: skip
    assert (report["access"], report["group"], report["docs"]) == (
        "public", "finance", {"show": True, "node_color": None},
    )  # fmt: skip
    test = manifest["nodes"]["test.shape.unique_report_id.68b202899b"]
    assert (test["path"], test["file_key_name"], test["config"]["warn_if"]) == (
        "unique_report_id.sql", "models.report", "!= 0",
    )  # fmt: skip
    assert test["test_metadata"]["kwargs"] == {
        "column_name": "id", "model": "{{ get_where_subquery(ref('report')) }}",
    }  # fmt: skip
    source = manifest["sources"]["source.kit.kit_raw.kit_table"]
    assert (source["description"], source["source_description"]) == ("", "The kit's raw tables.")
