"""dbt model versions: a ``versions:`` entry becomes one model per version, as dbt resolves them.

A model ``m`` with ``versions: [{v: 1}, {v: 2}]`` has two nodes, ``model.<proj>.m.v1`` and
``model.<proj>.m.v2``. Each version's SQL is the file ``m_v<N>.sql`` (or ``defined_in: <stem>``)
and its relation is named ``m_v<N>`` unless an ``alias`` is configured. orch names each version's
asset ``m_v<N>`` (the relation name dbt gives it), so everything downstream of the loader (graph,
relations, state) sees ordinary models.

- ``latest_version``: given, or the greatest version (numbers compared as numbers).
- ``ref('m')`` resolves to the latest version — never to a prerelease version above it;
  ``ref('m', version=1)`` / ``ref('m', v=1)`` to that version (:func:`resolve`).
- A version's ``columns`` start from the model's own (``include: all`` / a list, ``exclude:``
  a list; without an ``include`` entry all of them), and its own column entries are added or
  replace the model's; its ``config`` is merged over the model's; other keys (description,
  tests, docs...) replace the model's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from orch.config import ColumnProperties, ModelProperties
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    UnknownReferenceError,
    UserError,
    raise_collected,
    suggestion,
)

if TYPE_CHECKING:
    from orch.load.project import Project


@dataclass(frozen=True)
class VersionedModel:
    """A versioned dbt model: its versions (``v`` as written, text) and their asset names."""

    name: str
    latest: str
    versions: dict[str, str]  # v -> asset name (m_v<N>)
    package: str = ""

    def asset(self, version: Any = None) -> str | None:
        """The asset of ``version`` (the latest one when None); None if there is no such one."""
        key = self.latest if version is None else version_text(version)
        return self.versions.get(key)


def version_text(value: Any) -> str:
    """dbt keeps ``v`` as written: ``1`` and ``'1'`` are the same version, ``1.0`` is not ``1``."""
    return str(value)


def _sort_key(text: str) -> tuple[int, Any]:
    try:
        return (1, Decimal(text))
    except InvalidOperation:
        return (0, text)


def expand_versions(project: Project) -> dict[str, VersionedModel]:
    """Replace each versioned model's properties (and files) by one per version.

    Raises (all problems at once) for a version without ``v``, a duplicate ``v``, a missing
    file, a ``defined_in`` naming no model file and a ``latest_version`` that is not a version.
    """
    from orch.load.project import Properties

    out: dict[str, VersionedModel] = {}
    errors: list[UserError] = []
    for name, props in list(project.properties.items()):
        entry = props.entry
        if not entry.versions or props.key_path[0] != "models":
            continue
        doc, base = props.doc, props.key_path
        versions: dict[str, str] = {}
        new_props: dict[str, Any] = {}
        renames: dict[str, str] = {}
        for j, raw in enumerate(entry.versions):
            where = doc.location((*base, "versions", j))
            if not isinstance(raw, dict) or raw.get("v") is None:
                errors.append(ConfigError(f"version {j + 1} of '{name}' has no 'v:'",
                                          location=where, hint="Write - v: 1"))  # fmt: skip
                continue
            v = version_text(raw["v"])
            if v in versions:
                errors.append(DuplicateNameError(
                    f"version {v} of '{name}' is defined twice",
                    location=doc.location((*base, "versions", j, "v")),
                    hint="Give each version its own v"))  # fmt: skip
                continue
            asset = f"{name}_v{v}"
            stem = str(raw.get("defined_in") or asset)
            file = project.models.get(stem)
            if file is None or file.kind not in ("model", "dbt_python"):
                key = (*base, "versions", j, "defined_in") if raw.get("defined_in") else None
                errors.append(UnknownReferenceError(
                    f"version {v} of '{name}' has no model file '{stem}'"
                    + (" (defined_in)" if key else ""),
                    location=doc.location(key) if key else where,
                    hint=suggestion(stem, list(project.models), closest=True)
                    or f"Create {stem}.sql (or .py) in the model folders, or set "
                    "defined_in"))  # fmt: skip
                continue
            versions[v] = asset
            renames[stem] = asset
            key_path = (*base, "versions", j)
            version_entry = _version_entry(entry, raw, asset, doc, key_path)
            new_props[asset] = Properties(version_entry, doc, key_path)
        if not versions:
            continue
        if entry.latest_version is not None:
            latest = version_text(entry.latest_version)
            if latest not in versions:
                errors.append(UnknownReferenceError(
                    f"latest_version {latest} of '{name}' is not one of its versions "
                    f"({', '.join(versions)})",
                    location=doc.location((*base, "latest_version")),
                    hint="Set latest_version to a listed v, or add that version"))  # fmt: skip
                continue
        else:
            latest = max(versions, key=_sort_key)
        for stem, asset in renames.items():
            file = project.models.pop(stem)
            project.models[asset] = dataclasses.replace(file, name=asset)
        del project.properties[name]
        project.properties.update(new_props)
        package = project.models[versions[latest]].package
        out[name] = VersionedModel(name, latest, versions, package)
    raise_collected(errors)
    return out


def _version_entry(
    entry: ModelProperties, raw: dict[str, Any], asset: str, doc: Any, key_path: tuple[Any, ...]
) -> ModelProperties:
    base_columns = {c.name: c for c in entry.columns}
    include: Any = "all"
    exclude: list[str] = []
    own: list[ColumnProperties] = []
    for k, col in enumerate(raw.get("columns") or []):
        if isinstance(col, dict) and "include" in col:
            include = col["include"]
            exclude = [str(x) for x in col.get("exclude") or []]
            continue
        if not isinstance(col, dict) or "name" not in col:
            raise ConfigError("each column of a version needs a name (or include/exclude)",
                              location=doc.location((*key_path, "columns", k)),
                              hint="Write - name: <column>  or  - include: all")  # fmt: skip
        own.append(ColumnProperties.model_validate(col))
    if include in ("all", "*"):
        kept = [c for n, c in base_columns.items() if n not in exclude]
    else:
        names = [str(x) for x in include or []]
        kept = [base_columns[n] for n in names if n in base_columns and n not in exclude]
    own_names = {c.name for c in own}
    columns = [c for c in kept if c.name not in own_names] + own
    update: dict[str, Any] = {
        "name": asset,
        "columns": columns,
        "config": {**entry.config, **(raw.get("config") or {})},
        "versions": None,
        "latest_version": None,
    }
    for key in ("description", "docs", "meta", "access", "constraints", "group", "owner"):
        if key in raw:
            update[key] = raw[key]
    for key in ("tests", "data_tests", "checks"):
        if key in raw:
            update["checks"] = list(raw[key] or [])
    return entry.model_copy(update=update)


def resolve(
    versioned: dict[str, VersionedModel], name: str, version: Any
) -> tuple[str | None, str | None]:
    """The asset ``ref(name, version=...)`` means, or (None, why) when there is none.

    An unversioned name gives ``(name, None)``; a version of an unversioned model is an error
    (dbt: the node is not found).
    """
    model = versioned.get(name)
    if model is None:
        if version is None:
            return name, None
        return None, f"'{name}' has no versions (ref() with version={version!r})"
    asset = model.asset(version)
    if asset is None:
        return None, (f"'{name}' has no version {version_text(version)} "
                      f"(versions: {', '.join(model.versions)})")  # fmt: skip
    return asset, None


def version_of(versioned: dict[str, VersionedModel], asset: str) -> tuple[str, str, str] | None:
    """``(model name, version, latest version)`` of a version's asset; None for other assets."""
    for model in versioned.values():
        for v, name in model.versions.items():
            if name == asset:
                return model.name, v, model.latest
    return None


def node_id_name(versioned: dict[str, VersionedModel], asset: str) -> str:
    """The last part of dbt's ``unique_id``: ``m.v1`` for a version, else the asset's name."""
    found = version_of(versioned, asset)
    return f"{found[0]}.v{found[1]}" if found else asset
