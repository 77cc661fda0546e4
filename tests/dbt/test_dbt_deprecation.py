"""dbt's ``deprecation_date``: the warnings ``dbt build`` / ``dbt compile`` print, through the CLI.

The expected texts are dbt-core 1.11.16's (DeprecatedModel, DeprecatedReference,
UpcomingReferenceDeprecation), after orch's location prefix; the fixture is ``vers_dbt``: the
versioned ``dim_customers`` (v1 latest, v2 a prerelease), ``customer_countries`` refs it unpinned,
``customer_names`` pins v1, ``customer_signups`` pins v2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch

SCHEMA = "models/marts/schema.yml"


def _edit(project: Path, old: str, new: str) -> None:
    schema = project / SCHEMA
    text = schema.read_text()
    assert old in text
    schema.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("command", ["build", "compile"])
def test_past_and_upcoming_deprecations_warn_as_dbt(vers: Path, orch: RunOrch, command: str):
    # v2 (a prerelease) is past its date, stg_customers' is still to come; dbt parse prints the
    # same five warnings in this order (each version of dim_customers refs stg_customers)
    _edit(vers, "      - v: 2\n", "      - v: 2\n        deprecation_date: 2024-06-30\n")
    (vers / "models/staging/schema.yml").write_text(
        "version: 2\nmodels:\n  - name: stg_customers\n    deprecation_date: 2999-01-31 12:00:00\n"
    )
    result = orch(command, "--project-dir", str(vers))
    assert result.exit_code == 0, result.output + result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert warnings == [
        "Warning: models/marts/dim_customers_v1.sql: While compiling 'dim_customers': Found a "
        "reference to stg_customers, which is slated for deprecation on "
        "'2999-01-31T12:00:00+00:00'.",
        "Warning: models/marts/dim_customers_v2.sql: While compiling 'dim_customers': Found a "
        "reference to stg_customers, which is slated for deprecation on "
        "'2999-01-31T12:00:00+00:00'.",
        f"Warning: {SCHEMA}:29:9: Model dim_customers.v2 has passed its deprecation date of "
        "2024-06-30T00:00:00+00:00. This model should be disabled or removed.",
        "Warning: models/marts/customer_initials.py: While compiling 'customer_initials': Found "
        "a reference to dim_customers.v2, which was deprecated on '2024-06-30T00:00:00+00:00'. "
        "A new version of 'dim_customers' is available. Migrate now: "
        "{{ ref('vers_dbt', 'dim_customers', v='1') }}.",
        "Warning: models/marts/customer_signups.sql: While compiling 'customer_signups': Found "
        "a reference to dim_customers.v2, which was deprecated on '2024-06-30T00:00:00+00:00'. "
        "A new version of 'dim_customers' is available. Migrate now: "
        "{{ ref('vers_dbt', 'dim_customers', v='1') }}.",
    ]


def test_the_date_is_in_dbts_manifest_and_not_inherited_by_versions(vers: Path, orch: RunOrch):
    # dbt: a versioned model's own deprecation_date does not carry over to its versions
    _edit(
        vers, "    latest_version: 1\n", "    latest_version: 1\n    deprecation_date: 2020-01-01\n"
    )
    _edit(
        vers,
        "      - v: 2\n",
        '      - v: 2\n        deprecation_date: "2031-02-03T04:05:06+02:00"\n',
    )
    result = orch("compile", "--project-dir", str(vers))
    assert result.exit_code == 0, result.output + result.stderr
    assert "has passed its deprecation date" not in result.stderr
    nodes = json.loads((vers / "target" / "manifest.json").read_text())["nodes"]
    assert nodes["model.vers_dbt.dim_customers.v1"]["deprecation_date"] is None
    assert nodes["model.vers_dbt.dim_customers.v2"]["deprecation_date"] == (
        "2031-02-03T04:05:06+02:00"
    )
    assert "which is slated for deprecation on '2031-02-03T04:05:06+02:00'" in result.stderr


def test_the_site_shows_the_date_on_the_model_page(vers: Path, orch: RunOrch):
    _edit(vers, "  - name: customer_signups\n",
          "  - name: customer_signups\n    deprecation_date: 2024-06-30\n")  # fmt: skip
    assert orch("docs", "generate", "--project-dir", str(vers)).exit_code == 0
    data = "".join(p.read_text() for p in (vers / "target" / "docs" / "data").glob("*.js"))
    assert '"deprecation_date": "2024-06-30T00:00:00+00:00"' in data or (
        '"deprecation_date":"2024-06-30T00:00:00+00:00"' in data
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "  - name: customer_signups\n",
            "  - name: customer_signups\n    deprecation_date: next year\n",
            f"{SCHEMA}:35:5: invalid value for 'models.1.deprecation_date': Value error, 'next "
            "year' is not a date or a date-time (write 2025-06-30, 2025-06-30 12:00:00 or "
            "2025-06-30T12:00:00+02:00)",
            id="model",
        ),
        pytest.param(
            "      - v: 2\n",
            "      - v: 2\n        deprecation_date: soon\n",
            f"{SCHEMA}:29:9: invalid value for deprecation_date of a version: 'soon' is "
            "not a date or a date-time",
            id="version",
        ),
        pytest.param(  # YAML reads it as a date, and there is no 13th month
            "      - v: 2\n",
            "      - v: 2\n        deprecation_date: 2024-13-01\n",
            f"{SCHEMA}:29:27: invalid YAML value '2024-13-01': month must be in 1..12",
            id="no-such-date",
        ),
    ],
)
def test_a_bad_deprecation_date_is_an_error_at_its_line(
    vers: Path, orch: RunOrch, old: str, new: str, message: str
):
    _edit(vers, old, new)
    result = orch("build", "--project-dir", str(vers))
    assert result.exit_code == 2, result.output + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
