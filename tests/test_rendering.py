"""Jinja rendering: recording context, macros, template errors, no secrets in artifacts."""

from __future__ import annotations

from pathlib import Path

from orch.manifest import Manifest

from tests.conftest import MakeProject, run_cli

SEEDS = {"seeds/raw_orders.csv": "id,customer_id,amount_cents\n1,1,1000\n"}


def compile_ok(root: Path, *args: str) -> Manifest:
    run = run_cli("compile", "--project-dir", root, *args)
    assert run.exit_code == 0, run.output
    return Manifest.read(root / "target" / "manifest.json")


def compile_error(root: Path, *args: str) -> str:
    run = run_cli("compile", "--project-dir", root, *args)
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    return run.stderr.strip()


def test_ref_and_source(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "models/_sources.yml": """
                sources:
                  - name: crm
                    tables: [{name: customers}]
                """,
            "models/stg_orders.sql": "select id, customer_id from {{ ref('raw_orders') }}",
            "models/joined.sql": """
                select o.id, c.name
                from {{ ref('stg_orders') }} as o
                join {{ source('crm', 'customers') }} c on c.id = o.customer_id
                """,
        },
    )
    manifest = compile_ok(root)
    joined = manifest.nodes["joined"]
    assert joined.depends_on == ["crm.customers", "stg_orders"]
    assert joined.compiled_code == (
        "select o.id, c.name\n"
        'from "analytics"."stg_orders" as o\n'
        'join "crm"."customers" c on c.id = o.customer_id'
    )
    assert manifest.nodes["stg_orders"].compiled_code == (
        'select id, customer_id from "analytics"."raw_orders"'
    )
    assert "{{ ref('stg_orders') }}" in joined.raw_code


def test_config_var_and_target(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "models/big.sql": """
                {{ config(materialized='table', tags=['vip']) }}
                select id from raw_orders
                where amount_cents > {{ var('min_cents') }}
                  and '{{ target.name }}' = 'dev' and '{{ target.schema }}' = 'analytics'
                """,
        },
        project_yml="name: shop\nprofile: shop\nvars: {min_cents: 500}\n",
    )
    node = compile_ok(root).nodes["big"]
    assert node.materialized == "table"
    assert node.tags == ["vip"]
    assert "amount_cents > 500" in node.compiled_code
    assert "'dev' = 'dev' and 'analytics' = 'analytics'" in node.compiled_code
    assert node.compiled_code.startswith('select id from "analytics"."raw_orders"')


def test_this_and_is_incremental(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "models/events.sql": """
                {{ config(materialized='incremental', unique_key='id') }}
                select id, amount_cents from raw_orders
                {% if is_incremental() %}
                where id > (select max(id) from {{ this }})
                {% endif %}
                """,
        },
    )
    node = compile_ok(root).nodes["events"]
    assert node.depends_on == ["raw_orders"]  # {{ this }} is no edge
    assert "max(id)" not in node.compiled_code
    assert node.compiled_code_incremental is not None
    assert 'where id > (select max(id) from "analytics"."events")' in (
        node.compiled_code_incremental
    )


def test_macros(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "macros/money.sql": """
                {% macro cents_to_dollars(col, scale=2) -%}
                    round({{ col }} / 100.0, {{ scale }})
                {%- endmacro %}
                """,
            "macros/calls.sql": """
                {% macro dollars(col) -%}{{ cents_to_dollars(col, 1) }}{%- endmacro %}
                """,
            "models/m.sql": (
                "select {{ cents_to_dollars('amount_cents') }} as a, {{ dollars('amount_cents') }}"
                " as b from raw_orders"
            ),
        },
    )
    code = compile_ok(root).nodes["m"].compiled_code
    assert code.startswith(
        "select round(amount_cents / 100.0, 2) as a, round(amount_cents / 100.0, 1) as b"
    )


