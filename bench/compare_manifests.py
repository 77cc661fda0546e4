"""Check that two versions of orch compile a project to byte-identical artifacts (issue 21).

Usage: ``python bench/compare_manifests.py BASE_PATH PROJECT_DIR [PROJECT_DIR ...]``

``BASE_PATH`` holds the other version's ``orch`` package, as for ``ab_inner_loop.py`` (put first
on ``PYTHONPATH``); the other version is the one installed in this venv. Each project is copied
into one temporary folder and compiled cold (no ``target/``) by each version in turn, at the same
path; then ``target/manifest.json`` (hashes, column versions, lineage, compiled SQL: everything)
and every file under ``target/compiled/`` must be equal byte for byte. Exit 1 on a difference,
naming the first node and field that differ.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from measure import CHILD_ENV, run_process

ORCH = [sys.executable, "-c", "import sys; from orch.cli import main; sys.argv[0] = 'orch'; main()"]
IGNORED = shutil.ignore_patterns("target", ".orch", "*.duckdb", "*.duckdb.wal", "__pycache__")


def compile_with(project: Path, pythonpath: str | None) -> dict[str, bytes]:
    """Compile ``project`` cold with one version; its artifacts by path under ``target/``."""
    shutil.rmtree(project / "target", ignore_errors=True)
    shutil.rmtree(project / ".orch", ignore_errors=True)
    saved = dict(CHILD_ENV)
    try:
        if pythonpath:
            CHILD_ENV["PYTHONPATH"] = pythonpath
        run_process([*ORCH, "compile", "--project-dir", str(project)], label="orch compile")
    finally:
        CHILD_ENV.clear()
        CHILD_ENV.update(saved)
    target = project / "target"
    files = {"manifest.json": (target / "manifest.json").read_bytes()}
    for path in sorted((target / "compiled").rglob("*")):
        if path.is_file():
            files[str(path.relative_to(target))] = path.read_bytes()
    return files


def first_difference(base: bytes, this: bytes) -> str:
    """Where two manifests differ: the first node (or top-level key) and field."""
    a, b = json.loads(base), json.loads(this)
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            for name in sorted(set(a[key]) | set(b[key])):
                x, y = a[key].get(name), b[key].get(name)
                if x != y:
                    if isinstance(x, dict) and isinstance(y, dict):
                        fields = sorted(f for f in set(x) | set(y) if x.get(f) != y.get(f))
                        return f"{key}.{name}: {', '.join(fields)}"
                    return f"{key}.{name}"
        return key
    return "formatting only (same JSON values)"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="directory holding the other version's orch/")
    parser.add_argument("projects", type=Path, nargs="+")
    args = parser.parse_args(argv)
    failed = False
    for source in args.projects:
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / source.resolve().name
            shutil.copytree(source, project, ignore=IGNORED)
            base = compile_with(project, str(args.base.resolve()))
            this = compile_with(project, None)
        if base == this:
            print(f"{source}: identical ({len(base)} files, manifest {len(base['manifest.json'])} "
                  "bytes)")  # fmt: skip
            continue
        failed = True
        if base["manifest.json"] != this["manifest.json"]:
            where = first_difference(base["manifest.json"], this["manifest.json"])
            print(f"{source}: manifest.json differs at {where}")
        others = sorted(p for p in set(base) | set(this)
                        if p != "manifest.json" and base.get(p) != this.get(p))  # fmt: skip
        if others:
            print(f"{source}: {len(others)} compiled files differ, first {others[0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
