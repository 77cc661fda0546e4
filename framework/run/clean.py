"""``orch clean``: remove ``target/`` and the project's ``clean-targets``.

The state store (``.orch/``) and a DuckDB warehouse file inside the project are kept unless
``everything`` is asked for. A path outside the project folder is refused before anything is
removed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from orch.config import RunOptions
from orch.errors import ConfigError, Location
from orch.load.project import Project, load_project
from orch.state.records import STATE_DIR


@dataclass(frozen=True)
class CleanedPath:
    """One path ``orch clean`` considered: ``action`` is removed, absent or kept."""

    path: str  # relative to the project folder
    action: str
    reason: str = ""


def clean_project(
    options: RunOptions, *, everything: bool = False, dry_run: bool = False
) -> list[CleanedPath]:
    """Remove the target path and ``clean-targets`` (and, with ``everything``, the state and
    the warehouse file). Returns what was removed, absent or kept, in order."""
    project = load_project(options)
    root = project.root
    wanted = [project.config.target_path, *project.config.clean_targets]
    protected = _protected(project)
    if everything:
        wanted += [str(p.relative_to(root)) for p in protected]
    paths: list[Path] = []
    for entry in wanted:
        path = (root / entry).resolve()
        if path == root or not path.is_relative_to(root):
            raise ConfigError(
                f"clean-targets entry '{entry}' is "
                + (
                    "the project folder itself" if path == root else f"outside the project ({path})"
                ),
                location=Location(project.project_file),
                hint="orch clean removes only paths inside the project folder: "
                "remove the entry from clean-targets",
            )
        if path not in paths:
            paths.append(path)
    out: list[CleanedPath] = []
    for path in paths:
        shown = path.relative_to(root).as_posix()
        guard = next((p for p in protected if p == path or p.is_relative_to(path)), None)
        if guard is not None and not everything:
            what = "the state store" if guard.name == STATE_DIR else "the warehouse file"
            out.append(CleanedPath(shown, "kept", f"holds {what}: pass --all to remove it"))
            continue
        if not path.exists() and not path.is_symlink():
            out.append(CleanedPath(shown, "absent"))
            continue
        if not dry_run:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        out.append(CleanedPath(shown, "removed"))
    return out


def _protected(project: Project) -> list[Path]:
    """The state store and a DuckDB warehouse file (with its WAL) inside the project."""
    root = project.root
    out = [root / STATE_DIR]
    raw = getattr(project.target, "path", None)
    if (
        project.target.type == "duckdb"
        and isinstance(raw, str)
        and not raw.startswith((":memory:", "md:", "motherduck:"))
    ):
        path = Path(raw).expanduser()
        path = (path if path.is_absolute() else root / path).resolve()
        if path.is_relative_to(root):
            out += [path, path.with_name(path.name + ".wal")]
    return out
