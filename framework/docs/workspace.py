"""The site of a workspace: one graph of every member's assets (``member.asset``), each asset's
state and history read from its own member's state store.

:func:`workspace_snapshot` merges the members' :class:`StateSnapshot` s under the workspace
names, so the site (and ``orch ui``) shows freshness across members: an asset of marketing that
reads finance's public model is stale when finance rebuilt it after marketing's last build.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from orch.manifest import Manifest
from orch.state.snapshot import StateSnapshot

__all__ = [
    "WorkspaceState",
    "foreign_names",
    "merge_automation",
    "read_workspace_state",
    "workspace_descriptive",
    "workspace_manifest",
    "workspace_snapshot",
]


def workspace_snapshot(
    parts: Mapping[str, StateSnapshot], foreign: Mapping[str, set[str]] | None = None
) -> StateSnapshot:
    """One snapshot of every member's, keys renamed ``member.asset`` (``member.check``).

    ``foreign[member]`` holds the names that member reads from the others (``finance.revenue``):
    they stay as they are, being the owner's asset.
    """
    out = StateSnapshot()
    for member, snap in parts.items():
        keep = (foreign or {}).get(member, set())

        def name(local: str, member: str = member, keep: set[str] = keep) -> str:
            return local if local in keep else f"{member}.{local}"

        def rec(r: Any, member: str = member, name: Any = name) -> Any:
            changes: dict[str, Any] = {}
            if hasattr(r, "asset") and isinstance(r.asset, str):
                changes["asset"] = name(r.asset)
            if getattr(r, "upstream", None):
                changes["upstream"] = tuple(
                    dataclasses.replace(u, asset=name(u.asset)) if hasattr(u, "asset") else u
                    for u in r.upstream
                )
            return dataclasses.replace(r, **changes) if changes else r

        for attr in ("latest", "failures", "attempts"):
            target = getattr(out, attr)
            for (asset, part), r in getattr(snap, attr).items():
                target[(name(asset), part)] = rec(r)
        for (check, part), r in snap.checks.items():
            out.checks[(f"{member}.{check}", part)] = rec(r)
        for asset, recs in snap.history.items():
            out.history[name(asset)] = [rec(r) for r in recs]
        for check, results in snap.check_history.items():
            out.check_history[f"{member}.{check}"] = [rec(r) for r in results]
        for asset, at in snap.last_finished.items():
            out.last_finished[name(asset)] = at
        for source, obs in snap.observations.items():
            out.observations[name(source)] = obs
        out.code.update(snap.code)
        out.git.update(snap.git)
        out.runs.extend(snap.runs)
    out.runs.sort(key=lambda r: r.started_at, reverse=True)
    return out


def merge_automation(parts: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """The members' Automation views as one: every job, schedule and sensor named
    ``member.name``; the errors of the members whose sensors did not load, each named."""
    merged: dict[str, Any] = {"jobs": [], "schedules": [], "sensors": [], "op_jobs": []}
    errors: list[str] = []
    for member, data in parts.items():
        if not data:
            continue
        for key in ("jobs", "schedules", "sensors", "op_jobs"):
            for item in data.get(key) or []:
                row = dict(item)
                if isinstance(row.get("name"), str):
                    row["name"] = f"{member}.{row['name']}"
                row["project"] = member
                merged[key].append(row)
        if data.get("error"):
            errors.append(f"{member}: {data['error']}")
        for key, value in data.items():
            merged.setdefault(key, value)
    if not any(merged[k] for k in ("jobs", "schedules", "sensors", "op_jobs")) and not errors:
        return None
    merged["error"] = "; ".join(errors) or None
    return merged


def workspace_manifest(graph: Any) -> Manifest:
    """The workspace graph with column lineage across members (``member.asset`` refs), and the
    members' exposures and semantic layer under workspace names (``member.name``)."""
    from orch.compiler.lineage import across_members

    members = {m: r.manifest for m, r in graph.compiled.items()}
    merged = across_members(graph.manifest, members)
    prefixes = {m: graph.compiler.prefix(m) for m in members}
    exposures, layer = workspace_descriptive(members, prefixes)
    if not exposures and not layer:
        return merged
    return merged.model_copy(update={"exposures": exposures, "semantic_layer": layer})


def workspace_descriptive(
    members: Mapping[str, Manifest], prefixes: Mapping[str, str] | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    """Each member's exposures and semantic layer, named ``member.name``; what they depend on
    named as in the workspace graph (a model read from another member keeps its owner's name),
    their files under ``prefixes[member]`` (the member's folder)."""
    exposures: dict[str, dict[str, Any]] = {}
    layer: dict[str, dict[str, dict[str, Any]]] = {}
    for member, manifest in members.items():
        foreign = foreign_names(manifest)

        prefix = (prefixes or {}).get(member, "")

        def rename(
            entry: dict[str, Any], member: str = member, foreign: set[str] = foreign,
            prefix: str = prefix,
        ) -> Any:  # fmt: skip
            ups = [a if a in foreign else f"{member}.{a}" for a in entry.get("depends_on", [])]
            path = prefix + entry["path"] if entry.get("path") else entry.get("path")
            return {**entry, "name": f"{member}.{entry['name']}", "depends_on": ups, "path": path}

        for name, entry in manifest.exposures.items():
            exposures[f"{member}.{name}"] = rename(entry)
        for kind, entries in manifest.semantic_layer.items():
            for name, entry in entries.items():
                layer.setdefault(kind, {})[f"{member}.{name}"] = rename(entry)
    return dict(sorted(exposures.items())), layer


def foreign_names(manifest: Manifest) -> set[str]:
    """The names a member's manifest has for the models it reads from other members."""
    return {
        name
        for name, node in manifest.nodes.items()
        if node.resource_type == "source" and node.config.meta.get("workspace_member")
    }


@dataclasses.dataclass
class WorkspaceState:
    """What the site shows of a workspace's state: the merged snapshot, the warehouse
    columns, the Automation view, and warnings (a catalog read from the saved copy)."""

    snapshot: StateSnapshot
    catalog: dict[str, list[list[str]]]
    automation: dict[str, Any] | None
    warnings: list[str]


def read_workspace_state(graph: Any, *, with_catalog: bool = True) -> WorkspaceState:
    """Read every loaded member's state store (read-only) and warehouse catalog."""
    from orch.docs.automation import automation_data
    from orch.docs.catalog import read_catalog
    from orch.run.workflow import open_state

    snaps: dict[str, StateSnapshot] = {}
    foreign: dict[str, set[str]] = {}
    catalog: dict[str, list[list[str]]] = {}
    automation: dict[str, Any] = {}
    warnings: list[str] = []
    for member, result in graph.compiled.items():
        project, manifest = result.project, result.manifest
        foreign[member] = foreign_names(manifest)
        known = set(manifest.nodes)
        with open_state(project.root, readonly=True, target=project.target) as reader:
            snaps[member] = StateSnapshot.read(
                reader, project.target_name, detail=True, known=known
            )
            automation[member] = automation_data(project, reader)
        if with_catalog:
            built = {a for a, _ in snaps[member].latest}
            read = read_catalog(project, manifest, built)
            catalog.update(
                {f"{member}.{a}": c for a, c in read.columns.items() if a not in foreign[member]}
            )
            if read.warning:
                warnings.append(f"{member}: {read.warning}")
    return WorkspaceState(
        workspace_snapshot(snaps, foreign), catalog, merge_automation(automation), warnings
    )
