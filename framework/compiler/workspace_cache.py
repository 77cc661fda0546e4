"""The workspace cache: the merged graph of every member, reused while no member changed.

A warm ``orch ls --workspace`` (or ``status``, ``build``) would otherwise load each member
(its files hashed, its 4 MB manifest validated) only to rebuild the same merged graph. The
cache (``.orch/workspace_cache.json`` at the workspace root) keeps that graph in a light form
(no SQL bodies, column lineage or column lists: what selection and listing need) with, per
member, a **stamp**: the names, sizes and modification times of its files (not ``target/``,
``.orch/`` or the other members' folders), its manifest's key file, the ``profiles.yml``
files it may read from outside its folder, and the keyed digest of the env vars its models
read. The command's options (target, vars, profiles dir) and the workspace file are part of
the key as well.

The cache is used only when every stamp is equal **and** the newest stamped file is more than
:data:`RACY_SECONDS` older than the cache: a file rewritten within the same clock tick as the
stamp, keeping its size, would otherwise go unnoticed (git's "racy clean" rule). Anything
else — a member changed, added or removed, another target, a member that did not load — is a
miss, and the members are compiled as usual (each reusing its own manifest when its inputs
are unchanged); the cache is then written again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orch import __version__
from orch.compiler.artifacts import MANIFEST_KEY_FILE
from orch.compiler.workspace import ContractSpec
from orch.config import RunOptions
from orch.errors import Location
from orch.load.cache import SALT, env_digest
from orch.load.project import profiles_candidates
from orch.load.workspace import Workspace, member_stamp
from orch.manifest import Manifest

CACHE_FILE = ".orch/workspace_cache.json"
CACHE_VERSION = 2
RACY_SECONDS = 2.0
# what the light graph leaves out of each node (reset to its default) and of each check
HEAVY_NODE_FIELDS: dict[str, Any] = {
    "raw_code": "",
    "compiled_code": "",
    "compiled_code_incremental": None,
    "columns": {},
    "column_lineage": {},
    "column_versions": {},
    "reads": None,
    "pre_hook": [],
    "post_hook": [],
}
HEAVY_CHECK_FIELDS: dict[str, Any] = {"sql": ""}


@dataclass(frozen=True)
class CachedGraph:
    """What a cache hit gives: the light merged graph and what was learned compiling it."""

    manifest: Manifest
    order: list[str]  # members, producers before consumers
    reads: dict[str, list[str]]  # member -> the members it reads
    contracts: list[ContractSpec]


@dataclass(frozen=True)
class Stamps:
    """Every member's stamp, taken before a compile (see the module docstring), and the stamp
    of each member's manifest key file (taken again once the compile wrote it)."""

    taken_ns: int
    members: dict[str, str]
    newest_ns: int
    outputs: dict[str, str]

    def after_compile(self, workspace: Workspace) -> Stamps:
        """The same stamps, with the key files the compile just wrote."""
        return replace(self, outputs=output_stamps(workspace))


def cache_path(workspace: Workspace) -> Path:
    """Where the workspace's cache lives."""
    return workspace.root / CACHE_FILE


def options_key(workspace: Workspace, options: RunOptions) -> str:
    """What, besides the members' files, the merged graph depends on."""
    try:
        ws_file = hashlib.sha256(workspace.path.read_bytes()).hexdigest()
    except OSError:
        ws_file = "missing"
    return json.dumps(
        [
            __version__,
            SALT,  # orch's own code: an upgrade or a patch may compile differently
            ws_file,
            options.target,
            json.dumps(options.vars, sort_keys=True, default=str),
            str(options.profiles_dir or ""),
        ]
    )


def take_stamps(workspace: Workspace, options: RunOptions) -> Stamps:
    """Stamp every member (no file is read)."""
    taken = time.time_ns()
    roots = {m.root for m in workspace.members.values()}
    members: dict[str, str] = {}
    newest = 0
    for name, member in workspace.members.items():
        stamp = member_stamp(member.root, roots - {member.root})
        newest = max(newest, stamp.newest_ns)
        parts = [stamp.digest]
        flavor = "orch" if (member.root / "orch_project.yml").is_file() else "dbt"
        for path in profiles_candidates(member.root, options, flavor):
            if path.parent == member.root:
                continue  # stamped with the member's files
            parts.append(_stat(path))
            with contextlib.suppress(OSError):
                newest = max(newest, path.stat().st_mtime_ns)
        members[name] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return Stamps(taken, members, newest, output_stamps(workspace))


