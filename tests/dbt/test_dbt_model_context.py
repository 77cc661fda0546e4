"""dbt's ``model`` context variable: the node being rendered, as far as orch knows it then.

The expected rows are what ``dbt build`` (dbt-core 1.11.16, dbt-duckdb 1.11.1) wrote for this
same project: ``model.name``, ``model.package_name`` and ``model.original_file_path`` are those
of the model rendering, also inside a package's macro. Other attributes are refused by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch, Warehouse

PROJECT = {
    "dbt_project.yml": """\
name: 'mctx'
version: '1.0.0'
config-version: 2
profile: 'mctx'
models:
  mctx:
    +materialized: table
""",
    "profiles.yml": """\
mctx:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: mctx.duckdb
      threads: 1
""",
    "dbt_packages/pk/dbt_project.yml": "name: 'pk'\nversion: '1.0.0'\nconfig-version: 2\n",
    # a package macro sees the calling model (dbt_utils' deprecation messages do this)
    "dbt_packages/pk/macros/who.sql": (
        "{% macro who() %}'{{ model.package_name }}.{{ model.name }}'{% endmacro %}\n"
    ),
    "dbt_packages/pk/models/pk_model.sql": (
        "select {{ who() }} as who, '{{ model.original_file_path }}' as file\n"
    ),
    "models/marts/root_model.sql": (
        "select {{ pk.who() }} as who, '{{ model.original_file_path }}' as file, "
        "'{{ model[\"name\"] }}' as n\n"
    ),
}


@pytest.fixture
def mctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "mctx"
    for rel, text in PROJECT.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(project)
    return project


def test_model_names_the_node_rendering_as_in_dbt(mctx: Path, orch: RunOrch):
    result = orch("build")
    assert result.exit_code == 0, result.output + result.stderr
    db = Warehouse(mctx / "mctx.duckdb")
    assert db.rows("select * from main.pk_model") == [("pk.pk_model", "models/pk_model.sql")]
    assert db.rows("select * from main.root_model") == [
        ("mctx.root_model", "models/marts/root_model.sql", "root_model")
    ]


def test_an_attribute_orch_does_not_know_yet_is_refused_by_name(mctx: Path, orch: RunOrch):
    # dbt renders 'table' here; orch merges settings after rendering, so it refuses
    (mctx / "models" / "marts" / "uses_config.sql").write_text(
        "select '{{ model.config.materialized }}' as m\n"
    )
    result = orch("build")
    assert result.exit_code == 2
    assert "models/marts/uses_config.sql:1: model.config is not supported by orch" in result.stderr
    assert "use config.get() for settings" in result.stderr
    assert "Traceback" not in result.stderr
