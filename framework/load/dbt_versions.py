"""dbt model versions: a ``versions:`` entry becomes one model per version, as dbt resolves them.

A model ``m`` with ``versions: [{v: 1}, {v: 2}]`` has two nodes, ``model.<proj>.m.v1`` and
``model.<proj>.m.v2``. Each version's SQL is the file ``m_v<N>.sql`` (or ``defined_in: <stem>``;
the latest version may also live in ``m.sql``; a version with no file is not built, with a
warning, as in dbt) and its relation is named ``m_v<N>`` unless an ``alias`` is configured. orch
names each version's asset ``m_v<N>`` (the relation name dbt gives it), so everything downstream
of the loader (graph, relations, state) sees ordinary models.

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

from orch.config import ColumnProperties, ModelProperties, deprecation_datetime
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    UnknownReferenceError,
    UserError,
    raise_collected,
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
    # listed versions with no model file (not built, as in dbt): (v, "file:line: stem")
    missing: tuple[tuple[str, str], ...] = ()

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

    Each version's file is ``defined_in`` or ``<name>_v<N>``; only the latest version falls
    back to the unversioned ``<name>.sql`` (dbt's rule). A version with no file is not built: a
    warning says so, as dbt's NoNodeForYamlKey does, and a ``ref()`` to it is an error there.
    Raises (all problems at once) for a version without ``v``, a duplicate ``v``, a
    ``latest_version`` that is not a version and an unversioned ``<name>.sql`` left beside the
    versions (dbt refuses it: ``ref()`` could not tell them apart).
    """
    from orch.load.project import Properties

    out: dict[str, VersionedModel] = {}
    errors: list[UserError] = []
    for name, props in list(project.properties.items()):
        entry = props.entry
        if not entry.versions or props.key_path[0] != "models":
            continue
        doc, base = props.doc, props.key_path
        listed: dict[str, tuple[int, dict[str, Any]]] = {}
        for j, raw in enumerate(entry.versions):
            where = doc.location((*base, "versions", j))
            if not isinstance(raw, dict) or raw.get("v") is None:
                errors.append(ConfigError(f"version {j + 1} of '{name}' has no 'v:'",
                                          location=where, hint="Write - v: 1"))  # fmt: skip
                continue
            v = version_text(raw["v"])
            if v in listed:
                errors.append(DuplicateNameError(
                    f"version {v} of '{name}' is defined twice",
                    location=doc.location((*base, "versions", j, "v")),
                    hint="Give each version its own v"))  # fmt: skip
                continue
            listed[v] = (j, raw)
        if not listed:
            continue
        if entry.latest_version is not None:
            latest = version_text(entry.latest_version)
            if latest not in listed:
                errors.append(UnknownReferenceError(
                    f"latest_version {latest} of '{name}' is not one of its versions "
                    f"({', '.join(listed)})",
                    location=doc.location((*base, "latest_version")),
                    hint="Set latest_version to a listed v, or add that version"))  # fmt: skip
                continue
        else:
            latest = max(listed, key=_sort_key)
        versions: dict[str, str] = {}
        new_props: dict[str, Any] = {}
        renames: dict[str, str] = {}
        missing: list[tuple[str, str]] = []
        for v, (j, raw) in listed.items():
            asset = f"{name}_v{v}"
            stem = str(raw.get("defined_in") or asset)
            key_path = (*base, "versions", j)
            version_entry = _version_entry(entry, raw, asset, doc, key_path)
            file = _model_file(project, stem)
            if file is None and v == latest:
                # dbt: only the latest version may live in the unversioned <name>.sql
                file = _model_file(project, name)
                if file is not None:
                    stem = name
            if file is None:
                key = (*key_path, "defined_in") if raw.get("defined_in") else key_path
                project.warnings.append(
                    _no_file_warning(name, v, version_entry, stem, doc.location(key))
                )
                missing.append((v, str(doc.location(key_path))))
                continue
            versions[v] = asset
            renames[stem] = asset
            new_props[asset] = Properties(version_entry, doc, key_path)
        del project.properties[name]
        if name not in renames and _model_file(project, name) is not None:
            errors.append(DuplicateNameError(
                f"versioned and unversioned models are both named '{name}': "
                f"{project.models[name].path} is none of its versions (only the latest, "
                f"{latest}, may live in it), so ref('{name}') could not tell them apart",
                location=doc.location(base),
                hint=f"Rename {project.models[name].path}, or list it as a version "
                f"(defined_in: {name})"))  # fmt: skip
            continue
        for stem, asset in renames.items():
            file = project.models.pop(stem)
            project.models[asset] = dataclasses.replace(file, name=asset)
        project.properties.update(new_props)
        package = project.models[versions[latest]].package if latest in versions else ""
        out[name] = VersionedModel(name, latest, versions, package, tuple(missing))
    raise_collected(errors)
    return out


def _model_file(project: Project, stem: str) -> Any:
    """The SQL or dbt Python model file named ``stem``, or None."""
    file = project.models.get(stem)
    return file if file is not None and file.kind in ("model", "dbt_python") else None


def _no_file_warning(
    name: str, v: str, version: ModelProperties, stem: str, where: Location
) -> str:
    """dbt's NoNodeForYamlKey: a version with no file is not built (nor are its tests)."""
    tests = len(version.checks) + sum(len(c.checks) for c in version.columns)
    also = f", nor its {tests} test{'s' if tests != 1 else ''}" if tests else ""
    return (
        f"{where}: version {v} of '{name}' has no model file {stem}.sql (or .py): "
        f"it is not built{also}, as dbt does (NoNodeForYamlKey: did not find matching node for "
        f"patch with name '{stem}'). Create the file or set defined_in; only the latest version "
        f"may live in the unversioned {name}.sql"
    )


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
    try:  # dbt: a version's own deprecation_date only (the model's does not carry over)
        deprecation = deprecation_datetime(raw.get("deprecation_date"))
    except ValueError as err:
        raise ConfigError(f"invalid value for deprecation_date of a version: {err}",
                          location=doc.location((*key_path, "deprecation_date")),
                          hint="Fix the setting") from None  # fmt: skip
    update: dict[str, Any] = {
        "name": asset,
        "deprecation_date": deprecation,
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
    key = model.latest if version is None else version_text(version)
    where = dict(model.missing).get(key)
    if asset is None and where is not None:
        return None, (f"version {key} of '{name}' ({where}) has no model file, so it is "
                      "not built, as in dbt")  # fmt: skip
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
