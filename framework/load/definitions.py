"""Read a project's ``definitions:`` module into the files and settings the loader already knows.

The module is imported through :mod:`orch.load.python_files` (the one importer of user Python)
and must hold exactly one :class:`orch.Definitions`. What it lists joins the model the file
discovery builds: the file of each ``@asset`` becomes a Python model file, the files of its jobs
and of its schedules and sensors are read as job and sensor files are, and its resources join
``resources:`` of ``orch_project.yml``. A listed definition must live inside the project; a file
it names may not define ``@asset`` functions the Definitions leaves out (they would be loaded
without being listed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.assets import ASSET_ATTR
from orch.definitions import Definitions, source_file
from orch.errors import DuplicateNameError, Location, ProjectError
from orch.load.python_files import function_line, import_model_file, import_python_file

if TYPE_CHECKING:
    from collections.abc import Iterable

    from orch.load.project import Project


@dataclass
class LoadedDefinitions:
    """What a ``definitions:`` module contributes, as files and settings."""

    path: str  # the module, relative to the project
    model_files: dict[str, Path] = field(default_factory=dict)  # relative path -> file
    job_files: list[Path] = field(default_factory=list)
    sensor_files: list[Path] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_definitions(root: Path, rel_path: str, where: Location) -> LoadedDefinitions:
    """Import the module at ``rel_path`` and describe its one ``Definitions``.

    ``where`` is the ``definitions:`` key in the project file, for a missing module.
    """
    path = (root / rel_path).resolve()
    if not path.is_file() or path.suffix != ".py":
        raise ProjectError(
            f"definitions module '{rel_path}' does not exist",
            location=where,
            hint="Point 'definitions:' at a .py file in the project (relative to it)",
        )
    module = import_python_file(rel_path, path, kind="definitions module")
    found = [v for v in vars(module).values() if isinstance(v, Definitions)]
    if len({id(v) for v in found}) != 1:
        raise ProjectError(
            f"{rel_path} holds {'no' if not found else len(found)} orch.Definitions",
            location=Location(rel_path),
            hint="Assign exactly one at module level: defs = orch.Definitions(assets=[...])",
        )
    defs = found[0]
    shown = Location(rel_path, defs.location.line)
    out = LoadedDefinitions(
        path=rel_path, resources={k: dict(v) for k, v in defs.resources.items()}
    )
    for kind, values in (("assets", defs.assets), ("jobs", defs.jobs),
                         ("schedules", defs.schedules), ("sensors", defs.sensors)):  # fmt: skip
        for value in values:
            file = source_file(value)
            if file is None or not file.is_relative_to(root.resolve()):
                raise ProjectError(
                    f"Definitions({kind}=...) lists '{getattr(value, 'name', value)}', defined "
                    f"outside the project ({file or 'no file'})",
                    location=shown,
                    hint="Keep the code a project runs inside its folder",
                )
            if kind == "assets":
                out.model_files[file.relative_to(root.resolve()).as_posix()] = file
            elif kind == "jobs":
                out.job_files.append(file)
            else:
                out.sensor_files.append(file)
    listed = {getattr(v, ASSET_ATTR).name for v in defs.assets}
    for rel, file in out.model_files.items():
        for name, spec in import_model_file(rel, file).assets.items():
            if name not in listed:
                raise ProjectError(
                    f"@asset '{name}' is not listed in Definitions(assets=...) of {rel_path}, "
                    "but its file is loaded for the others",
                    location=Location(rel, function_line(spec.fn)),
                    hint=f"Add it to the Definitions at {shown}, or move it to another file",
                )
    out.job_files = sorted(set(out.job_files))
    out.sensor_files = sorted(set(out.sensor_files))
    return out


def merge_resources(
    declared: dict[str, dict[str, Any]], loaded: LoadedDefinitions, where: Location
) -> dict[str, dict[str, Any]]:
    """``resources:`` of the project file plus those of the Definitions (one name, one place)."""
    for name in loaded.resources:
        if name in declared:
            raise DuplicateNameError(
                f"resource '{name}' is declared twice: under 'resources:' and in "
                f"Definitions(resources=...) of {loaded.path}",
                location=where,
                hint="Keep one of them",
            )
    return {**declared, **loaded.resources}


def sensor_files(project: Project) -> list[Path]:
    """Every ``*.py`` under the project's sensor paths, sorted (with a Definitions' own)."""
    extra = project.definitions.sensor_files if project.definitions is not None else []
    return _python_files(project, project.config.sensor_paths, extra)


def job_files(project: Project) -> list[Path]:
    """Every ``*.py`` under the project's job paths (``job-paths``, default ``jobs``), sorted
    (with the files of a Definitions' op jobs)."""
    extra = project.definitions.job_files if project.definitions is not None else []
    return _python_files(project, project.config.job_paths, extra)


def _python_files(project: Project, folders: Iterable[str], extra: Iterable[Path]) -> list[Path]:
    files = list(extra)
    for folder in folders:
        base = project.root / folder
        if base.is_dir():
            files.extend(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(set(files))
