"""``orch.Definitions``: a project's assets, jobs, schedules, sensors and resources, in code.

For users who prefer Dagster's style: the project names one module (``definitions:
my_pkg/definitions.py`` in ``orch_project.yml``) holding one ``Definitions(...)``; orch loads
what it lists into the same model as the files it discovers (``orch.load.definitions``). This
module only holds the value and checks what is passed to it, where the user wrote the call.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch.assets import ASSET_ATTR, AssetSpec
from orch.errors import Location, ProjectError
from orch.ops import JobDefinition

_ORCH_DIR = str(Path(__file__).resolve().parent)


@dataclass(frozen=True)
class Definitions:
    """What a project declares in Python: ``@asset`` functions, ``@job`` op jobs, ``@schedule``
    and ``@sensor`` definitions, and resources (``name -> settings``, as under ``resources:`` in
    ``orch_project.yml``)."""

    assets: tuple[Any, ...] = ()
    jobs: tuple[Any, ...] = ()
    schedules: tuple[Any, ...] = ()
    sensors: tuple[Any, ...] = ()
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    location: Location = field(default_factory=lambda: Location("<unknown>"))

    def __init__(
        self,
        *,
        assets: Iterable[Any] = (),
        jobs: Iterable[Any] = (),
        schedules: Iterable[Any] = (),
        sensors: Iterable[Any] = (),
        resources: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        where = _caller()
        set_ = object.__setattr__
        set_(self, "location", where)
        set_(self, "assets", tuple(assets))
        set_(self, "jobs", tuple(jobs))
        set_(self, "schedules", tuple(schedules))
        set_(self, "sensors", tuple(sensors))
        set_(self, "resources", dict(resources or {}))
        for value in self.assets:
            if not isinstance(getattr(value, ASSET_ATTR, None), AssetSpec):
                raise ProjectError(
                    f"Definitions(assets=...) takes @asset functions, not {_shown(value)}",
                    location=where,
                    hint="Decorate the function with @orch.asset, or list it elsewhere",
                )
        for value in self.jobs:
            if not isinstance(value, JobDefinition):
                raise ProjectError(
                    f"Definitions(jobs=...) takes @job op jobs, not {_shown(value)}",
                    location=where,
                    hint="Asset jobs are declared under 'jobs:' in orch_project.yml",
                )
        for kind, values in (("schedules", self.schedules), ("sensors", self.sensors)):
            for value in values:
                if type(value).__name__ not in ("ScheduleDefinition", "SensorDefinition"):
                    raise ProjectError(
                        f"Definitions({kind}=...) takes @schedule/@sensor definitions, not "
                        f"{_shown(value)}",
                        location=where,
                        hint="Decorate the function with @orch.schedule or @orch.sensor",
                    )
        for name, settings in self.resources.items():
            if not isinstance(name, str) or not isinstance(settings, Mapping):
                raise ProjectError(
                    f"Definitions(resources=...) maps a name to its settings, not "
                    f"{name!r}: {_shown(settings)}",
                    location=where,
                    hint="Write resources={'crm': {'type': 'CrmApi', 'base_url': '...'}}",
                )


def _shown(value: Any) -> str:
    name = getattr(value, "__name__", None)
    return f"{type(value).__name__} {name!r}" if name else repr(value)[:60]


def _caller() -> Location:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_ORCH_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return Location("<unknown>")
    return Location(frame.f_code.co_filename, frame.f_lineno)


def source_file(value: Any) -> Path | None:
    """The file a listed definition was written in (an asset's function, a job's location)."""
    spec = getattr(value, ASSET_ATTR, None)
    if isinstance(spec, AssetSpec):
        try:
            found = inspect.getsourcefile(inspect.unwrap(spec.fn))
        except TypeError:
            return None
        return Path(found).resolve() if found else None
    where = getattr(value, "location", None)
    if isinstance(where, Location) and where.path and not where.path.startswith("<"):
        return Path(where.path).resolve()
    return None
