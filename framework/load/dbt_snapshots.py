"""dbt snapshots on disk: ``{% snapshot %}`` blocks and the YAML form of dbt >= 1.9, as models.

A snapshot becomes a :class:`SnapshotFile` in ``Project.models``: a model file whose text is the
block's body (the lines before it kept as blank lines, so messages point at the real line), or,
for the YAML form (``snapshots: [{name, relation: ref('x'), config}]``), ``select * from
{{ ref('x') }}``. From there it is parsed, resolved and compiled like any SQL model; the compiler
gives it ``materialized='snapshot'`` and the project file's ``snapshots:`` folder settings, and
:mod:`orch.run.snapshots` builds it with dbt's SQL. Its YAML entry (description, columns, tests,
config) is kept as the snapshot's properties, as a model's would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.config import ModelProperties, validate_doc
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    ProjectError,
    UnsupportedFeatureError,
    UserError,
    raise_collected,
)
from orch.yamldoc import YamlDoc, load_yaml

if TYPE_CHECKING:
    from orch.load.project import Project

_BLOCK = re.compile(r"{%-?\s*snapshot\s+(\w+)\s*-?%}(.*?){%-?\s*endsnapshot\s*-?%}", re.S)
_OPEN = re.compile(r"{%-?\s*snapshot\b")
_RELATION = re.compile(
    r"""^\s*(ref\(\s*['"][^'"]+['"]\s*(?:,\s*['"][^'"]+['"]\s*)?\)|"""
    r"""source\(\s*['"][^'"]+['"]\s*,\s*['"][^'"]+['"]\s*\))\s*$"""
)
HARD_DELETES = ("ignore", "invalidate", "new_record")
STRATEGIES = ("timestamp", "check")


@dataclass(frozen=True)
class FoundSnapshot:
    """A snapshot's query: the block's body (or the YAML form's select), Jinja still in it."""

    name: str
    path: str
    abs_path: Path
    text: str
    location: Location


@dataclass(frozen=True)
class SnapshotEntry:
    """A snapshot's YAML entry (description, columns, tests, config), read like a model's."""

    name: str
    entry: ModelProperties
    doc: YamlDoc
    key_path: tuple[str | int, ...]


def snapshot_folders(project: Project) -> list[str]:
    """dbt's ``snapshot-paths`` (``snapshots`` when unset)."""
    return project.config.snapshot_paths or ["snapshots"]


def snapshot_yaml_files(project: Project) -> list[Path]:
    """The YAML files under the snapshot folders (inputs of the compile, like model YAML)."""
    out: list[Path] = []
    for folder in snapshot_folders(project):
        base = project.root / folder
        if base.is_dir():
            out += sorted(p for p in base.rglob("*") if p.suffix in (".yml", ".yaml"))
    return out


def discover_snapshots(project: Project) -> tuple[list[FoundSnapshot], list[SnapshotEntry]]:
    """The project's snapshots and their YAML entries (the loader adds them to the project).

    Raises UserError (all problems found): a name taken twice, a YAML snapshot whose
    ``relation`` is no ``ref()``/``source()``, a block that is never closed.
    """
    errors: list[UserError] = []
    found: dict[str, FoundSnapshot] = {}
    entries: list[SnapshotEntry] = []
    yaml_paths: list[Path] = list(project.yaml_files)
    for folder in snapshot_folders(project):
        base = project.root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(project.root).as_posix()
            if path.suffix == ".sql":
                errors.extend(_read_blocks(project, path, rel, found))
            elif path.suffix in (".yml", ".yaml"):
                yaml_paths.append(path)
    for path in sorted(set(yaml_paths)):
        rel = path.relative_to(project.root).as_posix()
        doc = load_yaml(path, rel)
        if isinstance(doc.data, dict) and doc.data.get("snapshots"):
            errors.extend(_read_yaml(project, path, doc, found, entries))
    raise_collected(errors)
    return list(found.values()), entries


def _read_blocks(
    project: Project, path: Path, rel: str, found: dict[str, FoundSnapshot]
) -> list[UserError]:
    text = path.read_text(encoding="utf-8")
    errors: list[UserError] = []
    closed = 0
    for match in _BLOCK.finditer(text):
        closed += 1
        name, body = match.group(1), match.group(2)
        padding = "\n" * text.count("\n", 0, match.start(2))
        where = Location(rel, text.count("\n", 0, match.start()) + 1, 1)
        err = _claim(project, found, FoundSnapshot(name, rel, path, padding + body, where))
        if err:
            errors.append(err)
    opened = list(_OPEN.finditer(text))
    if len(opened) != closed:
        line = text.count("\n", 0, opened[min(closed, len(opened) - 1)].start()) + 1
        errors.append(ProjectError(
            "a {% snapshot %} block is not closed", location=Location(rel, line),
            hint="End it with {% endsnapshot %}"))  # fmt: skip
    return errors


def _claim(
    project: Project, found: dict[str, FoundSnapshot], snap: FoundSnapshot
) -> UserError | None:
    other = project.models.get(snap.name) or project.seeds.get(snap.name)
    other_path = other.path if other is not None else (found[snap.name].path
                                                       if snap.name in found else None)  # fmt: skip
    if other_path is not None:
        return DuplicateNameError(
            f"two files define the asset '{snap.name}': {other_path} and {snap.path}",
            location=snap.location,
            hint="Rename the snapshot or the model (names are unique across models, seeds and "
            "snapshots)",
        )
    found[snap.name] = snap
    return None


def _read_yaml(
    project: Project,
    path: Path,
    doc: YamlDoc,
    found: dict[str, FoundSnapshot],
    out: list[SnapshotEntry],
) -> list[UserError]:
    errors: list[UserError] = []
    entries = doc.data.get("snapshots")
    if not isinstance(entries, list):
        return [ConfigError("'snapshots:' must be a list", location=doc.location(("snapshots",)),
                            hint="Write snapshots:\n  - name: ...")]  # fmt: skip
    for i, entry in enumerate(entries):
        where: tuple[str | int, ...] = ("snapshots", i)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            errors.append(ConfigError("each snapshot needs a name", location=doc.location(where),
                                      hint="Add name: <identifier>"))  # fmt: skip
            continue
        name = entry["name"]
        relation = entry.get("relation")
        if relation is not None:
            if not isinstance(relation, str) or not _RELATION.match(relation):
                errors.append(ConfigError(
                    f"snapshot '{name}': relation must be ref('model') or "
                    f"source('source', 'table'), not {relation!r}",
                    location=doc.location((*where, "relation")),
                    hint="Write relation: ref('orders')"))  # fmt: skip
                continue
            line = doc.location((*where, "relation")).line or 1
            text = "\n" * (line - 1) + f"select * from {{{{ {relation.strip()} }}}}\n"
            err = _claim(project, found, FoundSnapshot(name, doc.path, path, text,
                                                       doc.location((*where, "name"))))  # fmt: skip
            if err:
                errors.append(err)
                continue
        elif name not in found:
            errors.append(
                ConfigError(
                    f"snapshot '{name}' has no relation and no {{% snapshot {name} %}} block",
                    location=doc.location(where),
                    hint="Add relation: ref('model') (dbt >= 1.9), or a snapshots/*.sql block",
                )
            )
            continue  # fmt: skip
        if any(e.name == name for e in out):
            errors.append(DuplicateNameError(
                f"snapshot '{name}' is described twice (in {doc.path})",
                location=doc.location((*where, "name")), hint="Keep one entry"))  # fmt: skip
            continue
        body = {k: v for k, v in entry.items() if k != "relation"}
        try:
            props = validate_doc(ModelProperties, doc, body, prefix=where)
        except UserError as err:
            errors.append(err)
            continue
        out.append(SnapshotEntry(name, props, doc, where))
    return errors


def check_snapshot_config(name: str, path: str, config: dict[str, Any]) -> None:
    """Refuse a snapshot config dbt would refuse, before anything is built."""
    strategy = config.get("strategy")
    where = Location(path)
    if strategy not in STRATEGIES:
        raise UnsupportedFeatureError(
            f"snapshot '{name}': strategy {strategy!r} is not supported by orch",
            location=where, hint="Use strategy='timestamp' (with updated_at) or 'check' "
            "(with check_cols)")  # fmt: skip
    if not config.get("unique_key"):
        raise ConfigError(
            f"snapshot '{name}' needs a unique_key",
            location=where,
            hint="Set unique_key='id' (or a list of columns) in its config",
        )
    if strategy == "timestamp" and not config.get("updated_at"):
        raise ConfigError(
            f"snapshot '{name}': the timestamp strategy needs updated_at",
            location=where,
            hint="Set updated_at='<timestamp column>'",
        )
    if strategy == "check":
        cols = config.get("check_cols")
        if cols != "all" and not (isinstance(cols, list) and cols):
            raise ConfigError(
                f"snapshot '{name}': the check strategy needs check_cols",
                location=where,
                hint="Set check_cols='all' or a list of columns",
            )
    if config.get("invalidate_hard_deletes") is not None and config.get("hard_deletes"):
        raise ConfigError(
            f"snapshot '{name}': both invalidate_hard_deletes and hard_deletes are set",
            location=where, hint="Keep hard_deletes (dbt >= 1.9)")  # fmt: skip
    if config.get("hard_deletes") not in (None, *HARD_DELETES):
        raise ConfigError(
            f"snapshot '{name}': hard_deletes {config.get('hard_deletes')!r} is not one of "
            f"{', '.join(HARD_DELETES)}", location=where, hint="Use ignore, invalidate or "
            "new_record")  # fmt: skip
