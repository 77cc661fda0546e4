"""``orch build --project-dir <dbt project>`` builds what ``dbt build`` would, with no edit.

The expected relations, types and rows are derived from dbt's documented semantics (stated next to
each assertion) for the fixture ``fixtures/coffee_dbt``: profile ``coffee``, target ``dev`` with
no ``schema`` (dbt-duckdb's default schema is ``main``), ``+schema`` custom schemas concatenated as
``<target schema>_<custom>`` by dbt's default ``generate_schema_name``.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from tests.dbt.conftest import RunOrch, Warehouse, load_raw_batches, without_hash


def build(orch: RunOrch, project: Path, *extra: str):
    """Run ``orch build`` on the project; it must succeed."""
    result = orch("build", "--project-dir", str(project), *extra)
    assert result.exit_code == 0, result.output + result.stderr
    return result


# --------------------------------------------------------------------------- relations


def test_relations_land_where_dbt_puts_them(coffee: Path, orch: RunOrch, warehouse: Warehouse):
    build(orch, coffee)
    assert warehouse.relations() == {
        # seeds: +schema: raw -> main_raw
        ("main_raw", "customers", "TABLE"),
        ("main_raw", "orders", "TABLE"),
        ("main_raw", "refunds", "TABLE"),
        ("main_raw", "beans", "TABLE"),
        # staging/: +materialized: view, +schema: staging -> main_staging (views)
        ("main_staging", "stg_customers", "VIEW"),
        ("main_staging", "stg_orders", "VIEW"),
        ("main_staging", "stg_roast_batches", "VIEW"),
        # staging/legacy/stg_beans: `materialized: ephemeral` (no '+'): no relation at all
        # marts/: the project-level +materialized: table, the profile schema
        ("main", "dim_customers", "TABLE"),
        ("main", "dim_beans", "TABLE"),
        ("main", "fct_orders", "TABLE"),  # incremental: a table
        # marts/finance/: +schema: finance -> main_finance
        ("main_finance", "revenue_by_day", "TABLE"),
        # the source table the test loaded before the build
        ("roastery_raw", "batches_v1", "TABLE"),
    }
    # target-path: build_artifacts (not target/); paths listed but missing are fine
    assert (coffee / "build_artifacts" / "manifest.json").is_file()
    assert not (coffee / "target").exists()
    assert not (coffee / "analyses").exists() and not (coffee / "snapshots").exists()


def test_rows_follow_the_jinja(coffee: Path, orch: RunOrch, warehouse: Warehouse, monkeypatch):
    # COFFEE_REGION unset: env_var()'s default 'eu' compiles into the view as text (a set value
    # may not go into a view: the warehouse would store it, see tests/test_secrets.py)
    monkeypatch.delenv("COFFEE_REGION", raising=False)
    build(orch, coffee)
    # var('min_order_total') = 5 drops order 11 (4.00); {% for %} makes one flag per status
    rows = warehouse.rows(
        "SELECT order_id, is_placed, is_shipped, is_returned, loaded_by_target, warehouse_type, "
        "target_schema, region FROM main_staging.stg_orders ORDER BY order_id"
    )
    assert [r[0] for r in rows] == [10, 12, 13, 14, 15]
    assert rows[0] == (10, False, True, False, "dev", "duckdb", "main", "eu")
    assert rows[1][1:4] == (False, False, True)
    # dim_customers: the CTE named stg_orders (returned orders removed) is local to the query;
    # loyal = at least vars.coffee_dbt.loyal_after_orders (2, a project-scoped var) orders
    assert warehouse.rows(
        "SELECT customer_id, full_name, city, order_count, lifetime_total, is_loyal "
        "FROM main.dim_customers ORDER BY customer_id"
    ) == [
        (1, "Okafor, Ada", "Lagos", 2, Decimal("19.50"), True),
        (2, "Bruno Silva", "unknown", 0, Decimal("0.00"), False),
        (3, 'Chen "CC" Chen', "Taipei", 2, Decimal("28.00"), True),
        (4, "Dana Ivers", "Oslo", 0, Decimal("0.00"), False),
    ]
    # the macro to_cents() and the incremental model's first (full) build
    assert warehouse.rows("SELECT order_id, total_cents FROM main.fct_orders ORDER BY 1") == [
        (10, 1250), (12, 3000), (13, 1825), (14, 975), (15, 700),
    ]  # fmt: skip
    # returned order 12 excluded: four days left
    assert warehouse.rows(
        "SELECT ordered_on::VARCHAR, orders, revenue FROM main_finance.revenue_by_day ORDER BY 1"
    ) == [
        ("2024-03-01", 1, Decimal("12.50")),
        ("2024-03-05", 1, Decimal("18.25")),
        ("2024-03-09", 1, Decimal("9.75")),
        ("2024-03-10", 1, Decimal("7.00")),
    ]
    # the ephemeral model was inlined; adapter.quote('origin') kept the column; the seed's text
    # 'null' is text on dbt-duckdb, so it is not missing (verified against dbt-core 1.11 /
    # dbt-duckdb 1.11)
    assert warehouse.rows("SELECT bean_code, origin_country, region_missing FROM dim_beans") == [
        ("ETH", "Ethiopia", False), ("COL", "Colombia", False), ("NA1", "NA", False),
    ]  # fmt: skip


def test_seed_types_and_values_like_dbt_duckdb(coffee: Path, orch: RunOrch, warehouse: Warehouse):
    build(orch, coffee)
    # dbt types a seed with agate, then dbt-duckdb maps: whole numbers -> INTEGER, YYYY-MM-DD ->
    # DATE, true/false -> BOOLEAN, anything else -> VARCHAR; column_types override (project file:
    # order_total; the seed's YAML config: order_id)
    assert warehouse.types("main_raw.customers") == {
        "customer_id": "INTEGER", "full_name": "VARCHAR", "city": "VARCHAR",
        "signed_up_on": "DATE",
    }  # fmt: skip
    assert warehouse.types("main_raw.orders") == {
        "order_id": "BIGINT", "customer_id": "INTEGER", "ordered_on": "DATE",
        "status": "VARCHAR", "order_total": "DECIMAL(10,2)", "is_gift": "BOOLEAN",
    }  # fmt: skip
    # a header-only file: agate tries number first and no row rules it out -> INTEGER, 0 rows
    assert warehouse.types("main_raw.refunds") == {
        "refund_id": "INTEGER", "order_id": "INTEGER", "amount": "INTEGER",
    }  # fmt: skip
    assert warehouse.rows("SELECT count(*) FROM main_raw.refunds") == [(0,)]
    # customers.csv has CRLF line ends, a quoted comma, doubled quotes, empty values -> NULL
    assert warehouse.rows("SELECT * FROM main_raw.customers ORDER BY 1") == [
        (1, "Okafor, Ada", "Lagos", __import__("datetime").date(2024, 1, 3)),
        (2, "Bruno Silva", None, __import__("datetime").date(2024, 1, 10)),
        (3, 'Chen "CC" Chen', "Taipei", __import__("datetime").date(2024, 2, 1)),
        (4, "Dana Ivers", "Oslo", None),
    ]
    assert (coffee / "reference_data" / "customers.csv").read_bytes().count(b"\r\n") == 5
    # the text 'NA' stays text (pyarrow would null it); dbt-duckdb loads the rows with DuckDB's
    # COPY, where only an empty field is NULL: 'null' stays text too (the derived expectation was
    # NULL, as agate reads it; verified against dbt-core 1.11 / dbt-duckdb 1.11)
    assert warehouse.rows("SELECT origin, region FROM main_raw.beans WHERE bean_code = 'NA1'") == [
        ("NA", "null")
    ]
    # an empty is_gift (order 13) is NULL in the seed; the model's coalesce makes it false
    assert warehouse.rows("SELECT is_gift FROM main_raw.orders WHERE order_id = 13") == [(None,)]


def test_tests_run_with_dbt_results(coffee: Path, orch: RunOrch):
    result = build(orch, coffee)
    results = json.loads((coffee / "build_artifacts" / "run_results.json").read_text())["results"]
    status = {without_hash(r["unique_id"]): r["status"] for r in results}
    # dbt-like unique ids for models and seeds
    assert status["model.coffee_dbt.stg_orders"] == "success"
    assert status["seed.coffee_dbt.customers"] == "success"
    assert "model.coffee_dbt.stg_beans" not in status  # ephemeral: nothing to run
    tests = {k: v for k, v in status.items() if k.startswith("test.coffee_dbt.")}
    assert not [k for k in status if k.startswith("check.")]
    # three warnings, derived from the data:
    # - stg_customers.city accepted_values (values under `arguments:`, severity warn under
    #   `config:`): Bruno's missing city became 'unknown'
    # - fct_orders.status accepted_values [placed, shipped], top-level severity: warn and
    #   where: ordered_on < '2024-03-06': order 12 (returned, 03-04) fails; order 15 is outside
    # - stg_roast_batches.kilos not_null (severity: warn): batch 2 has no weight
    # test names are dbt's: values keep their case, every argument (quote: false, to:
    # ref(...)) is part of the name, a source's tests start with source_ (verified against
    # dbt-core 1.11 / dbt-duckdb 1.11: the same names, without dbt's hash suffix)
    warned = sorted(k for k, v in tests.items() if v == "warn")
    assert [w.split(".")[2] for w in warned] == [
        "accepted_values_fct_orders_status__placed__shipped",
        "accepted_values_stg_customers_city__Lagos__Taipei__Oslo",
        "not_null_stg_roast_batches_kilos",
    ]
    # everything else passes: unique/not_null (tests: and data_tests:), relationships with
    # to: ref('stg_customers') + field, accepted_values with quote: false, not_null with a
    # where under config:, the source's tests, the seed's tests and the singular test
    passed = {k.split(".")[2] for k, v in tests.items() if v == "pass"}
    assert {
        "unique_stg_orders_order_id",
        "not_null_stg_orders_order_id",
        "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_",
        "accepted_values_stg_orders_status__placed__shipped__returned",
        "accepted_values_dim_customers_order_count__False__0__1__2__3",
        "not_null_dim_customers_customer_id",
        "source_unique_roastery_roast_batches_batch_id",
        "source_not_null_roastery_roast_batches_batch_id",
        "unique_customers_customer_id",
        "unique_orders_order_id",
        "assert_no_negative_revenue",
    } <= passed
    assert len(tests) == 21 and len(passed) == 18
    # a documented column the model does not produce: a warning, not an error
    assert "column 'discount_code' of 'stg_orders' is documented" in result.stderr


def test_error_severity_test_fails_the_build(coffee: Path, orch: RunOrch):
    schema = coffee / "transform" / "marts" / "schema.yml"
    schema.write_text(
        schema.read_text().replace("severity: warn\n", "severity: error\n"), encoding="utf-8"
    )
    result = orch("build", "--project-dir", str(coffee))
    assert result.exit_code == 1  # like dbt build: a failing error-severity test exits 1
    results = json.loads((coffee / "build_artifacts" / "run_results.json").read_text())["results"]
    failed = [r["unique_id"] for r in results if r["status"] == "fail"]
    assert failed == [  # dbt: md5 hash suffix
        "test.coffee_dbt.accepted_values_fct_orders_status__placed__shipped.fdb2fc6a55"
    ]
    # like dbt build (verified against dbt-core 1.11.16 / dbt-duckdb 1.11.1 with
    # bench/compare_dbt.py): the model below the failing test and its tests are skipped, the
    # model's other tests still run
    status = {without_hash(r["unique_id"]): r["status"] for r in results}
    assert status["model.coffee_dbt.revenue_by_day"] == "skipped"
    assert status["test.coffee_dbt.unique_fct_orders_order_id"] == "pass"
    skipped = sorted(u for u, st in status.items() if st == "skipped")
    assert len(skipped) == 3, skipped


def test_incremental_second_build_appends_new_rows(coffee: Path, orch: RunOrch, warehouse):
    build(orch, coffee)
    with (coffee / "reference_data" / "orders.csv").open("a", encoding="utf-8") as f:
        f.write("16,2,2024-03-11,placed,21.00,false\n")
    build(orch, coffee)
    # is_incremental() is true now: rows on or after max(ordered_on) of {{ this }} are merged on
    # unique_key order_id -> order 15 replaced by itself, order 16 added
    assert warehouse.rows("SELECT order_id FROM main.fct_orders ORDER BY 1") == [
        (10,), (12,), (13,), (14,), (15,), (16,),
    ]  # fmt: skip


def test_manifest_keeps_dbt_settings_and_docs(coffee: Path, orch: RunOrch):
    build(orch, coffee)
    # orch's own manifest sits beside dbt's manifest.json in a dbt project
    manifest = json.loads((coffee / "build_artifacts" / "orch_manifest.json").read_text())
    nodes = manifest["nodes"]
    assert nodes["stg_orders"]["unique_id"] == "model.coffee_dbt.stg_orders"
    # +docs: {node_color} is not an orch setting: kept, not an error
    assert nodes["dim_customers"]["config"]["extra"]["docs"] == {"node_color": "#6f4e37"}
    assert nodes["revenue_by_day"]["config"]["extra"]["persist_docs"] == {
        "relation": True, "columns": True,
    }  # fmt: skip
    # nested folder configs: tags accumulate (marts + finance), meta from marts/finance
    assert nodes["revenue_by_day"]["config"]["tags"] == ["marts", "finance"]
    assert nodes["revenue_by_day"]["config"]["meta"] == {"owner": "finance-team"}
    assert nodes["stg_beans"]["config"]["tags"] == ["legacy"]
    # {{ doc() }} in YAML descriptions, from .md files in docs-paths and model-paths
    assert nodes["dim_customers"]["description"].startswith("One row per customer")
    assert nodes["stg_orders"]["columns"]["status"]["description"] == (
        "One of `placed`, `shipped` or `returned`."
    )
    assert nodes["customers"]["description"] == (
        "Customers of the roastery (exported from the shop's CRM)."
    )
    assert manifest["docs"]["__overview__"].startswith("# Coffee roastery")
    assert manifest["project"]["flavor"] == "dbt"


# --------------------------------------------------------------------------- profiles


def test_profiles_dir_option_and_target(coffee: Path, orch: RunOrch, tmp_path: Path, warehouse):
    elsewhere = tmp_path / "profiles"
    elsewhere.mkdir()
    shutil.move(coffee / "profiles.yml", elsewhere / "profiles.yml")
    load_raw_batches(coffee / "ci.duckdb")
    build(orch, coffee, "--profiles-dir", str(elsewhere), "--target", "ci")
    # target ci: schema analytics, path from env_var('COFFEE_CI_DB', 'ci.duckdb')
    ci = Warehouse(coffee / "ci.duckdb")
    schemas = {(s, n) for s, n, _ in ci.relations()}
    assert ("analytics_staging", "stg_orders") in schemas
    assert ("analytics", "dim_customers") in schemas
    assert ("analytics_raw", "customers") in schemas
    sql = "SELECT DISTINCT loaded_by_target, target_schema FROM analytics_staging.stg_orders"
    assert ci.rows(sql) == [("ci", "analytics")]


def test_dbt_profiles_dir_wins_over_the_project_folder(
    coffee: Path, orch: RunOrch, tmp_path, monkeypatch
):
    # dbt's order: --profiles-dir, DBT_PROFILES_DIR, the current directory, ~/.dbt/
    env_dir = tmp_path / "ci_profiles"
    env_dir.mkdir()
    text = (coffee / "profiles.yml").read_text().replace("target: dev", "target: ci", 1)
    (env_dir / "profiles.yml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(env_dir))
    monkeypatch.setenv("COFFEE_CI_DB", str(tmp_path / "from_env.duckdb"))
    load_raw_batches(tmp_path / "from_env.duckdb")
    build(orch, coffee)
    assert (tmp_path / "from_env.duckdb").is_file()


def test_profiles_in_home_dbt(coffee: Path, orch: RunOrch, tmp_path: Path):
    home_dbt = tmp_path / "home" / ".dbt"
    home_dbt.mkdir()
    shutil.move(coffee / "profiles.yml", home_dbt / "profiles.yml")
    build(orch, coffee)
    assert ("main", "dim_customers", "TABLE") in Warehouse(coffee / "coffee.duckdb").relations()


def test_relative_duckdb_path_is_opened_from_the_current_directory(
    coffee: Path, orch: RunOrch, tmp_path: Path, monkeypatch
):
    # dbt-duckdb hands `path` to duckdb.connect(): relative to where dbt runs, not the project
    elsewhere = tmp_path / "run_here"
    elsewhere.mkdir()
    shutil.move(coffee / "coffee.duckdb", elsewhere / "coffee.duckdb")  # the loaded source
    monkeypatch.chdir(elsewhere)
    result = build(orch, coffee)
    assert ("main", "dim_customers", "TABLE") in Warehouse(elsewhere / "coffee.duckdb").relations()
    assert not (coffee / "coffee.duckdb").exists()
    assert "is relative, so (as in dbt) it is opened from the current directory" in result.stderr


def test_snowflake_output_compiles(coffee: Path, orch: RunOrch, monkeypatch):
    monkeypatch.setenv("SNOWFLAKE_USER", "dbt_user")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "s3cret-pw")
    result = orch("compile", "--project-dir", str(coffee), "--target", "prod")
    assert result.exit_code == 0, result.output + result.stderr
    assert "s3cret-pw" not in (coffee / "build_artifacts" / "manifest.json").read_text()
    text = (coffee / "build_artifacts" / "orch_manifest.json").read_text()
    assert "s3cret-pw" not in text
    nodes = json.loads(text)["nodes"]
    # Snowflake stores unquoted names in upper case: schema coffee + custom staging
    assert nodes["stg_orders"]["relation"] == {
        "database": "ANALYTICS", "schema_name": "COFFEE_STAGING", "identifier": "STG_ORDERS",
    }  # fmt: skip
    assert nodes["revenue_by_day"]["relation"]["schema_name"] == "COFFEE_FINANCE"
    assert nodes["customers"]["config"]["column_types"]["customer_id"] == "NUMBER(38,0)"
    compiled = nodes["stg_orders"]["compiled_code"]
    assert "'prod' AS loaded_by_target" in compiled and "'snowflake' AS warehouse_type" in compiled


def test_generate_schema_name_override(coffee: Path, orch: RunOrch, warehouse: Warehouse):
    # a common override: use the custom schema as is (dbt calls it for every model and seed)
    (coffee / "macros" / "schemas.sql").write_text(
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n"
        "    {%- if custom_schema_name is none -%}\n"
        "        {{ return(target.schema) }}\n"
        "    {%- else -%}\n"
        "        {{ return(custom_schema_name | trim) }}\n"
        "    {%- endif -%}\n"
        "{%- endmacro %}\n",
        encoding="utf-8",
    )
    build(orch, coffee)
    names = {(s, n) for s, n, _ in warehouse.relations()}
    assert {("staging", "stg_orders"), ("raw", "customers"), ("finance", "revenue_by_day"),
            ("main", "dim_customers")} <= names  # fmt: skip


def test_seed_with_bom_line_breaks_and_timestamps(coffee: Path, orch: RunOrch, warehouse):
    # dbt strips a UTF-8 BOM, keeps line breaks inside quoted fields, and types
    # 'YYYY-MM-DD HH:MM:SS' as a datetime (TIMESTAMP on dbt-duckdb)
    (coffee / "reference_data" / "notes.csv").write_bytes(
        b'\xef\xbb\xbfcode,note,at\n1,"two\nlines",2024-01-01 10:00:00\n'
        b"2,plain,2024-01-02 11:30:00\n"
    )
    build(orch, coffee, "-s", "notes")
    assert warehouse.types("main_raw.notes") == {
        "code": "INTEGER", "note": "VARCHAR", "at": "TIMESTAMP",
    }  # fmt: skip
    assert warehouse.rows("SELECT code, note FROM main_raw.notes ORDER BY 1") == [
        (1, "two\nlines"), (2, "plain"),
    ]  # fmt: skip


def test_docs_paths_limit_where_docs_blocks_are_read(coffee: Path, orch: RunOrch):
    # with docs-paths set, dbt reads docs blocks only there: core_docs.md under transform/ is
    # then "not found" (dbt: "depends on doc 'dim_customers' which was not found"; verified
    # against dbt-core 1.11 / dbt-duckdb 1.11)
    project_file = coffee / "dbt_project.yml"
    project_file.write_text(
        project_file.read_text().replace('["docs_blocks", "transform"]', '["docs_blocks"]'),
        encoding="utf-8",
    )
    result = orch("compile", "--project-dir", str(coffee))
    assert result.exit_code == 2
    assert "'dim_customers' uses doc('dim_customers'), but no docs block" in result.stderr


def test_seed_nulls_follow_the_adapter():
    # dbt-duckdb COPYs the CSV (only '' is NULL); dbt-snowflake inserts agate's values ('' and
    # 'null' are NULL) — verified against dbt-core 1.11 / dbt-duckdb 1.11 for DuckDB
    from orch.load.dbt_seeds import csv_null_values

    assert csv_null_values("duckdb") == [""]
    assert {"", "null"} <= set(csv_null_values("snowflake"))


SOURCE_TESTS = {
    "dbt_project.yml": "name: srct\nprofile: srct\nmodels:\n  srct:\n    +materialized: table\n",
    "models/sources.yml": """
