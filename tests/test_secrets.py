"""Secrets from env_var() never leak (issue 22): not whole, not in fragments, not as SQL.

One project plants a 64-character secret (with a quote and a ';') through env_var() in a model's
SQL, in a check's failing rows, in a Python asset's output metadata and in a model's error; then
every artifact, log, the state store, the warehouse's view definitions and the console output of
every mode are searched for it and for any 12-character piece of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from orch import redaction
from orch.load.cache import env_digest

from tests.conftest import MakeProject, Run

SECRET = "tok'en;Zq8vR2mX7pL4wN9kT1yB6cH3jF5dG0sAuE8iO2pQ4rW6tY8-uIo1pAs3d"
assert len(SECRET) == 64
PIECE = 12  # the length of the pieces searched for

PROJECT_YML = """\
name: shop
profile: shop
dialect: duckdb
resources:
  crm:
    token: "{{ env_var('ORCH_TEST_SECRET') }}"
"""

FILES = {
    "models/canary.sql": "{{ config(materialized='table') }}\nselect 1 as x\n",
    # the secret in a model's SQL, selected into a column a check fails on
    "models/leaky.sql": (
        "{{ config(materialized='table') }}\n"
        "select x as id, '{{ env_var(\"ORCH_TEST_SECRET\") }}' as token,\n"
        "  'Bearer {{ env_var(\"ORCH_TEST_SECRET\") }}' as header\nfrom canary\n"
    ),
    "models/leaky.yml": """\
        models:
          - name: leaky
            columns:
              - name: token
                checks:
                  - accepted_values: {values: [nothing]}
        """,
    # a view reading the table is fine: its definition holds no value
    "models/leaky_view.sql": "select id from leaky\n",
    # an error containing the secret: DuckDB quotes the value it cannot convert
    "models/broken.sql": (
        "{{ config(materialized='table') }}\n"
        "select cast('{{ env_var(\"ORCH_TEST_SECRET\") }}' as integer) as n\n"
    ),
    # the secret in a Python asset's output metadata, through a resource
    "models/synced.py": '''\
        import pyarrow as pa

        from orch import AssetContext, Resource, asset


        class Crm(Resource):
            token: str


        @asset(columns={"n": "integer"})
        def synced(context: AssetContext, crm: Crm) -> pa.Table:
            """Pretends to sync with a CRM."""
            context.add_output_metadata({"token": crm.token, "note": f"used {crm.token}"})
            return pa.table({"n": [1]})
        ''',
}


def pieces(secret: str = SECRET, size: int = PIECE) -> set[str]:
    """Every ``size``-character substring of ``secret``."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(text: str) -> list[str]:
    """The pieces of the secret found in ``text`` (the whole secret contains them all)."""
    return sorted(p for p in pieces() if p in text)


