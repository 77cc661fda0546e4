"""``orch_workspace.yml``: several projects (members) loaded as one graph.

A workspace file lists its members by relative path. Each member is a whole project (its own
profile, target, state store and lock); a member's name is its project's ``name``. This module
finds and reads the file and checks its members; compiling across members lives in
:mod:`orch.compiler.workspace`, running across them in :mod:`orch.run.workspace`.

What a member sees of the others is a :class:`ForeignModels` lookup, attached to its
:class:`~orch.load.project.Project`: ``ref('finance', 'revenue')`` asks it for the public models
of ``finance``. The lookup is lazy, so only the members a project reads are compiled, and a
reference cycle across projects is found as one member waits on itself.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    ProjectError,
    UserError,
    raise_collected,
)
from orch.yamldoc import YamlDoc, load_yaml

WORKSPACE_FILE = "orch_workspace.yml"
PROJECT_FILES = ("orch_project.yml", "dbt_project.yml")
Access = Literal["public", "protected", "private"]
ACCESS_LEVELS: tuple[str, ...] = ("public", "protected", "private")
DEFAULT_ACCESS: Access = "protected"  # dbt's default
# what a member's file stamp leaves out: build outputs, state, caches, environments
SKIPPED_FOLDERS = frozenset({"target", ".orch", "logs", "__pycache__", ".git", ".venv"})
SKIPPED_SUFFIXES = (".duckdb", ".duckdb.wal", ".pyc")


@dataclass(frozen=True)
class Member:
    """One project of a workspace: its name (the project's ``name``), folder and where listed."""

    name: str
    root: Path
    location: Location  # the entry in orch_workspace.yml


@dataclass(frozen=True)
class Workspace:
    """A workspace file and its members, in the order listed."""

    root: Path
    path: Path
    members: dict[str, Member]

    def member_at(self, folder: Path) -> Member | None:
        """The member whose project folder is ``folder``, if any."""
        folder = folder.resolve()
        return next((m for m in self.members.values() if m.root == folder), None)


@dataclass(frozen=True)
class ForeignModel:
    """A model of another member, as a consumer sees it: relation, access and contract."""

    project: str
    name: str
    database: str | None
    schema_name: str
    identifier: str
    access: Access
    contract: bool = False
    columns: dict[str, str | None] = field(default_factory=dict)  # name -> data type
    description: str = ""
    path: str = ""  # the model file, relative to its project
    warehouse: str = ""  # which warehouse it lives in (a consumer must share it)

    @property
    def asset(self) -> str:
        """Its name in the consumer's graph and in the workspace: ``project.model``."""
        return f"{self.project}.{self.name}"


class ForeignModels(Protocol):
    """What a member may read of the other members (given by :mod:`orch.compiler.workspace`)."""

    @property
    def members(self) -> frozenset[str]:
        """The names of the other members."""

    def models_of(self, project: str, where: Location | None) -> dict[str, ForeignModel]:
        """Every model of member ``project`` (compiled on first use); raises CycleError when
        that member is being compiled for this one."""

    def warehouse(self) -> str:
        """The warehouse key of the member asking (to refuse reads across warehouses)."""

    def identity(self) -> str:
        """What a member's manifest depends on beyond its own files (for its cache key)."""


@dataclass(frozen=True)
class FileStamp:
    """A digest of a folder's files (name, size, modification time) and the newest of those
    times (a stamp is trusted only once that time is well in the past: see
    :mod:`orch.compiler.workspace_cache`)."""

    digest: str
    newest_ns: int


def member_stamp(root: Path, skip: set[Path]) -> FileStamp:
    """Stamp a member's files, without build outputs or the other members' folders.

    Cheap enough for every command: no file is read, only listed and stat'ed.
    """
    parts: list[str] = []
    newest = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIPPED_FOLDERS and (here / d).resolve() not in skip
        )
        parts.append(dirpath)
        for name in sorted(filenames):
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            try:
                st = os.stat(f"{dirpath}/{name}")
            except OSError:
                continue
            newest = max(newest, st.st_mtime_ns)
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return FileStamp(hashlib.sha256("\n".join(parts).encode()).hexdigest(), newest)


def attach_path(here: str, there: str) -> str | None:
    """The DuckDB file a member writing to warehouse ``here`` attaches to read ``there``, or
    None when it cannot (not two DuckDB files: e.g. Snowflake, or DuckDB in memory)."""
    files = []
    for key in (here, there):
        kind, _, where = key.partition(":")
        if kind != "duckdb" or not Path(where).is_absolute():
            return None
        files.append(where)
    return files[1]