version: 2
sources:
  - name: raw
    schema: main
    tables:
      - name: people
        columns:
          - name: id
            data_tests: [not_null]
          - name: name
            data_tests: [{not_null: {config: {severity: warn}}}]
      - name: pets
        columns:
          - name: id
            data_tests: [not_null]
""",
    "models/stg_people.sql": "select * from {{ source('raw', 'people') }}",
    "models/people_final.sql": "select * from {{ ref('stg_people') }}",
    "models/stg_pets.sql": "select * from {{ source('raw', 'pets') }}",
    "models/other.sql": "select 1 as x",
}


def test_a_failing_source_test_skips_the_models_reading_it(tmp_path: Path, orch: RunOrch):
    """dbt's build runs a source's tests before the models selecting from it; one failing at
    error severity skips them and what is downstream (dbt-core 1.11, this project: stg_people and
    people_final skipped, the warn test only warns, stg_pets and other built)."""
    import duckdb

    profile = f"srct:\n  outputs:\n    dev: {{type: duckdb, path: '{tmp_path / 'w.duckdb'}'}}\n"
    (tmp_path / "profiles.yml").write_text(profile + "  target: dev\n")
    for rel, text in SOURCE_TESTS.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create table people as select * from (values (1, null), (null, 'b')) t(id, name)")
    con.execute("create table pets as select 1 as id")
    con.close()
    result = orch("build", "--project-dir", str(tmp_path), "--profiles-dir", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "SKIP    stg_people: test 'source_not_null_raw_people_id' failed" in result.output
    statuses = {
        without_hash(r["unique_id"]): r["status"]
        for r in json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    }
    assert statuses == {
        "model.srct.stg_people": "skipped",
        "model.srct.people_final": "skipped",
        "model.srct.stg_pets": "success",
        "model.srct.other": "success",
        "test.srct.source_not_null_raw_people_id": "fail",
        "test.srct.source_not_null_raw_people_name": "warn",
        "test.srct.source_not_null_raw_pets_id": "pass",
    }
    messages = {
        without_hash(r["unique_id"]): r["message"]
        for r in json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("test.")
    }
    assert messages == {  # dbt's words, as its run_results.json has them
        "test.srct.source_not_null_raw_people_id": "Got 1 result, configured to fail if != 0",
        "test.srct.source_not_null_raw_people_name": "Got 1 result, configured to warn if != 0",
        "test.srct.source_not_null_raw_pets_id": None,
    }


EXTERNAL_SOURCES = {
    "dbt_project.yml": "name: extl\nprofile: extl\n",
    "models/sources.yml": """
