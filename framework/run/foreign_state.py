"""State read across workspace members: what the owner of a public model last built.

A member reads another's public model as a source (``finance.revenue``). Its freshness then
follows the owner's own state: before a build observes its sources
(:func:`orch.run.observe.observe_sources`), each such source's observation is the **data
version** of the owner's latest materialization of the model, read from the owner's state
store (read-only), instead of a row count. A rebuild of ``finance.revenue`` that changed its
data therefore makes ``marketing``'s readers stale (``source finance.revenue changed``) for
``orch build --changed``, in a workspace run or inside the member alike; one that produced the
same data leaves them up to date.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from orch.compiler.workspace import MemberView
from orch.errors import OrchError
from orch.load.project import Project
from orch.manifest import Manifest
from orch.state.kind import open_state_store


def owner_versions(project: Project, manifest: Manifest, sources: Iterable[str]) -> dict[str, str]:
    """source -> the data version its owning member last built it with (those ever built)."""
    view = project.foreign
    if not isinstance(view, MemberView):
        return {}
    wanted: dict[str, dict[str, str]] = {}  # member -> model -> source name here
    for name in sources:
        node = manifest.nodes.get(name)
        member = node.config.meta.get("workspace_member") if node is not None else None
        if node is None or not isinstance(member, str):
            continue
        model = node.source_table or name.split(".", 1)[-1]
        wanted.setdefault(member, {})[model] = name
    out: dict[str, str] = {}
    for member, models in sorted(wanted.items()):
        try:
            owner = view.owner(member)
            state = open_state_store(owner.root, owner.target, readonly=True)
        except OrchError:
            continue  # the owner cannot be read: its sources are observed as usual
        try:
            latest = state.latest_materializations(sorted(models), target=owner.target_name)
        except OrchError:
            continue
        finally:
            state.close()
        versions: dict[str, list[str]] = {}
        for (model, partition), rec in latest.items():
            version = rec.data_version or f"run:{rec.run_id}"
            versions.setdefault(model, []).append(f"{partition or ''}={version}")
        for model, parts in versions.items():
            if model in models:
                digest = hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]
                out[models[model]] = digest
    return out


__all__ = ["owner_versions"]
