"""profiles.yml targets are validated by the config class their adapter declares (the registry)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from orch.manifest import Manifest

from tests.conftest import MakeProject, run_cli


def profiles(target: str) -> str:
    """A profile ``shop`` whose ``dev`` target is ``target`` (YAML lines, indented under dev)."""
    body = textwrap.indent(textwrap.dedent(target), " " * 6)
    return f"shop:\n  target: dev\n  outputs:\n    dev:\n{body}"


def ls_error(root: Path) -> str:
    """``orch ls`` expecting a user error: exit 2, one clean message, no traceback."""
    run = run_cli("ls", "--project-dir", root)
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    return run.stderr.strip()


def test_an_unknown_target_type_names_the_line_and_the_known_types(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(
        tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=profiles("type: postgresx\n")
    )
    assert ls_error(root) == (
        "Error: profiles.yml:5:7: unknown target type 'postgresx'. Known adapter types: duckdb, "
        "snowflake (a third-party adapter registers in the 'orch.adapters' entry-point group)"
    )


def test_a_close_target_type_is_suggested(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(
        tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=profiles("type: duckbd\n")
    )
    assert ls_error(root) == (
        "Error: profiles.yml:5:7: unknown target type 'duckbd'. Did you mean 'duckdb'? Known "
        "adapter types: duckdb, snowflake (a third-party adapter registers in the 'orch.adapters' "
        "entry-point group)"
    )


def test_a_target_without_type(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(
        tmp_path, {"models/a.sql": "select 1 as x"}, profiles_yml=profiles("path: w.duckdb\n")
    )
    assert ls_error(root) == (
        "Error: profiles.yml:4:5: target 'dev' has no 'type'. Set type: to one of the known "
        "adapter types: duckdb, snowflake"
    )


THIRD_PARTY = '''\
from typing import ClassVar

from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig


class MemoTargetConfig(DuckDBTargetConfig):
    """A DuckDB database with a required label."""

    type: str = "memo"  # type: ignore[assignment]
    dialect: str = "duckdb"  # the SQL dialect the compiler writes for this target
    label: str


class MemoAdapter(DuckDBAdapter):
    type: ClassVar[str] = "memo"
    target_config_class = MemoTargetConfig
'''


@pytest.fixture
def memo_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party adapter ``memo`` registered in the ``orch.adapters`` entry-point group."""
    site = tmp_path / "site"
    dist = site / "orch_memo-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: orch-memo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[orch.adapters]\nmemo = orch_memo:MemoAdapter\n")
    (site / "orch_memo.py").write_text(THIRD_PARTY)
    monkeypatch.syspath_prepend(str(site))


@pytest.mark.usefixtures("memo_adapter")
def test_a_third_party_adapter_validates_its_own_settings(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(
        tmp_path / "p",
        {"models/a.sql": "select 1 as x"},
        profiles_yml=profiles("type: memo\npath: w.duckdb\n"),
    )
    assert ls_error(root) == (
        "Error: profiles.yml:4:5: missing required key 'shop.outputs.dev.label'. Add it"
    )
    (root / "profiles.yml").write_text(profiles("type: memo\nlabel: x\nlabels: y\n"))
    assert ls_error(root) == (
        "Error: profiles.yml:7:7: unknown key 'shop.outputs.dev.labels'. Did you mean 'label'?"
    )
    (root / "profiles.yml").write_text(profiles("type: memo\npath: w.duckdb\nlabel: x\n"))
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    manifest = Manifest.read(root / "target" / "manifest.json")
    assert manifest.nodes["a"].materialized == "view"
    assert (root / "w.duckdb").is_file()


@pytest.mark.usefixtures("memo_adapter")
def test_the_registry_lists_a_third_party_type(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p", {"models/a.sql": "select 1 as x"}, profiles_yml=profiles("type: mem\n")
    )
    assert ls_error(root) == (
        "Error: profiles.yml:5:7: unknown target type 'mem'. Did you mean 'memo'? Known adapter "
        "types: duckdb, memo, snowflake (a third-party adapter registers in the 'orch.adapters' "
        "entry-point group)"
    )


def test_an_adapter_that_cannot_be_imported(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    dist = site / "orch_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: orch-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[orch.adapters]\nbroken = orch_broken:Adapter\n")
    (site / "orch_broken.py").write_text("import orch_broken_driver_missing\n")
    monkeypatch.syspath_prepend(str(site))
    root = make_project(
        tmp_path / "p", {"models/a.sql": "select 1 as x"}, profiles_yml=profiles("type: broken\n")
    )
    assert ls_error(root) == (
        "Error: profiles.yml:5:7: the adapter for target type 'broken' (orch_broken:Adapter) "
        "cannot be imported: No module named 'orch_broken_driver_missing'. Install the adapter's "
        "package (and its driver) in this environment"
    )
