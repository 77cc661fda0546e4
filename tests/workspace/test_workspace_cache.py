"""The workspace cache: the merged graph reused while no member changed, and only then."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from orch.compiler.workspace_cache import CACHE_FILE
from orch.compiler.workspace_graph import compile_workspace
from orch.config import RunOptions
from orch.load.workspace import load_workspace

from tests.conftest import run_cli
from tests.workspace.test_workspace import make_workspace


def age(root: Path, seconds: float = 60) -> None:
    """Set every file's modification time ``seconds`` back (past the racy window)."""
    past = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def graph(ws: Path, **options: object):  # type: ignore[no-untyped-def]
    return compile_workspace(
        load_workspace(ws / "orch_workspace.yml"),
        RunOptions(project_dir=ws, **options),  # type: ignore[arg-type]
        light=True,
    )


@pytest.fixture
def warm(tmp_path: Path) -> Path:
    ws = make_workspace(tmp_path)
    age(ws)
    first = graph(ws)
    assert not first.from_cache and (ws / CACHE_FILE).is_file()
    return ws


def test_a_warm_load_reads_the_cache(warm: Path) -> None:
    again = graph(warm)
    assert again.from_cache
    assert sorted(again.manifest.nodes) == [
        "finance.ledger",
        "finance.revenue",
        "marketing.bare",
        "marketing.roi",
    ]
    assert again.order == ["finance", "marketing"] and again.reads["marketing"] == ["finance"]
    assert again.manifest.nodes["marketing.roi"].depends_on == ["finance.revenue"]
    assert again.manifest.nodes["marketing.roi"].compiled_code == ""  # the light graph
    # the full member is one access away
    assert "amount * 2" in again.compiled["marketing"].manifest.nodes["roi"].compiled_code
    listed = run_cli("ls", "--workspace", warm, "-s", "finance.revenue+")
    assert listed.stdout.split() == ["finance.revenue", "marketing.bare", "marketing.roi"]


def test_a_changed_member_file_is_seen(warm: Path) -> None:
    (warm / "marketing/models/extra.sql").write_text(
        "select id from {{ ref('finance', 'revenue') }}", encoding="utf-8"
    )
    changed = graph(warm)
    assert not changed.from_cache
    assert "marketing.extra" in changed.manifest.nodes
    (warm / "marketing/models/extra.sql").unlink()
    assert "marketing.extra" not in graph(warm).manifest.nodes


def test_a_producer_change_reaches_the_consumer(warm: Path) -> None:
    (warm / "finance/models/schema.yml").write_text(
        "models:\n  - name: revenue\n    access: protected\n", encoding="utf-8"
    )
    run = run_cli("ls", "--workspace", warm)
    assert run.exit_code == 2
    assert "model 'finance.revenue' is protected" in run.stderr


def test_options_members_and_env_vars_are_part_of_the_key(
    warm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not graph(warm, vars={"x": 1}).from_cache
    assert graph(warm, vars={"x": 1}).from_cache
    assert not graph(warm).from_cache  # one cache, for the options last used
    (warm / "orch_workspace.yml").write_text("members:\n  - path: finance\n", encoding="utf-8")
    assert sorted(graph(warm).manifest.nodes) == ["finance.ledger", "finance.revenue"]


def test_an_env_var_a_model_reads_invalidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ws = make_workspace(tmp_path)
    (ws / "finance/models/ledger.sql").write_text(
        "{{ config(materialized='table') }}\nselect {{ env_var('LEDGER_ID', '2') }} as id",
        encoding="utf-8",
    )
    monkeypatch.setenv("LEDGER_ID", "2")
    age(ws)
    graph(ws)
    assert graph(ws).from_cache
    monkeypatch.setenv("LEDGER_ID", "3")
    assert not graph(ws).from_cache


def test_a_file_changed_just_now_is_not_trusted(warm: Path) -> None:
    (warm / "finance/models/ledger.sql").write_text("select 3 as id", encoding="utf-8")
    assert not graph(warm).from_cache  # its stamp changed
    assert not graph(warm).from_cache  # same stamp, but too recent to be sure of it
    age(warm)
    graph(warm)
    assert graph(warm).from_cache


def test_a_member_rebuilt_alone_is_seen(warm: Path) -> None:
    (warm / "finance/models/ledger.sql").write_text("select 3 as id", encoding="utf-8")
    assert run_cli("compile", "--project-dir", warm / "finance").exit_code == 0
    age(warm)  # its files and its manifest's key file look old again
    assert not graph(warm).from_cache  # the manifest key file changed since the cache


def test_a_member_that_fails_to_load_is_never_cached(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    oops = ws / "marketing/models/bare.sql"
    oops.write_text("select from from", encoding="utf-8")
    age(ws)
    for _ in range(2):  # the second time too: nothing was cached
        run = run_cli("ls", "--workspace", ws)
        assert run.exit_code == 2
        assert "Error: marketing/models/bare.sql:1:13: SQL syntax error" in run.stderr
    assert not (ws / CACHE_FILE).exists()
    status = run_cli("status", "--workspace", ws)  # the others keep working
    assert status.exit_code == 2
    assert "== finance" in status.stdout and "revenue" in status.stdout
    assert "Error: marketing did not load: marketing/models/bare.sql:1:13" in status.stderr
    oops.write_text("select 2 as id", encoding="utf-8")
    assert "marketing.bare" in run_cli("ls", "--workspace", ws).stdout.split()