def test_jinja_syntax_error_names_file_and_line(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {**SEEDS, "models/bad.sql": "select id\nfrom raw_orders\n{% if true %}\nwhere 1 = 1\n"},
    )
    assert compile_error(root) == (
        "Error: models/bad.sql:3: Jinja syntax error: Unexpected end of template. Jinja was "
        "looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that "
        "needs to be closed is 'if'. Fix the template syntax"
    )


def test_jinja_runtime_error_names_template_line(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {**SEEDS, "models/bad.sql": "select id,\n  {{ 1 / 0 }} as x\nfrom raw_orders\n"},
    )
    assert compile_error(root) == (
        "Error: models/bad.sql:2: Jinja error: division by zero. Fix the template"
    )


def test_undefined_name_in_template(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path, {**SEEDS, "models/bad.sql": "select id\nfrom raw_orders\nwhere {{ nope() }}\n"}
    )
    assert compile_error(root) == (
        "Error: models/bad.sql:3: Jinja error: 'nope' is undefined. Fix the template"
    )


def test_macro_syntax_error(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "macros/broken.sql": "{% macro m() %}\n  {{ x \n{% endmacro %}\n",
            "models/a.sql": "select 1 as x",
        },
    )
    message = compile_error(root)
    assert message.startswith("Error: macros/broken.sql:3: Jinja syntax error in macro file: ")


def test_missing_var(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path,
        {**SEEDS, "models/a.sql": "select id\nfrom raw_orders\nwhere id > {{ var('min_idd') }}\n"},
        project_yml="name: shop\nprofile: shop\nvars: {min_id: 1}\n",
    )
    assert compile_error(root) == (
        "Error: models/a.sql:3: var('min_idd') is not defined. Did you mean 'min_id'?"
    )


def test_var_default(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path, {**SEEDS, "models/a.sql": "select id from raw_orders limit {{ var('n', 3) }}"}
    )
    assert compile_ok(root).nodes["a"].compiled_code.endswith("limit 3")


def test_missing_env_var_in_model(make_project: MakeProject, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("ORCH_TEST_MISSING", raising=False)
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "models/a.sql": "select id,\n"
            "'{{ env_var('ORCH_TEST_MISSING') }}' as k\nfrom raw_orders",
        },
    )
    assert compile_error(root) == (
        "Error: models/a.sql:2: environment variable 'ORCH_TEST_MISSING' is not set. "
        "Set it, or give env_var() a default: env_var('NAME', 'default')"
    )


SECRET = "s3cr3t-Xq9-value-7781"


def test_env_var_values_never_written(make_project: MakeProject, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ORCH_TEST_API_KEY", SECRET)
    monkeypatch.setenv("ORCH_TEST_SCHEMA", "analytics")
    profiles = """\
    shop:
      target: dev
      outputs:
        dev:
          type: duckdb
          path: "{{ env_var('ORCH_TEST_API_KEY') }}.duckdb"
          schema: "{{ env_var('ORCH_TEST_SCHEMA') }}"
    """
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "models/a.sql": """
                {{ config(materialized='table', meta={'key': env_var('ORCH_TEST_API_KEY')}) }}
                select id, '{{ env_var('ORCH_TEST_API_KEY') }}' as api_key from raw_orders
                """,
        },
        profiles_yml=profiles,
    )
    manifest = compile_ok(root)
    code = manifest.nodes["a"].compiled_code
    assert "'__orch_env_var__ORCH_TEST_API_KEY__' as api_key" in code
    for path in (root / "target").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    compiled = root / "target" / "compiled" / "models" / "a.sql"
    assert "__orch_env_var__ORCH_TEST_API_KEY__" in compiled.read_text()


def test_env_var_secret_scrubbed_from_errors(
    make_project: MakeProject, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("ORCH_TEST_API_KEY", SECRET)
    root = make_project(
        tmp_path,
        {
            **SEEDS,
            "models/a.sql": "select id from raw_orders\n"
            "{{ exceptions.raise_compiler_error("
            "'bad key ' ~ env_var('ORCH_TEST_API_KEY').value) }}",
        },
    )
    message = compile_error(root)
    assert SECRET not in message
    assert "<env_var('ORCH_TEST_API_KEY')>" in message