@pytest.fixture
def project(make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCH_TEST_SECRET", SECRET)
    return make_project(tmp_path / "p", FILES, PROJECT_YML)


def test_secret_never_leaks_anywhere(project: Path, orch: Callable[..., Run]) -> None:
    p = str(project)
    outputs = {
        "build": orch("build", "--project-dir", p),
        "build --log-format json": orch("build", "--project-dir", p, "--log-format", "json"),
        "test": orch("test", "--project-dir", p),
        "status": orch("status", "--project-dir", p),
        "run --debug": orch("run", "--debug", "--project-dir", p, "-s", "broken"),
        "docs generate": orch("docs", "generate", "--project-dir", p),
    }
    # a failing command with --debug prints the traceback of an error holding the secret
    (project / "models" / "bad.sql").write_text(
        "select 1 as x\n"
        "{{ exceptions.raise_compiler_error('bad ' ~ env_var('ORCH_TEST_SECRET').value) }}\n",
        encoding="utf-8",
    )
    outputs["compile --debug"] = orch("compile", "--debug", "--project-dir", p)
    (project / "models" / "bad.sql").unlink()
    assert outputs["compile --debug"].exit_code == 2
    assert "Traceback (most recent call last)" in outputs["compile --debug"].output
    assert "bad <env_var('ORCH_TEST_SECRET')>" in outputs["compile --debug"].output
    assert outputs["run --debug"].exit_code == 1, outputs["run --debug"].output
    build = outputs["build"]
    assert build.exit_code == 1, build.output
    # every path the secret takes was exercised: the model, the check, the metadata, the error
    assert "accepted_values_leaky_token__nothing" in build.output
    assert "broken" in build.output and "Could not convert string" in build.output
    assert "<env_var('ORCH_TEST_SECRET')>" in build.output
    assert outputs["docs generate"].exit_code == 0, outputs["docs generate"].output
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("select token, header from analytics.leaky").fetchall() == [
            (SECRET, f"Bearer {SECRET}")
        ]
        views = con.sql("select sql from duckdb_views() where not internal").fetchall()
    assert any("leaky_view" in str(v) for v in views)

    found = {name: leaks(run.output) for name, run in outputs.items()}
    found["duckdb views"] = leaks(" ".join(str(v) for v in views))
    files = [
        *(f for f in (project / "target").rglob("*") if f.is_file()),
        *(f for f in (project / "logs").rglob("*") if f.is_file()),
        *(f for f in (project / ".orch").rglob("*") if f.is_file()),
    ]
    names = {f.relative_to(project).as_posix() for f in files}
    assert {"target/manifest.json", "target/run_results.json", "logs/orch.jsonl"} <= names
    assert any(n.startswith("target/compiled/") for n in names)
    assert "target/docs/index.html" in names, sorted(names)
    assert ".orch/state.db" in names
    for f in files:
        found[f.relative_to(project).as_posix()] = leaks(f.read_bytes().decode("utf-8", "replace"))
    with sqlite3.connect(project / ".orch" / "state.db") as db:
        dump = "\n".join(db.iterdump())
    assert "synced" in dump and "accepted_values_leaky_token__nothing" in dump
    found["state.db (sqlite3)"] = leaks(dump)
    assert {k: v for k, v in found.items() if v} == {}


WAREHOUSE_STATE_PROFILES = """\
shop:
  target: dev
  outputs:
    dev: {type: duckdb, path: warehouse.duckdb, schema: analytics, state: warehouse}
"""


def test_secret_never_reaches_the_warehouse_state_store(
    make_project: MakeProject, tmp_path: Path, orch: Callable[..., Run], monkeypatch
) -> None:
    # the state store writes its rows as SQL literals: a placeholder in a stored error (the
    # failing model's SQL excerpt) or check query must not be bound to the secret there
    monkeypatch.setenv("ORCH_TEST_SECRET", SECRET)
    files = {
        **FILES,
        # a singular check whose query (stored with its result) holds the placeholder
        "checks/token_is_set.sql": (
            "select * from {{ ref('leaky') }} where token = '{{ env_var(\"ORCH_TEST_SECRET\") }}'\n"
        ),
    }
    project = make_project(tmp_path / "p", files, PROJECT_YML, WAREHOUSE_STATE_PROFILES)
    run = orch("build", "--project-dir", str(project))
    assert run.exit_code == 1, run.output
    assert not (project / ".orch" / "state.db").exists()
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        tables = [
            t
            for (t,) in con.sql(
                "select table_name from information_schema.tables where table_schema = '_orch'"
            ).fetchall()
        ]
        dump = "\n".join(
            str(cell)
            for t in tables
            for row in con.sql(f'select * from "_orch"."{t}"').fetchall()
            for cell in row
        )
    assert "token_is_set" in dump
    assert leaks(dump) == []
    assert "where token = '{{ env_var('ORCH_TEST_SECRET') }}'" in dump


def test_injection_payload_runs_as_data(
    make_project: MakeProject, tmp_path: Path, orch: Callable[..., Run], monkeypatch
) -> None:
    payload = "x'; drop table analytics.canary; --"
    monkeypatch.setenv("ORCH_TEST_PAYLOAD", payload)
    files = {
        "models/canary.sql": "{{ config(materialized='table') }}\nselect 1 as x\n",
        "models/tok.sql": (
            "{{ config(materialized='table') }}\n"
            "select x, '{{ env_var(\"ORCH_TEST_PAYLOAD\") }}' as v from canary\n"
        ),
    }
    project = make_project(tmp_path / "p", files)
    run = orch("build", "--project-dir", str(project))
    assert run.exit_code == 0, run.output
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("select * from analytics.canary").fetchall() == [(1,)]
        assert con.sql("select x, v from analytics.tok").fetchall() == [(1, payload)]


def test_env_var_outside_a_string_literal_is_refused(
    make_project: MakeProject, tmp_path: Path, orch: Callable[..., Run], monkeypatch
) -> None:
    monkeypatch.setenv("ORCH_TEST_PAYLOAD", "1; drop table canary")
    files = {
        "models/tok.sql": (
            "{{ config(materialized='table') }}\nselect {{ env_var('ORCH_TEST_PAYLOAD') }} as v\n"
        ),
    }
    project = make_project(tmp_path / "p", files)
    run = orch("build", "--project-dir", str(project))
    assert run.exit_code == 1
    assert (
        "env_var() is used outside a string literal; its value would be pasted into the SQL as "
        "code. Quote it: '{{ env_var(\"NAME\") }}' (it is bound as a parameter)"
    ) in run.output


def test_view_reading_env_var_is_refused(
    make_project: MakeProject, tmp_path: Path, orch: Callable[..., Run], monkeypatch
) -> None:
    monkeypatch.setenv("ORCH_TEST_SECRET", SECRET)
    files = {"models/v.sql": "-- a view\nselect\n  '{{ env_var(\"ORCH_TEST_SECRET\") }}' as t\n"}
    project = make_project(tmp_path / "p", files)
    run = orch("compile", "--project-dir", str(project))
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: models/v.sql:3: 'v' is a view and its SQL uses env_var('ORCH_TEST_SECRET'): the "
        "warehouse stores a view's SQL, so the value would be kept in the view definition. "
        "Materialize it as a table (config(materialized='table')), or move the value to a var"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SECRET, "<env_var('ORCH_TEST_FRAG')>"),
        (f"LINE 1: SELECT '{SECRET[:54]}...", "LINE 1: SELECT '<env_var('ORCH_TEST_FRAG')>..."),
        (f"...{SECRET[30:50]}", "...<env_var('ORCH_TEST_FRAG')>"),
        (f"[{SECRET[5:15]}]", "[<env_var('ORCH_TEST_FRAG')>]"),  # 10 characters: scrubbed
        (f"[{SECRET[5:14]}]", f"[{SECRET[5:14]}]"),  # 9: too short to tell from chance
        (SECRET.replace("'", "''"), "<env_var('ORCH_TEST_FRAG')>"),  # as a SQL literal
        ("nothing secret here", "nothing secret here"),
    ],
    ids=["whole", "truncated-54", "fragment-20", "fragment-10", "fragment-9", "sql-quoted", "none"],
)
def test_scrub_catches_fragments(text: str, expected: str) -> None:
    redaction.register("ORCH_TEST_FRAG", SECRET)
    assert redaction.scrub(text) == expected


