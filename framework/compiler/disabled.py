"""dbt's ``enabled: false``: the models, seeds, snapshots and sources that do not exist.

``enabled`` comes from the same layers as every setting (folder defaults < YAML ``config:`` <
``config()`` in the model, see :mod:`orch.compiler.settings`), so it is known only once the
models are rendered: :func:`drop_disabled` runs right after, before the graph is resolved, and
returns the project without them. As in dbt, a disabled node builds nothing and has no tests
(its YAML tests and unit tests go with it); a ``ref()``/``source()`` of one from an enabled model
is an error naming it as disabled (see ``Project.disabled``). A source is disabled by
``config: {enabled: false}`` on the source or the table, or ``+enabled`` under ``sources:`` in
the project file (``<project>: <source>: <table>:``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orch.errors import ConfigError, Location

if TYPE_CHECKING:
    from orch.compiler.python import PythonAsset
    from orch.compiler.settings import ModelSettings
    from orch.load.dbt_python import DbtPythonModel
    from orch.load.parsing import ParsedModel
    from orch.load.project import Project, SourceTable


def drop_disabled(
    project: Project,
    settings: ModelSettings,
    parsed: dict[str, ParsedModel],
    python_assets: dict[str, PythonAsset],
    dbt_python: dict[str, DbtPythonModel],
) -> Project:
    """The project without its disabled nodes (``parsed`` and the two dicts lose them too);
    ``project`` itself when every node is enabled."""
    disabled: dict[str, str] = {}
    for name, model in list(parsed.items()):
        snapshot = project.models[name].kind == "snapshot"
        tree = project.config.snapshots if snapshot else project.config.models
        if not settings.is_enabled(name, model.path, tree, model.recording.config):
            disabled[name] = model.path
    for name, asset in python_assets.items():
        if not settings.is_enabled(name, asset.file.path, project.config.models,
                                   dict(asset.spec.config)):  # fmt: skip
            disabled[name] = asset.file.path
    for name, py in dbt_python.items():
        if not settings.is_enabled(name, py.path, project.config.models, py.config):
            disabled[name] = py.path
    for name, seed in project.seeds.items():
        if not settings.is_enabled(name, seed.path, project.config.seeds, None):
            disabled[name] = seed.path
    for name, src in project.sources.items():
        if not _source_enabled(project, src):
            disabled[name] = src.path
    if not disabled:
        return project
    for table in (parsed, python_assets, dbt_python):
        for name in disabled:
            table.pop(name, None)
    return replace(
        project,
        models={n: m for n, m in project.models.items() if n not in disabled},
        seeds={n: s for n, s in project.seeds.items() if n not in disabled},
        sources={n: s for n, s in project.sources.items() if n not in disabled},
        properties={n: p for n, p in project.properties.items() if n not in disabled},
        unit_tests=[u for u in project.unit_tests if u.model not in disabled],
        disabled={**project.disabled, **disabled},
    )


def drop_unmatched_properties(project: Project) -> tuple[Project, list[str]]:
    """A dbt project without the YAML entries (``models:``/``seeds:``) that name no node, and a
    warning for each: dbt warns "Did not find matching node for patch" and creates none of
    their tests (a test of a model with no file would fail every run)."""
    if project.flavor != "dbt":
        return project, []
    known = {*project.models, *project.seeds, *project.model_versions, *project.disabled}
    unmatched = sorted(n for n in project.properties if n not in known)
    if not unmatched:
        return project, []
    warnings = [
        f"{project.properties[n].doc.path}: '{n}' is described but there is no model, seed or "
        "snapshot of that name: its tests are ignored (as dbt does)"
        for n in unmatched
    ]
    properties = {n: p for n, p in project.properties.items() if n not in unmatched}
    return replace(project, properties=properties), warnings


def _source_enabled(project: Project, src: SourceTable) -> bool:
    tree = project.config.sources.get(project.name) or {}
    by_source = tree.get(src.source.name) if isinstance(tree, dict) else None
    by_table = by_source.get(src.table.name) if isinstance(by_source, dict) else None
    table_config = (src.table.model_extra or {}).get("config") or {}
    value: Any = True
    for layer in (tree, by_source, by_table, src.source.config, table_config):
        if isinstance(layer, dict):
            for key in ("+enabled", "enabled"):
                if key in layer and not isinstance(layer[key], dict):
                    value = layer[key]
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(
            f"invalid config for source '{src.name}': 'enabled' must be true or false, not "
            f"{value!r}",
            location=Location(src.path),
            hint="Write enabled: true or false",
        )
    return value
