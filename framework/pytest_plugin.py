"""The ``orch_project`` pytest fixture, registered through the ``pytest11`` entry point.

Kept apart from :mod:`orch.testing` so that loading the plugin costs nothing: orch's run machinery
is imported only when a test uses the fixture.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IGNORED = ("target", "*.duckdb", "*.duckdb.wal", ".orch", "logs", "__pycache__")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``orch_project`` ini option: the project folder the fixture copies by default."""
    parser.addini("orch_project", "project folder the orch_project fixture copies", default="")


@pytest.fixture(name="orch_project")
def orch_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory: ``orch_project(src=None)`` copies a project into ``tmp_path`` → TestProject.

    ``src`` defaults to the ``orch_project`` ini option (relative to the rootdir), else the
    rootdir itself. The copy leaves out ``target/``, ``logs/``, ``.orch/`` and DuckDB files.
    """
    from orch.testing import TestProject

    def make(src: str | Path | None = None) -> TestProject:
        if src is None:
            configured = _ini(request)
            root = Path(request.config.rootpath)
            src = root / configured if configured else root
        source = Path(src)
        if not (source / "orch_project.yml").exists() and not (source / "dbt_project.yml").exists():
            raise FileNotFoundError(
                f"no orch_project.yml in '{source}': pass the project folder, "
                "orch_project('path/to/project'), or set 'orch_project' in the pytest ini"
            )
        dest = tmp_path / "orch_project" / source.resolve().name
        if not dest.exists():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*IGNORED))
        return TestProject(dest)

    yield make


def _ini(request: pytest.FixtureRequest) -> str:
    try:
        return str(request.config.getini("orch_project") or "")
    except ValueError:  # the plugin's addoption did not run (fixture imported by hand)
        return ""
