"""The manifest of a small fixed project stays byte-identical (``ORCH_UPDATE_GOLDEN=1`` rewrites
``tests/golden/manifest.json``; review the diff)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import run_cli

GOLDEN = Path(__file__).parent / "golden"


def test_golden_manifest(tmp_path: Path):
    root = tmp_path / "golden"
    shutil.copytree(GOLDEN / "project", root)
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 0, run.output
    actual = (root / "target" / "manifest.json").read_text(encoding="utf-8")
    expected_path = GOLDEN / "manifest.json"
    if os.environ.get("ORCH_UPDATE_GOLDEN") == "1":
        expected_path.write_text(actual, encoding="utf-8")
    assert str(tmp_path) not in actual  # no machine-specific paths
    assert actual == expected_path.read_text(encoding="utf-8")
