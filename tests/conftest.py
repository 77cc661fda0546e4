"""Shared fixtures: real project folders in ``tmp_path`` and the real CLI."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from orch import redaction
from orch.cli import cli

EXAMPLE_PROJECT = Path(__file__).resolve().parent.parent / "example_project"


@pytest.fixture(autouse=True)
def _secrets_stay_in_their_test():
    """The secret registry is process-wide (one CLI process, one run); in the test process a
    value registered by one test would scrub the next tests' output: forget it afterwards."""
    values, whole = dict(redaction._values), set(redaction._whole_only)
    yield
    with redaction._lock:
        redaction._values.clear()
        redaction._values.update(values)
        redaction._whole_only.clear()
        redaction._whole_only.update(whole)


DEFAULT_PROJECT_YML = """\
name: shop
profile: shop
dialect: duckdb
"""

DEFAULT_PROFILES_YML = """\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: warehouse.duckdb
      schema: analytics
"""

MakeProject = Callable[..., Path]


def write_project(
    root: Path,
    files: dict[str, str],
    project_yml: str | None = None,
    profiles_yml: str | None = None,
) -> Path:
    """Write a project folder: the project file, profiles.yml and ``files`` (dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "orch_project.yml").write_text(
        textwrap.dedent(project_yml) if project_yml is not None else DEFAULT_PROJECT_YML,
        encoding="utf-8",
    )
    (root / "profiles.yml").write_text(
        textwrap.dedent(profiles_yml) if profiles_yml is not None else DEFAULT_PROFILES_YML,
        encoding="utf-8",
    )
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """``make_project(tmp_path, {"models/a.sql": "select 1 as x"}, project_yml=None)`` → path.

    The first argument is the folder to write into (usually ``tmp_path``; a sub-folder works too).
    """

    def make(
        root: Path,
        files: dict[str, str],
        project_yml: str | None = None,
        profiles_yml: str | None = None,
    ) -> Path:
        return write_project(root, files, project_yml, profiles_yml)

    return make


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A copy of ``example_project/`` in ``tmp_path`` (without any target/ or warehouse)."""
    dest = tmp_path / "example_project"
    shutil.copytree(
        EXAMPLE_PROJECT,
        dest,
        ignore=shutil.ignore_patterns("target", "*.duckdb", "*.duckdb.wal", ".orch", "logs"),
    )
    return dest


@dataclass
class Run:
    """The outcome of one CLI invocation."""

    exit_code: int
    stdout: str
    stderr: str
    result: Result

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr


def run_cli(*args: str | Path) -> Run:
    """Invoke ``orch`` in-process through click's runner (stdout and stderr kept apart)."""
    runner = CliRunner()
    result = runner.invoke(cli, [str(a) for a in args], prog_name="orch", catch_exceptions=True)
    exit_code = result.exit_code
    if isinstance(result.exception, SystemExit) and isinstance(result.exception.code, int):
        exit_code = result.exception.code
    return Run(exit_code, result.stdout, result.stderr, result)


@pytest.fixture
def orch() -> Callable[..., Run]:
    """``orch("compile", "--project-dir", path)`` → Run."""
    return run_cli