def attach_alias(member: str) -> str:
    """The name another member's DuckDB file is attached as (its catalog in the SQL)."""
    return f"ws_{member}"


# --------------------------------------------------------------------------- finding


def find_workspace_file(start: Path) -> Path | None:
    """``orch_workspace.yml`` in ``start`` or the nearest folder above it, else None."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / WORKSPACE_FILE
        if path.is_file():
            return path
    return None


def workspace_path(given: Path) -> Path:
    """The workspace file for ``--workspace PATH`` (a folder holding it, or the file itself)."""
    path = given / WORKSPACE_FILE if given.is_dir() else given
    if not path.is_file():
        raise ConfigError(
            f"no {WORKSPACE_FILE} at '{given}'",
            hint=f"Pass --workspace pointing at a folder holding {WORKSPACE_FILE} (or the file)",
        )
    return path


# --------------------------------------------------------------------------- reading


def load_workspace(path: Path, shown: str | None = None) -> Workspace:
    """Read a workspace file and check its members. Raises UserError with every problem found.

    A member is ``- path: finance`` or just ``- finance``; its folder must hold
    ``orch_project.yml`` or ``dbt_project.yml``, and no two members may have one name.
    ``shown``: the file's path in messages (default ``orch_workspace.yml``).
    """
    path = path.resolve()
    root = path.parent
    doc = load_yaml(path, shown or WORKSPACE_FILE)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{WORKSPACE_FILE} must be a mapping", location=doc.location())
    unknown = sorted(set(data) - {"members", "name"})
    if unknown:
        raise ConfigError(
            f"unknown key '{unknown[0]}' in {WORKSPACE_FILE}",
            location=doc.location((unknown[0],)),
            hint="A workspace file has 'members:' (a list of project folders) and 'name:'",
        )
    entries = data.get("members")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{WORKSPACE_FILE} lists no members",
            location=doc.location(("members",)),
            hint="Add 'members:' with the relative path of each project, e.g. '- path: finance'",
        )
    errors: list[UserError] = []
    members: dict[str, Member] = {}
    for i, entry in enumerate(entries):
        try:
            member = _member(doc, root, i, entry)
        except UserError as err:
            errors.append(err)
            continue
        first = members.get(member.name)
        if first is not None:
            errors.append(
                DuplicateNameError(
                    f"two members are named '{member.name}': {_shown(root, first.root)} (at "
                    f"{first.location}) and {_shown(root, member.root)}",
                    location=member.location,
                    hint="Member names are project names: rename one project's 'name:'",
                )
            )
            continue
        members[member.name] = member
    raise_collected(errors)
    return Workspace(root=root, path=path, members=members)


def _member(doc: YamlDoc, root: Path, i: int, entry: Any) -> Member:
    key: tuple[str | int, ...] = ("members", i)
    if isinstance(entry, dict):
        unknown = sorted(set(entry) - {"path"})
        if unknown:
            raise ConfigError(
                f"unknown key '{unknown[0]}' in a member",
                location=doc.location((*key, unknown[0])),
                hint="A member is '- path: <folder>'",
            )
        key = (*key, "path")
        entry = entry.get("path")
    where = doc.location(key)
    if not isinstance(entry, str) or not entry.strip():
        raise ConfigError(
            "a member needs a path", location=where, hint="Write '- path: <project folder>'"
        )
    folder = (root / entry).resolve()
    if not folder.is_dir():
        raise ProjectError(
            f"member path '{entry}' does not exist",
            location=where,
            hint="Fix the path (relative to orch_workspace.yml) or remove the member",
        )
    project_file = next((folder / n for n in PROJECT_FILES if (folder / n).is_file()), None)
    if project_file is None:
        raise ProjectError(
            f"member path '{entry}' holds no orch_project.yml or dbt_project.yml",
            location=where,
            hint="Point the member at a project folder",
        )
    shown = (Path(entry) / project_file.name).as_posix()
    project_doc = load_yaml(project_file, shown)
    name = project_doc.data.get("name") if isinstance(project_doc.data, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{shown} has no 'name'", location=project_doc.location())
    return Member(name=name, root=folder, location=where)


def _shown(root: Path, folder: Path) -> str:
    return folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)