version: 2
sources:
  - name: files
    meta:
      external_location: "read_csv('data/{name}.csv', header := true)"
    tables:
      - name: people
        columns:
          - name: id
            data_tests: [not_null, unique]
      - name: pets
        identifier: v2
        config:
          external_location: "data/pets_%(identifier)s.csv"
          formatter: oldstyle
""",
    "data/people.csv": "id,name\n1,ann\n2,bob\n",
    "data/pets_v2.csv": "id,kind\n1,cat\n",
    "models/people.sql": "select p.id, p.name from {{ source('files', 'people') }} p",
    "models/pets.sql": "select * from {{ source('files', 'pets') }}",
}


def test_external_location_sources_read_their_files(tmp_path: Path, orch: RunOrch, monkeypatch):
    """dbt-duckdb's ``external_location`` (source ``meta:`` or a table's ``config:``, formatted
    with the table's name/identifier): ``source()`` reads the files, and so do its tests (dbt-duckdb
    1.11 on this project: both views built, both tests pass, ``select * from
    'data/pets_v2.csv'``)."""
    import duckdb

    for rel, text in EXTERNAL_SOURCES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    output = f"{{type: duckdb, path: '{tmp_path / 'w.duckdb'}'}}"
    (tmp_path / "profiles.yml").write_text(f"extl:\n  target: dev\n  outputs:\n    dev: {output}\n")
    monkeypatch.chdir(tmp_path)  # the locations are relative, as dbt-duckdb reads them
    result = orch("build", "--project-dir", str(tmp_path), "--profiles-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "checks: 2 pass" in result.output
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("select * from people order by id").fetchall() == [(1, "ann"), (2, "bob")]
    assert con.execute("select * from pets").fetchall() == [(1, "cat")]
    con.close()
    compiled = (tmp_path / "target" / "compiled" / "models" / "people.sql").read_text()
    assert "READ_CSV('data/people.csv', header := TRUE) p" in compiled.replace("AS p", "p")


def test_an_unknown_external_location_formatter_is_one_clear_error(tmp_path: Path, orch: RunOrch):
    files = {
        **EXTERNAL_SOURCES,
        "models/sources.yml": EXTERNAL_SOURCES["models/sources.yml"].replace("oldstyle", "shiny"),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "profiles.yml").write_text(
        "extl:\n  target: dev\n  outputs:\n    dev: {type: duckdb}\n"
    )
    result = orch("compile", "--project-dir", str(tmp_path), "--profiles-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "models/sources.yml" in result.stderr
    assert (
        "source 'files.pets': formatter 'shiny' is not one of newstyle, oldstyle" in result.stderr
    )
    assert "Traceback" not in result.stderr
