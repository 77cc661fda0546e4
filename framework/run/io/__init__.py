"""IO managers by name: the built-ins and the project's own, configured per target.

An asset or op names the IO manager that stores its output (``io_manager="parquet"``); this
module turns the name into an instance, once per run (:class:`IOManagers`):

- a resource declared under ``resources:`` whose ``type`` is an IO manager: a built-in's name
  (``type: parquet``), a built-in's class, or an :class:`orch.IOManager` subclass of the project
  (its class name, or ``module.Class``). Fields come from the declaration, per target
  (``targets.<target>``), like any resource;
- a built-in by its own name: ``memory``, ``objects`` (and ``parquet``, ``warehouse``), with its
  files under ``<project>/.orch/storage/<target>/<name>`` unless ``resources.<name>.base_dir``
  says otherwise.

A relative ``base_dir`` of a built-in is relative to the project folder.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orch.assets import build_resource, resource_values
from orch.errors import ConfigError, Location, UserError, suggestion
from orch.load.python_files import find_project_class, is_module_path, split_class_path
from orch.run.io.memory import MemoryIOManager
from orch.run.io.objects import ObjectsIOManager
from orch.run.io.parquet import ParquetIOManager
from orch.run.io.warehouse import WarehouseIOManager
from orch.storage import STORAGE_DIR, IOManager, builtin_base_dir, builtin_of, declared_type
from orch.yamldoc import load_yaml

__all__ = [
    "BUILTIN_IO_MANAGERS",
    "IOManagers",
    "MemoryIOManager",
    "ObjectsIOManager",
    "ParquetIOManager",
    "WarehouseIOManager",
    "io_manager_class",
    "register_builtin",
    "storage_dir",
]

# name -> class; parquet and warehouse register themselves when their modules load.
BUILTIN_IO_MANAGERS: dict[str, type[IOManager]] = {
    "memory": MemoryIOManager,
    "objects": ObjectsIOManager,
    "parquet": ParquetIOManager,
    "warehouse": WarehouseIOManager,
}


IMPORT_HINT = (
    "Write the type as my_pkg.module:ClassName, a module of the project folder (or an installed "
    "package) defining an orch.IOManager subclass"
)


def register_builtin(name: str, cls: type[IOManager]) -> None:
    """Make ``cls`` available under ``name`` (``io_manager="name"``, ``type: name``)."""
    BUILTIN_IO_MANAGERS[name] = cls


def storage_dir(project_root: Path | str, target: str) -> Path:
    """Where built-in IO managers keep files by default: ``<project>/.orch/storage/<target>``."""
    return Path(project_root, *STORAGE_DIR, target)


def _subclasses(cls: type[Any]) -> list[type[IOManager]]:
    out: list[type[IOManager]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


def io_manager_class(
    type_name: str, project_root: Path | str | None = None
) -> type[IOManager] | None:
    """The IO manager class a ``type:`` names: a built-in's name or class, a loaded
    :class:`IOManager` subclass (``Class`` or ``module.Class``), or an importable
    ``module:Class`` / ``module.Class`` (with ``project_root`` first on ``sys.path``: a module of
    the project, anywhere in its folder). None when nothing matches a bare name.

    Raises ConfigError for a module path whose module or class is unknown, or whose class is
    not an :class:`IOManager`; ProjectError when the module fails to import.
    """
    if project_root is not None and is_module_path(type_name, Path(project_root)):
        return find_project_class(type_name, Path(project_root), IOManager)  # type: ignore[return-value]
    if type_name in BUILTIN_IO_MANAGERS:
        return BUILTIN_IO_MANAGERS[type_name]
    matches = [
        c
        for c in _subclasses(IOManager)
        if type_name in (c.__name__, c.__qualname__, f"{c.__module__}.{c.__qualname__}")
    ]
    if matches:
        return matches[-1]  # the most recently defined (a re-imported model file)
    parts = split_class_path(type_name)
    if parts is not None:
        try:
            found = getattr(importlib.import_module(parts[0]), parts[1], None)
        except ImportError:
            return None
        if isinstance(found, type) and issubclass(found, IOManager):
            return found
    return None


class IOManagers:
    """The IO managers of one run (or one ``execute_in_process``), each instantiated once.

    Args:
        declarations: the project's ``resources:`` block.
        target: the target whose values (``resources.<name>.targets.<target>``) apply.
        base_dir: the default folder of the built-ins' files (each under ``<base_dir>/<name>``).
        project_root: what a built-in's relative ``base_dir`` is relative to.
        overrides: instances to use instead (tests, ``execute_in_process(resources=...)``).
        location: maps a key path (``("resources", "lake")``) to its place in the project file.
    """

    def __init__(
        self,
        declarations: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        target: str = "dev",
        base_dir: Path | str = Path(*STORAGE_DIR, "dev"),
        project_root: Path | str | None = None,
        overrides: Mapping[str, Any] | None = None,
        location: Callable[[tuple[str | int, ...]], Location | None] = lambda _p: None,
        discover: Callable[[], None] | None = None,
    ) -> None:
        self.declarations = dict(declarations or {})
        self._discover = discover  # imports the project's Python files (where classes live)
        self.target = target
        self.base_dir = Path(base_dir)
        self.project_root = Path(project_root) if project_root is not None else None
        self._overrides = {k: v for k, v in (overrides or {}).items() if isinstance(v, IOManager)}
        self._location = location
        self._instances: dict[str, IOManager] = {}
        self._lock = threading.RLock()

    @classmethod
    def for_project(
        cls,
        project_root: Path | str,
        target: str,
        declarations: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        project_file: str = "orch_project.yml",
        discover: Callable[[], None] | None = None,
    ) -> IOManagers:
        """The IO managers of a project's run on ``target`` (files under ``.orch/storage``)."""
        return cls(
            declarations,
            target=target,
            base_dir=storage_dir(project_root, target),
            project_root=project_root,
            overrides=overrides,
            location=_locator(Path(project_root), project_file),
            discover=discover,
        )

    def names(self) -> list[str]:
        """Every name an asset or op may use: the built-ins and the declared IO managers."""
        declared = [n for n in self.declarations if self._is_io_manager(n)]
        return sorted({*BUILTIN_IO_MANAGERS, *declared, *self._overrides})

    def is_known(self, name: str) -> bool:
        """Whether ``name`` resolves to an IO manager."""
        return name in self._overrides or name in self.names()

    def get(self, name: str) -> IOManager:
        """The IO manager ``name``; ConfigError (with a suggestion) when there is none."""
        with self._lock:
            if name in self._overrides:
                return self._overrides[name]
            if name not in self._instances:
                self._instances[name] = self._build(name)
            return self._instances[name]

    def _is_io_manager(self, name: str) -> bool:
        """Whether declaration ``name`` is an IO manager (a resource of another kind, or one
        whose module path does not resolve, is not)."""
        try:
            return self._declared_class(name) is not None
        except UserError:
            return False

    def _declared_class(self, name: str) -> type[IOManager] | None:
        decl = self.declarations.get(name)
        if not isinstance(decl, Mapping):
            return None
        found = declared_type(decl, self.target)
        if found is None:
            return BUILTIN_IO_MANAGERS.get(name)
        try:
            return io_manager_class(found, self.project_root)
        except UserError as err:
            if isinstance(err, ConfigError) and err.location is None:
                err.location = self._location(("resources", name, "type"))
                err.message = f"resource '{name}' (type: {found}): {err.message}"
                err.hint = err.hint or IMPORT_HINT
            raise

    def _build(self, name: str) -> IOManager:
        decl = self.declarations.get(name)
        if isinstance(decl, Mapping):
            cls = self._declared_class(name)
            if cls is None and decl.get("type") is not None and self._discover is not None:
                self._discover()  # the class may be in a model file this run did not import
                self._discover = None
                cls = self._declared_class(name)
            if cls is None:
                declared = declared_type(decl, self.target)
                raise ConfigError(
                    f"resource '{name}' is not an IO manager (type: {declared})"
                    if declared
                    else f"resource '{name}' is not an IO manager (it has no type)",
                    location=self._location(("resources", name, "type")),
                    hint="Set its type to a built-in ("
                    + ", ".join(sorted(BUILTIN_IO_MANAGERS))
                    + ") or to an orch.IOManager subclass defined in the project's Python files",
                )
            spelled = {**decl, "type": cls.__name__, "targets": _without_types(decl)}
            instance = build_resource(cls, name, {name: spelled}, self.target, self._location)
            assert isinstance(instance, IOManager)
            return self._rooted(name, instance)
        if name in BUILTIN_IO_MANAGERS:
            return self._rooted(name, BUILTIN_IO_MANAGERS[name].model_validate({}))
        raise ConfigError(
            f"unknown IO manager '{name}'",
            location=self._location(("resources",)),
            hint=suggestion(name, self.names())
            or "Use a built-in ("
            + ", ".join(sorted(BUILTIN_IO_MANAGERS))
            + ") or declare it under 'resources:' with the type of an orch.IOManager subclass",
        )

    def _rooted(self, name: str, instance: IOManager) -> IOManager:
        """A file-based built-in's base_dir: declared (per target, relative to the project
        folder) or the default ``<storage>/<name>``."""
        if (
            builtin_of(name, self.declarations, self.target) is None
            or "base_dir" not in type(instance).model_fields
        ):
            return instance
        if self.project_root is not None:
            base = builtin_base_dir(name, self.declarations, self.target, self.project_root)
            if name not in self.declarations or "base_dir" not in resource_values(
                self.declarations, name, self.target
            ):
                base = str(self.base_dir / name)
        else:
            declared = resource_values(self.declarations, name, self.target).get("base_dir")
            base = str(declared) if declared is not None else str(self.base_dir / name)
        return instance.model_copy(update={"base_dir": base})


def _locator(root: Path, project_file: str) -> Callable[[tuple[str | int, ...]], Location | None]:
    """Where a key path is in the project file (``orch_project.yml:7:11``), read when asked."""

    def locate(path: tuple[str | int, ...]) -> Location | None:
        try:
            return load_yaml(root / project_file, project_file).location(path)
        except (UserError, OSError):
            return Location(project_file)

    return locate


def _without_types(decl: Mapping[str, Any]) -> dict[str, Any]:
    """A declaration's ``targets:`` without their ``type`` (it chose the class already)."""
    per_target = decl.get("targets")
    if not isinstance(per_target, Mapping):
        return {}
    return {
        t: {k: v for k, v in (values or {}).items() if k != "type"}
        for t, values in per_target.items()
        if isinstance(values, Mapping) or values is None
    }
