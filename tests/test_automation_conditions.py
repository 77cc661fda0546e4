"""Automation conditions: one spelling in YAML, config() and Python; precedence; parse errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from orch import eager, max_lag, on_cron, on_missing
from orch.conditions import (
    ConditionSyntaxError,
    MaxLag,
    OnCron,
    parse_condition,
)

PROJECT_YML = """\
name: shop
profile: shop
dialect: duckdb
models:
  shop:
    marts:
      +automation: eager
"""


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("eager", "eager"),
        ("on_missing", "on_missing"),
        ("on_cron('0 6 * * *')", 'on_cron("0 6 * * *")'),
        ("max_lag(120m)", "max_lag(2h)"),
        ('max_lag("90s")', "max_lag(90s)"),
        ("eager & ~on_cron('@daily')", 'eager & ~on_cron("@daily")'),
        ("(eager | on_missing) & max_lag(1d)", "(eager | on_missing) & max_lag(1d)"),
        ("~(eager | on_missing)", "~(eager | on_missing)"),
    ],
    ids=["eager", "missing", "cron", "lag", "lag-quoted", "and-not", "or-and", "not-or"],
)
def test_text_parses_to_its_canonical_form(text: str, canonical: str) -> None:
    cond = parse_condition(text)
    assert cond.expression == canonical
    assert parse_condition(canonical) == cond  # the canonical text round-trips


def test_python_objects_compose_like_the_text() -> None:
    cond = eager & ~on_cron("0 6 * * *") | max_lag(timedelta(hours=2))
    assert cond.expression == 'eager & ~on_cron("0 6 * * *") | max_lag(2h)'
    assert parse_condition(cond.expression) == cond
    assert isinstance(max_lag("2h"), MaxLag) and max_lag("2h").seconds == 7200
    assert on_missing.expression == "on_missing"
    with pytest.raises(TypeError, match="cannot combine"):
        eager & "on_missing"  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eager and on_missing", "unexpected 'and' at column 7: expected &, | or the end "
                                 "(write & for 'and')"),
        ("eagr", "unexpected 'eagr' at column 1: expected a condition (eager, on_cron, "
                 "on_missing, max_lag) or '(' or '~'. Did you mean eager?"),
        ("on_cron(0 6)", "unexpected '0' at column 9: expected a quoted cron expression"),
        ("max_lag(2x)", "unexpected '2' at column 9: expected a duration like 2h"),
        ("(eager", "ends early: expected ')'"),
        ("on_cron('61 * * * *')", "on_cron at column 1: '61 * * * *' is not a valid cron"),
        ("eager &", "ends early: expected a condition"),
        ("", "automation condition is empty"),
    ],
    ids=["word-and", "typo", "unquoted-cron", "bad-duration", "paren", "bad-cron", "dangling",
         "empty"],
)  # fmt: skip
def test_parse_errors_name_the_token(text: str, message: str) -> None:
    with pytest.raises(ConditionSyntaxError) as err:
        parse_condition(text)
    assert message in str(err.value)


def _manifest(orch, root: Path) -> dict:  # type: ignore[no-untyped-def]
    run = orch("compile", "--project-dir", root)
    assert run.exit_code == 0, run.output
    return json.loads((root / "target" / "manifest.json").read_text())["nodes"]


def test_every_layer_sets_a_condition_with_precedence(make_project, orch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = make_project(
        tmp_path,
        {
            "models/raw.sql": "select 1 as id\n",
            "models/marts/folder_only.sql": "select * from raw\n",
            "models/marts/from_yaml.sql": "select * from raw\n",
            "models/marts/from_config.sql": (
                "{{ config(automation='on_cron(\"0 6 * * *\") & ~on_missing') }}\n"
                "select * from raw\n"
            ),
            "models/marts/props.yml": """\
                models:
                  - name: from_yaml
                    automation: "max_lag(2h) | eager"
                  - name: from_config
                    automation: on_missing
                """,
            "models/py_asset.py": """\
                from orch import asset, eager, on_cron

                @asset(automation=eager & ~on_cron("0 0 * * 0"))
                def py_asset(raw):
                    return raw
                """,
        },
        project_yml=PROJECT_YML,
    )
    nodes = _manifest(orch, root)
    got = {n: nodes[n]["config"]["automation"] for n in nodes}
    assert got == {
        "raw": None,
        "folder_only": "eager",  # folder default
        "from_yaml": "max_lag(2h) | eager",  # YAML over folder
        "from_config": 'on_cron("0 6 * * *") & ~on_missing',  # config() over YAML
        "py_asset": 'eager & ~on_cron("0 0 * * 0")',  # @asset(automation=...)
    }
    # conditions say when to build, not what: they do not change fingerprints
    before = nodes["from_yaml"]["fingerprint"]
    (root / "models" / "marts" / "props.yml").write_text(
        "models:\n  - name: from_yaml\n    automation: on_missing\n", encoding="utf-8"
    )
    assert _manifest(orch, root)["from_yaml"]["fingerprint"] == before


@pytest.mark.parametrize(
    ("files", "project_yml", "where", "token"),
    [
        (
            {"models/a.sql": "{{ config(materialized='table',\n  automation='eager or x') }}\n"
                             "select 1 as id\n"},
            None,
            "models/a.sql:2:3",
            "unexpected 'or' at column 7",
        ),
        (
            {"models/a.sql": "select 1 as id\n",
             "models/a.yml": "models:\n  - name: a\n    description: x\n"
                             "    automation: on_crn('@daily')\n"},
            None,
            "models/a.yml:4:5",
            "unexpected 'on_crn' at column 1",
        ),
        (
            {"models/a.sql": "select 1 as id\n",
             "models/a.yml": "models:\n  - name: a\n    config:\n      automation: max_lag(2)\n"},
            None,
            "models/a.yml:4:7",
            "unexpected '2' at column 9: expected a duration like 2h",
        ),
        (
            {"models/a.sql": "select 1 as id\n"},
            "name: shop\nprofile: shop\nmodels:\n  +automation: '~'\n",
            "orch_project.yml:4:3",
            "ends early",
        ),
    ],
    ids=["config", "yaml", "yaml-config", "folder"],
)  # fmt: skip
def test_a_bad_condition_names_file_line_and_token(  # type: ignore[no-untyped-def]
    make_project, orch, tmp_path, files, project_yml, where, token
) -> None:
    root = make_project(tmp_path, files, project_yml=project_yml)
    run = orch("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert "Traceback" not in run.output
    assert f"{where}: invalid automation condition for 'a': automation condition" in run.stderr
    assert token in run.stderr
    assert not (root / "target" / "manifest.json").exists()


def test_on_cron_checks_its_expression_in_python() -> None:
    with pytest.raises(ValueError, match="not a valid cron expression"):
        on_cron("every day")
    assert OnCron("@daily").expression == 'on_cron("@daily")'
