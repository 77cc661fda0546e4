"""The docs site's Automation view: jobs, schedules with their next tick, sensors, recent ticks.

:func:`automation_data` wraps :func:`orch.automation.schedules.schedule_overview` for the site: None
for a project without jobs, schedules or sensors (the site then shows no Automation tab), and when
the sensor files cannot be loaded (an import error, an unknown job) the error's text instead of
failing the whole site, with the jobs of the project file still listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orch.automation.schedules import job_files, schedule_overview, sensor_files
from orch.errors import OrchError
from orch.load.project import Project
from orch.state import StateReader

__all__ = ["automation_data", "has_automation"]


def has_automation(project: Project) -> bool:
    """Whether the project declares jobs, schedules or sensors (or has sensor or job files)."""
    cfg = project.config
    return bool(
        cfg.jobs or cfg.schedules or cfg.sensors or sensor_files(project) or job_files(project)
    )


def _jobs_only(project: Project) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "select": job.select,
            "exclude": job.exclude,
            "partitions": job.partitions,
            "vars": dict(job.vars),
            "description": job.description,
        }
        for name, job in sorted(project.config.jobs.items())
    ]


def automation_data(
    project: Project,
    state: StateReader | None,
    *,
    now: datetime | None = None,
    ticks: int = 10,
) -> dict[str, Any] | None:
    """``{"jobs", "schedules", "sensors", "error"}`` for the site, or None without automation.

    Every value is JSON-ready; ``error`` is None, or the message of what failed to load.
    """
    if not has_automation(project):
        return None
    try:
        data: dict[str, Any] = dict(schedule_overview(project, state, now=now, ticks=ticks))
    except Exception as err:  # noqa: BLE001 - a broken sensor file must not break the site
        if isinstance(err, OrchError):
            text = err.format_message()
        else:
            text = f"{type(err).__name__}: {err}"
        return {
            "jobs": _jobs_only(project), "schedules": [], "sensors": [], "op_jobs": [],
            "error": text,
        }  # fmt: skip
    data["error"] = None
    return data