def test_path_scrubbed_whole_only() -> None:
    # an env var naming a file (a profile's path) shares its folders with every other path
    redaction.register("ORCH_TEST_DB", "/srv/projects/shop/warehouse.duckdb")
    assert redaction.scrub("open /srv/projects/shop/warehouse.duckdb") == (
        "open <env_var('ORCH_TEST_DB')>"
    )
    assert redaction.scrub("/srv/projects/shop/models/a.sql") == "/srv/projects/shop/models/a.sql"


def test_short_secret_scrubbed_whole_only() -> None:
    redaction.register("ORCH_TEST_SHORT", "hunter2x")
    assert redaction.scrub("pw=hunter2x;") == "pw=<env_var('ORCH_TEST_SHORT')>;"
    assert redaction.scrub("hunter2") == "hunter2"


def test_cache_digest_is_keyed_per_project(
    make_project: MakeProject, tmp_path: Path, orch: Callable[..., Run], monkeypatch
) -> None:
    monkeypatch.setenv("ORCH_TEST_SECRET", SECRET)
    model = (
        "{{ config(materialized='table') }}\nselect '{{ env_var(\"ORCH_TEST_SECRET\") }}' as t\n"
    )
    project = make_project(tmp_path / "p", {"models/t.sql": model})
    assert orch("compile", "--project-dir", str(project)).exit_code == 0
    key_file = project / ".orch" / "cache.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert (project / ".orch" / ".gitignore").read_text() == "*\n"  # never committed
    key = key_file.read_text()
    cached = "".join(
        f.read_text(encoding="utf-8") for f in (project / "target").rglob("*") if f.is_file()
    )
    plain = [  # the unsalted digests the caches kept before
        hashlib.sha256(f"ORCH_TEST_SECRET={SECRET}".encode()).hexdigest(),
        hashlib.sha256(json.dumps([["ORCH_TEST_SECRET", SECRET]]).encode()).hexdigest(),
    ]
    assert not [digest for digest in plain if digest in cached]
    keyed = env_digest(["ORCH_TEST_SECRET"], project)
    assert keyed in cached
    assert keyed != env_digest(["ORCH_TEST_SECRET"], make_project(tmp_path / "q", {}))
    assert orch("compile", "--project-dir", str(project)).exit_code == 0
    assert key_file.read_text() == key  # kept: the cache stays valid
    monkeypatch.setenv("ORCH_TEST_SECRET", SECRET[::-1])
    assert env_digest(["ORCH_TEST_SECRET"], project) != keyed
