"""dbt model versions, built from ``fixtures/vers_dbt`` as dbt builds them (bench/compare_dbt.py
checks the same project against dbt itself: 0 differences).

The mart ``dim_customers`` has a v1 and a v2 with different columns; ``latest_version: 1`` keeps
the prerelease v2 from unpinned refs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch, Warehouse

SCHEMA = "models/marts/schema.yml"


def test_versions_build_their_own_relations_and_refs_resolve_like_dbt(vers: Path, orch: RunOrch):
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 0, result.output + result.stderr
    db = Warehouse(vers / "vers.duckdb")
    # one relation per version, named <model>_v<N>; per-version columns (include/exclude)
    assert list(db.types("main.dim_customers_v1")) == ["customer_id", "full_name", "country"]
    assert list(db.types("main.dim_customers_v2")) == [
        "customer_id", "first_name", "last_name", "country", "signed_up"]  # fmt: skip
    assert ("main", "dim_customers", "TABLE") not in db.relations()
    # ref('dim_customers') is the latest version (1), not the prerelease v2
    assert db.rows("select * from main.customer_countries order by 1") == [
        ("GB", 2), ("NL", 1), ("US", 1)]  # fmt: skip
    # ref('dim_customers', v=2) and ref('vers_dbt', 'dim_customers', version=1)
    assert len(db.rows("select * from main.customer_signups")) == 4
    assert db.rows("select full_name from main.customer_names order by 1")[0] == ("Ada Lovelace",)
    # the dbt Python model: dbt.ref('dim_customers') (v1) joined to dbt.ref(..., version=2)
    assert db.rows("select initials from main.customer_initials order by customer_id") == [
        ("AL",), ("GH",), ("AT",), ("ED",)]  # fmt: skip
    # per-version tests: the v2-only column's not_null runs on v2 only
    assert "not_null_dim_customers_v2_signed_up" in result.output
    assert "not_null_dim_customers_v1_signed_up" not in result.output


def test_manifest_names_versions_as_dbt_does(vers: Path, orch: RunOrch):
    assert orch("build", "--project-dir", str(vers)).exit_code == 0
    manifest = json.loads((vers / "target" / "manifest.json").read_text())
    v1 = manifest["nodes"]["model.vers_dbt.dim_customers.v1"]
    v2 = manifest["nodes"]["model.vers_dbt.dim_customers.v2"]
    assert (v1["name"], v1["version"], v1["latest_version"], v1["alias"]) == (
        "dim_customers", 1, 1, "dim_customers_v1")  # fmt: skip
    assert v2["fqn"] == ["vers_dbt", "marts", "dim_customers", "v2"]
    signups = manifest["nodes"]["model.vers_dbt.customer_signups"]
    assert signups["depends_on"]["nodes"] == ["model.vers_dbt.dim_customers.v2"]
    assert signups["refs"] == [{"name": "dim_customers", "package": None, "version": 2}]
    results = json.loads((vers / "target" / "run_results.json").read_text())
    assert "model.vers_dbt.dim_customers.v1" in {r["unique_id"] for r in results["results"]}


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("dim_customers", {"dim_customers_v1", "dim_customers_v2"}),  # every version (dbt ls)
        ("dim_customers.v2", {"dim_customers_v2"}),
        ("dim_customers_v1", {"dim_customers_v1"}),
    ],
)
def test_selecting_a_versioned_model_by_name(
    vers: Path, orch: RunOrch, select: str, expected: set[str]
):
    result = orch("ls", "--project-dir", str(vers), "-s", select)
    assert result.exit_code == 0, result.stderr
    assets = {line for line in result.stdout.split() if line.startswith("dim_")}
    assert assets == expected


def test_latest_version_defaults_to_the_greatest(vers: Path, orch: RunOrch):
    schema = vers / SCHEMA
    schema.write_text(schema.read_text().replace("    latest_version: 1\n", ""))
    assert orch("build", "--project-dir", str(vers)).exit_code != 2
    # customer_countries now reads v2, which has no full_name: customer_names pins v1 and works
    db = Warehouse(vers / "vers.duckdb")
    assert len(db.rows("select * from main.customer_countries")) == 3
    manifest = json.loads((vers / "target" / "manifest.json").read_text())
    countries = manifest["nodes"]["model.vers_dbt.customer_countries"]
    assert countries["depends_on"]["nodes"] == ["model.vers_dbt.dim_customers.v2"]


def test_defined_in_and_per_version_alias(vers: Path, orch: RunOrch):
    (vers / "models/marts/dim_customers_v2.sql").rename(vers / "models/marts/customers_next.sql")
    schema = vers / SCHEMA
    schema.write_text(schema.read_text().replace(
        "      - v: 2\n",
        "      - v: 2\n        defined_in: customers_next\n        config:\n"
        "          alias: customers_preview\n"))  # fmt: skip
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 0, result.output + result.stderr
    db = Warehouse(vers / "vers.duckdb")
    assert ("main", "customers_preview", "TABLE") in db.relations()
    assert ("main", "dim_customers_v2", "TABLE") not in db.relations()
    assert len(db.rows("select * from main.customer_signups")) == 4


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda s: s.replace("      - v: 2\n", "      - v: 1\n"),
            f"{SCHEMA}:28:9: version 1 of 'dim_customers' is defined twice",
            id="duplicate-v",
        ),
        pytest.param(
            lambda s: s.replace("latest_version: 1", "latest_version: 4"),
            f"{SCHEMA}:6:5: latest_version 4 of 'dim_customers' is not one of its versions",
            id="latest-not-a-version",
        ),
    ],
)
def test_version_mistakes_are_clear_errors(vers: Path, orch: RunOrch, edit, message: str):
    schema = vers / SCHEMA
    schema.write_text(edit(schema.read_text()))
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 2, result.output + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_latest_version_may_live_in_the_unversioned_file(vers: Path, orch: RunOrch):
    # dbt: a version without its <name>_v<N>.sql falls back to <name>.sql when it is the latest
    marts = vers / "models/marts"
    (marts / "dim_customers_v1.sql").rename(marts / "dim_customers.sql")
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 0, result.output + result.stderr
    assert "Warning" not in result.output + result.stderr
    db = Warehouse(vers / "vers.duckdb")
    assert ("main", "dim_customers_v1", "TABLE") in db.relations()  # named as the version
    assert ("main", "dim_customers", "TABLE") not in db.relations()
    assert db.rows("select * from main.customer_countries order by 1") == [
        ("GB", 2), ("NL", 1), ("US", 1)]  # fmt: skip
    node = json.loads((vers / "target/manifest.json").read_text())["nodes"][
        "model.vers_dbt.dim_customers.v1"]  # fmt: skip
    assert node["original_file_path"] == "models/marts/dim_customers.sql"


def test_a_version_without_a_file_is_not_built_with_dbts_warning(vers: Path, orch: RunOrch):
    # v3 (not the latest: latest_version is 1) has no dim_customers_v3.sql: dbt warns
    # NoNodeForYamlKey, builds nothing for it and drops its tests (4: the model's 3, its own 1)
    schema = vers / SCHEMA
    schema.write_text(schema.read_text().replace(
        "  - name: customer_signups\n",
        "      - v: 3\n        columns:\n          - name: region\n"
        "            data_tests: [not_null]\n  - name: customer_signups\n"))  # fmt: skip
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 0, result.output + result.stderr
    assert (
        f"Warning: {SCHEMA}:34:9: version 3 of 'dim_customers' has no model file "
        "dim_customers_v3.sql (or .py): it is not built, nor its 4 tests, as dbt does "
        "(NoNodeForYamlKey: did not find matching node for patch with name 'dim_customers_v3')"
    ) in result.stderr
    results = json.loads((vers / "target" / "run_results.json").read_text())["results"]
    assert not [r["unique_id"] for r in results if "v3" in r["unique_id"]]
    assert len(results) == 16  # as dbt build: 8 models and seeds, 8 tests
    assert ("main", "dim_customers_v3", "TABLE") not in Warehouse(vers / "vers.duckdb").relations()
    # a ref() to it is an error at the ref, naming where the version is listed
    (vers / "models/marts/bad.sql").write_text("select * from {{ ref('dim_customers', v=3) }}\n")
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 2
    assert (
        "models/marts/bad.sql:1: Jinja error: ref(): version 3 of 'dim_customers' "
        f"({SCHEMA}:34:9) has no model file, so it is not built, as in dbt"
    ) in result.stderr


def test_a_missing_defined_in_warns_at_its_line(vers: Path, orch: RunOrch):
    schema = vers / SCHEMA
    schema.write_text(schema.read_text().replace(
        "      - v: 2\n", "      - v: 2\n        defined_in: nowhere\n"))  # fmt: skip
    (vers / "models/marts/customer_signups.sql").unlink()  # the refs to v2
    (vers / "models/marts/customer_initials.py").unlink()
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 0, result.output + result.stderr
    assert (f"Warning: {SCHEMA}:29:9: version 2 of 'dim_customers' has no model file nowhere.sql"
            in result.stderr)  # fmt: skip


def test_a_non_latest_version_never_falls_back_to_the_unversioned_file(vers: Path, orch: RunOrch):
    # v2 is not the latest: dim_customers.sql is not v2, and dbt refuses an unversioned model
    # beside the versioned one of the same name
    marts = vers / "models/marts"
    (marts / "dim_customers_v2.sql").rename(marts / "dim_customers.sql")
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 2, result.output + result.stderr
    assert (
        f"{SCHEMA}:4:5: versioned and unversioned models are both named 'dim_customers': "
        "models/marts/dim_customers.sql is none of its versions (only the latest, 1, may live "
        "in it), so ref('dim_customers') could not tell them apart"
    ) in result.stderr


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("select * from {{ ref('dim_customers', version=7) }}",
         "models/marts/bad.sql:1: Jinja error: ref(): 'dim_customers' has no version 7 "
         "(versions: 1, 2)"),
        ("select * from {{ ref('stg_customers', v=1) }}",
         "models/marts/bad.sql:1: Jinja error: ref(): 'stg_customers' has no versions"),
    ],
)  # fmt: skip
def test_ref_to_a_missing_version_is_a_clear_error(
    vers: Path, orch: RunOrch, model: str, message: str
):
    (vers / "models/marts/bad.sql").write_text(model + "\n")
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 2, result.output + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_python_ref_to_a_missing_version_names_the_line(vers: Path, orch: RunOrch):
    (vers / "models/marts/bad_py.py").write_text(
        "def model(dbt, session):\n    return dbt.ref('dim_customers', version=9)\n")  # fmt: skip
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 2, result.output + result.stderr
    assert "models/marts/bad_py.py:2:12: dbt.ref(): 'dim_customers' has no version 9" in (
        result.stderr)  # fmt: skip


def test_manifest_fields_dbt_state_modified_compares(vers: Path, orch: RunOrch):
    """The values `dbt parse` (dbt-core 1.11.16) writes for the same project, so dbt's
    ``state:modified`` finds the models and seeds unmodified (bench/compare_dbt.py runs it)."""
    assert orch("build", "--project-dir", str(vers)).exit_code == 0
    nodes = json.loads((vers / "target" / "manifest.json").read_text())["nodes"]
    # dbt's hash suffix on every generic test (md5 of name + test_metadata), as dbt parse
    assert "test.vers_dbt.accepted_values_dim_customers_v1_country__GB__US__NL.fcfefbec65" in nodes
    assert "test.vers_dbt.unique_dim_customers_v1_customer_id.cea60a0517" in nodes
    seed = nodes["seed.vers_dbt.raw_customers"]
    assert seed["checksum"]["checksum"] == (
        "93bceacd6e8c2cdbcc3d1142c9f467dc68d80eb563022b40cab97ee13e52b00e")  # fmt: skip
    stg = nodes["model.vers_dbt.stg_customers"]
    assert stg["raw_code"] == (vers / "models/staging/stg_customers.sql").read_text().strip()
    assert stg["unrendered_config"] == {"materialized": "view"}
    v1 = nodes["model.vers_dbt.dim_customers.v1"]
    assert v1["unrendered_config"] == {"materialized": "table", "contract": {"enforced": False}}
    unique = nodes["test.vers_dbt.unique_dim_customers_v1_customer_id.cea60a0517"]
    assert unique["raw_code"] == "{{ test_unique(**_dbt_generic_test_kwargs) }}"
