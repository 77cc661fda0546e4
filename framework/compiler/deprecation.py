"""dbt's model deprecation: ``deprecation_date`` on a model (or a model version) and its warnings.

dbt checks every model after parsing, whatever the command (``check_for_model_deprecations``):

- a model past its date: ``DeprecatedModel`` (*Model m has passed its deprecation date of ...*);
- each model that refs a model with a date: ``DeprecatedReference`` once the date has passed,
  ``UpcomingReferenceDeprecation`` before (*While compiling 'c': Found a reference to m, which
  ...*), pointing at the latest version when a non-latest version is referenced.

orch writes the date on the node (ISO 8601, as dbt's manifest) and returns the same warnings,
each prefixed with where it comes from; the CLI prints them on ``build``, ``compile``, ``run``...
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from orch.load.dbt_versions import version_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from orch.load.project import Project
    from orch.manifest import Node


def mark_deprecations(
    project: Project,
    nodes: dict[str, Node],
    order: Iterable[str],
    children: Callable[[str], Iterable[str]],
) -> list[str]:
    """Set ``deprecation_date`` on the compiled ``nodes`` (in place); dbt's warnings about them.

    ``order``: the asset names in the order to report them; ``children``: each asset's direct
    downstream assets.
    """
    dated: list[str] = []
    for name in order:
        props = project.properties.get(name)
        node = nodes.get(name)
        if props is None or node is None or props.entry.deprecation_date is None:
            continue
        if node.resource_type != "model":
            continue
        nodes[name] = node.model_copy(
            update={"deprecation_date": props.entry.deprecation_date.isoformat()}
        )
        dated.append(name)
    now = datetime.now().astimezone()
    warnings: list[str] = []
    for name in dated:
        node, props = nodes[name], project.properties[name]
        when = node.deprecation_date or ""
        past = datetime.fromisoformat(when) < now
        model, version, latest = _names(project, name)
        shown = f"{model}.v{version}" if version else model
        if past:
            where = props.doc.location((*props.key_path, "deprecation_date"))
            warnings.append(f"{where}: Model {shown} has passed its deprecation date of {when}. "
                            "This model should be disabled or removed.")  # fmt: skip
        package = node.unique_id.split(".")[1]
        for child in sorted(children(name)):
            child_node = nodes.get(child)
            if child_node is None or child_node.resource_type != "model":
                continue
            what = "which was deprecated on" if past else "which is slated for deprecation on"
            text = (f"{child_node.path or child}: While compiling '{_names(project, child)[0]}': "
                    f"Found a reference to {shown}, {what} '{when}'.")  # fmt: skip
            if version and version != latest:
                verb = "Migrate now" if past else "Try it out"
                text += (f" A new version of '{model}' is available. {verb}: "
                         f"{{{{ ref('{package}', '{model}', v='{latest}') }}}}.")  # fmt: skip
            warnings.append(text)
    return warnings


def _names(project: Project, asset: str) -> tuple[str, str, str]:
    """(model name, version, latest version) of an asset; versions empty when unversioned."""
    found = version_of(project.model_versions, asset)
    return found if found is not None else (asset, "", "")