def output_stamps(workspace: Workspace) -> dict[str, str]:
    """Each member's manifest key file (a compile of the member alone rewrites it)."""
    return {
        name: _stat(member.root / "target" / MANIFEST_KEY_FILE)
        for name, member in workspace.members.items()
    }


def _stat(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path}:-"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def read_cache(workspace: Workspace, options: RunOptions, stamps: Stamps) -> CachedGraph | None:
    """The cached graph, when it was written from exactly these members; else None."""
    try:
        with cache_path(workspace).open("rb") as f:
            meta = json.loads(f.readline())
            if not _valid(meta, workspace, options, stamps):
                return None
            manifest = Manifest.model_validate_json(f.read())
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return CachedGraph(
        manifest=manifest,
        order=list(meta["order"]),
        reads={k: list(v) for k, v in meta["reads"].items()},
        contracts=[
            ContractSpec(
                member=c["member"],
                model=c["model"],
                columns=dict(c["columns"]),
                location=Location(*c["location"]),
                contracts_file=Path(c["contracts_file"]),
            )
            for c in meta["contracts"]
        ],
    )


def _valid(meta: Any, workspace: Workspace, options: RunOptions, stamps: Stamps) -> bool:
    if not isinstance(meta, dict) or meta.get("version") != CACHE_VERSION:
        return False
    if meta.get("options") != options_key(workspace, options):
        return False
    if stamps.newest_ns > meta["taken_ns"] - RACY_SECONDS * 1e9:
        return False  # a file changed too close to the stamp to be sure of it
    members = meta["members"]
    if set(members) != set(stamps.members):
        return False
    for name, entry in members.items():
        if entry["stamp"] != stamps.members[name] or entry["output"] != stamps.outputs[name]:
            return False
        root = workspace.members[name].root
        if entry["env"] != env_digest(entry["env_vars"], root):
            return False
    return True


def write_cache(
    workspace: Workspace,
    options: RunOptions,
    stamps: Stamps,
    manifest: Manifest,
    *,
    order: list[str],
    reads: dict[str, list[str]],
    env_vars: dict[str, list[str]],
    contracts: list[ContractSpec],
) -> None:
    """Write the cache (atomically); a folder that cannot be written is left without one."""
    meta = {
        "version": CACHE_VERSION,
        "options": options_key(workspace, options),
        "taken_ns": stamps.taken_ns,
        "members": {
            name: {
                "stamp": stamps.members[name],
                "output": stamps.outputs[name],
                "env_vars": sorted(env_vars.get(name, [])),
                "env": env_digest(env_vars.get(name, []), workspace.members[name].root),
            }
            for name in stamps.members
        },
        "order": order,
        "reads": reads,
        "contracts": [
            {
                "member": c.member,
                "model": c.model,
                "columns": c.columns,
                "location": [c.location.path, c.location.line, c.location.col],
                "contracts_file": str(c.contracts_file),
            }
            for c in contracts
        ],
    }
    path = cache_path(workspace)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        if not path.parent.exists():  # like the state store: nothing in .orch/ is committed
            path.parent.mkdir(parents=True)
            (path.parent / ".gitignore").write_text("*\n", encoding="utf-8")
        # nodes in topological order: a hit needs no sort (WorkspaceGraph.topological_names)
        nodes = manifest.nodes
        ordered = manifest.model_copy(
            update={"nodes": {n: nodes[n] for n in manifest.topological_names()}}
        )
        with tmp.open("wb") as f:
            f.write(json.dumps(meta).encode() + b"\n")
            f.write(ordered.model_dump_json(exclude_defaults=True).encode())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def light_copy(manifest: Manifest) -> Manifest:
    """The manifest without what selection and listing never read (see HEAVY_NODE_FIELDS)."""
    return manifest.model_copy(
        update={
            "nodes": {k: n.model_copy(update=HEAVY_NODE_FIELDS) for k, n in manifest.nodes.items()},
            "checks": {
                k: c.model_copy(update=HEAVY_CHECK_FIELDS) for k, c in manifest.checks.items()
            },
        }
    )
