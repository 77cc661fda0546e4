"""Schedules and sensors: what should run when, and how one evaluation decides it.

A **job** (``jobs:`` in ``orch_project.yml``, run by :mod:`orch.automation.jobs`) is a named
selection. A **schedule** launches a job on a cron expression (``schedules:`` in YAML, or
``@schedule`` in ``sensors/*.py``); a **sensor** is a function evaluated every
``minimum_interval_seconds`` that returns or yields :class:`RunRequest` / :class:`SkipReason` and
keeps a persisted cursor (``@sensor`` in ``sensors/*.py``, or the built-in ``file`` and ``asset``
sensors declared under ``sensors:`` in YAML). The loop that evaluates them and launches runs is
:mod:`orch.automation.daemon`.

Python definitions are found by importing every ``*.py`` under the project's ``sensor-paths``
(default ``sensors/``) by file path and collecting the module-level :class:`ScheduleDefinition` and
:class:`SensorDefinition` objects the decorators and factories return; there is no global registry.

Times are timezone-aware UTC datetimes everywhere; a schedule's cron expression is evaluated in its
``timezone`` (croniter handles the DST jumps).
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import logging
import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from orch.assets import resource_parameters
from orch.automation.jobs import op_job_overview
from orch.automation.toggles import apply_switches
from orch.config import (
    AssetSensorConfig,
    FileSensorConfig,
    JobConfig,
    ScheduleConfig,
    check_cron,
    check_timezone,
)
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    OrchError,
    ResourceError,
    suggestion,
)
from orch.load.definitions import job_files, sensor_files  # re-exported: their old home
from orch.load.python_files import collect_op_jobs, import_python_file, job_location
from orch.ops import JobDefinition
from orch.run.checks import python_check_function
from orch.run.resources import ResourcePool, project_builder
from orch.yamldoc import YamlDoc, load_yaml

if TYPE_CHECKING:
    from orch.load.project import Project
    from orch.manifest import Manifest
    from orch.state import StateReader, TickRecord

log = logging.getLogger(__name__)

MAX_TICKS_PER_EVALUATION = 10_000
SCHEDULE_CURSOR_PREFIX = "schedule:"

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RunRequest:
    """Ask for one run of a job.

    Args:
        run_key: a key unique per schedule/sensor: a run key already used never runs again
            (None: always run; give one for exactly-once behaviour across restarts).
        vars: vars for the run (over the job's and the schedule's vars).
        partition: the partition key to build (None: the schedule's default, or the planner's).
        job: another job than the sensor's or schedule's own.
    """

    run_key: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    partition: str | None = None
    job: str | None = None


@dataclass(frozen=True)
class SkipReason:
    """A schedule or sensor decided not to run this time, and says why."""

    message: str = ""


Outcome = RunRequest | SkipReason


# --------------------------------------------------------------------------- contexts


@dataclass
class ScheduleContext:
    """What a ``@schedule`` function receives: the tick (in the schedule's timezone)."""

    schedule: str
    scheduled_time: datetime
    project_root: Path
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("orch.schedule"))


@dataclass
class SensorContext:
    """What a ``@sensor`` function receives: the time, a persisted cursor and the state (read-only).

    Update the cursor with ``context.cursor = ...`` or :meth:`update_cursor`; it is stored only
    when the evaluation succeeded (and after its runs started), so a failing sensor retries from
    the old cursor.
    """

    sensor: str
    now: datetime
    project_root: Path
    cursor: str | None = None
    state: StateReader | None = None
    target: str | None = None
    last_tick: TickRecord | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("orch.sensor"))

    def update_cursor(self, cursor: str | None) -> None:
        """Set the cursor stored after this evaluation."""
        self.cursor = cursor


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class ScheduleDefinition:
    """A cron schedule of a job; ``fn`` (optional) computes the run request per tick."""

    name: str
    job: str
    cron: str
    timezone: str = "UTC"
    catchup: Literal["latest", "all"] = "latest"
    partition: Literal["last_closed", "current", "none"] = "last_closed"
    vars: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    description: str = ""
    fn: Callable[[ScheduleContext], Any] | None = None
    location: Location | None = None

    def __call__(self, context: ScheduleContext) -> Any:
        """Call the decorated function (None for a YAML schedule)."""
        return self.fn(context) if self.fn else None

    def ticks_between(self, after: datetime, until: datetime) -> list[datetime]:
        """Cron ticks ``t`` with ``after < t <= until``, oldest first, in UTC."""
        return cron_ticks(self.cron, self.timezone, after, until)

    def next_tick(self, after: datetime) -> datetime:
        """The first tick strictly after ``after``."""
        return next_cron_tick(self.cron, self.timezone, after)

    def latest_tick(self, at: datetime) -> datetime:
        """The newest tick at or before ``at``."""
        return latest_cron_tick(self.cron, self.timezone, at)


@dataclass(frozen=True)
class SensorDefinition:
    """A sensor: ``fn(context)`` returns or yields run requests / skip reasons for ``job``."""

    name: str
    job: str
    fn: Callable[[SensorContext], Any]
    minimum_interval_seconds: float = 30.0
    kind: Literal["python", "file", "asset", "run_status"] = "python"
    description: str = ""
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)  # a built-in sensor's settings
    location: Location | None = None

    def __call__(self, context: SensorContext) -> Any:
        """Call the sensor function."""
        return self.fn(context)


def _location_of(fn: Callable[..., Any]) -> Location | None:
    try:
        path = inspect.getsourcefile(fn)
        _, line = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    return Location(path or "<python>", line, 1)


def _checked(value: str, check: Callable[[str], str], where: Location | None, what: str) -> str:
    try:
        return check(value)
    except ValueError as err:
        raise ConfigError(f"{what}: {err}", location=where, hint="Fix the decorator") from None


def schedule(
    *,
    cron: str,
    job: str,
    timezone: str = "UTC",
    catchup: Literal["latest", "all"] = "latest",
    partition: Literal["last_closed", "current", "none"] = "last_closed",
    name: str | None = None,
    description: str = "",
) -> Callable[[Callable[[ScheduleContext], Any]], ScheduleDefinition]:
    """Decorate ``fn(context) -> RunRequest | SkipReason | dict of vars | None`` as a schedule.

    Args:
        cron: a cron expression or ``@hourly``/``@daily``/``@weekly``/``@monthly``.
        job: the job each tick launches.
        timezone: the IANA timezone the cron expression is read in.
        catchup: after downtime, run only the ``latest`` missed tick or ``all`` of them.
        partition: for a partitioned job, the window that ``last_closed`` at the tick (default),
            the ``current`` one, or ``none`` (let the planner decide).
    """

    def decorate(fn: Callable[[ScheduleContext], Any]) -> ScheduleDefinition:
        where = _location_of(fn)
        label = f"schedule '{name or fn.__name__}'"
        return ScheduleDefinition(
            name=name or fn.__name__,
            job=job,
            cron=_checked(cron, check_cron, where, label),
            timezone=_checked(timezone, check_timezone, where, label),
            catchup=catchup,
            partition=partition,
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            fn=fn,
            location=where,
        )

    return decorate


def sensor(
    *,
    job: str,
    minimum_interval_seconds: float = 30.0,
    name: str | None = None,
    description: str = "",
) -> Callable[[Callable[[SensorContext], Any]], SensorDefinition]:
    """Decorate ``fn(context)`` (returning/yielding RunRequest or SkipReason) as a sensor."""

    def decorate(fn: Callable[[SensorContext], Any]) -> SensorDefinition:
        return SensorDefinition(
            name=name or fn.__name__,
            job=job,
            fn=fn,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            location=_location_of(fn),
        )

    return decorate


# --------------------------------------------------------------------------- built-in sensors


def file_sensor(
    name: str,
    *,
    job: str,
    directory: str,
    glob: str = "*",
    minimum_interval_seconds: float = 30.0,
    vars: Mapping[str, Any] | None = None,
    description: str = "",
) -> SensorDefinition:
    """A sensor launching ``job`` once for the new files matching ``glob`` in ``directory``.

    New means after the cursor in (modification time, name) order; the cursor is the last file
    seen. The run gets ``vars.new_files``: the new files' paths relative to the project.
    """
    options = {"directory": directory, "glob": glob, "vars": dict(vars or {})}
    return SensorDefinition(
        name=name,
        job=job,
        fn=lambda context: evaluate_file_sensor(context, **options),  # type: ignore[arg-type]
        minimum_interval_seconds=minimum_interval_seconds,
        kind="file",
        description=description or f"new files {directory}/{glob}",
        options=options,
    )


def asset_sensor(
    name: str,
    *,
    job: str,
    asset: str,
    minimum_interval_seconds: float = 30.0,
    vars: Mapping[str, Any] | None = None,
    description: str = "",
) -> SensorDefinition:
    """A sensor launching ``job`` when ``asset`` was materialized since the cursor."""
    options = {"asset": asset, "vars": dict(vars or {})}
    return SensorDefinition(
        name=name,
        job=job,
        fn=lambda context: evaluate_asset_sensor(context, **options),  # type: ignore[arg-type]
        minimum_interval_seconds=minimum_interval_seconds,
        kind="asset",
        description=description or f"after each materialization of {asset}",
        options=options,
    )


def evaluate_file_sensor(
    context: SensorContext, *, directory: str, glob: str, vars: Mapping[str, Any]
) -> RunRequest | SkipReason:
    """The file sensor: one run request for every file newer than the cursor."""
    folder = context.project_root / directory
    if not folder.is_dir():
        return SkipReason(f"directory {directory}/ does not exist")
    last: tuple[int, str] = (-1, "")
    if context.cursor:
        data = json.loads(context.cursor)
        last = (int(data["mtime_ns"]), str(data["name"]))
    found = []
    for entry in os.scandir(folder):
        if entry.is_file() and fnmatch.fnmatch(entry.name, glob):
            found.append((entry.stat().st_mtime_ns, entry.name))
    new = sorted(f for f in found if f > last)
    if not new:
        return SkipReason(f"no new files matching {directory}/{glob}")
    newest = new[-1]
    context.cursor = json.dumps({"mtime_ns": newest[0], "name": newest[1]})
    files = [f"{directory.rstrip('/')}/{n}" for _, n in new]
    return RunRequest(run_key=f"{newest[1]}@{newest[0]}", vars={**vars, "new_files": files})


def evaluate_asset_sensor(
    context: SensorContext, *, asset: str, vars: Mapping[str, Any]
) -> RunRequest | SkipReason:
    """The asset sensor: a run request when ``asset`` has a materialization after the cursor."""
    if context.state is None:
        return SkipReason("no state store")
    latest = context.state.latest_materializations([asset], target=context.target)
    if not latest:
        return SkipReason(f"'{asset}' was never materialized")
    newest = max(latest.values(), key=lambda r: r.id)
    seen = int(context.cursor) if context.cursor else 0
    if newest.id <= seen:
        return SkipReason(f"no new materialization of '{asset}'")
    context.cursor = str(newest.id)
    partitions = sorted(
        k for (_, k), r in latest.items() if r.id > seen and k is not None
    )  # fmt: skip
    extra = {"upstream_partitions": partitions} if partitions else {}
    return RunRequest(run_key=f"{asset}:{newest.id}", vars={**vars, **extra})


# --------------------------------------------------------------------------- cron


def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def _croniter(cron: str, start: datetime) -> Any:
    # croniter costs ~35 ms to import: only when a schedule is evaluated, not on `import orch`
    from croniter import croniter

    return croniter(cron, start)


def cron_ticks(cron: str, tz: str, after: datetime, until: datetime) -> list[datetime]:
    """Ticks ``t`` of ``cron`` (read in ``tz``) with ``after < t <= until``, in UTC."""
    it = _croniter(cron, after.astimezone(_zone(tz)))
    out: list[datetime] = []
    while len(out) < MAX_TICKS_PER_EVALUATION:
        t = it.get_next(datetime)
        if t > until:
            break
        out.append(t.astimezone(timezone.utc))
    return out


def next_cron_tick(cron: str, tz: str, after: datetime) -> datetime:
    """The first tick strictly after ``after``, in UTC."""
    return _croniter(cron, after.astimezone(_zone(tz))).get_next(datetime).astimezone(timezone.utc)


def latest_cron_tick(cron: str, tz: str, at: datetime) -> datetime:
    """The newest tick at or before ``at``, in UTC."""
    start = (at + timedelta(microseconds=1)).astimezone(_zone(tz))
    return _croniter(cron, start).get_prev(datetime).astimezone(timezone.utc)


def system_now() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def parse_time(text: str) -> datetime:
    """An ISO time from the command line; naive means UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"invalid time '{text}'", hint="Use ISO 8601, e.g. 2024-01-31T06:00 or 2024-01-31"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def iso(t: datetime) -> str:
    """A UTC time as compact ISO text (seconds), used in run keys and output."""
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- loading


@dataclass
class Automation:
    """A project's jobs, schedules and sensors, with references checked."""

    jobs: dict[str, JobConfig] = field(default_factory=dict)
    schedules: dict[str, ScheduleDefinition] = field(default_factory=dict)
    sensors: dict[str, SensorDefinition] = field(default_factory=dict)
    op_jobs: dict[str, JobDefinition] = field(default_factory=dict)  # from jobs/*.py

    def names(self) -> list[str]:
        """Every job's name: asset jobs (``jobs:``) and op jobs (``jobs/*.py``)."""
        return sorted({*self.jobs, *self.op_jobs})

    def job(self, name: str) -> JobConfig | JobDefinition:
        """A job by name (an asset job's config, or an op job); an error naming the closest."""
        if name in self.op_jobs:
            return self.op_jobs[name]
        if name not in self.jobs:
            names = self.names()
            raise ConfigError(
                f"unknown job '{name}'",
                hint=suggestion(name, names)
                or (f"Jobs: {', '.join(names)}" if names else
                    "Declare it under 'jobs:' in orch_project.yml, or define it in jobs/*.py"),
            )  # fmt: skip
        return self.jobs[name]


def load_automation(project: Project) -> Automation:
    """Jobs and schedules from the project file, sensors (and Python schedules) from sensor files.

    Raises ConfigError (at the YAML key or the decorated function) for a reference to an unknown
    job and DuplicateNameError for two schedules/sensors with one name.
    """
    config = project.config
    doc = _project_doc(project)
    automation = Automation(jobs=dict(config.jobs))
    where: dict[str, Location | None] = {}

    def add(defn: ScheduleDefinition | SensorDefinition, location: Location | None) -> None:
        if defn.name in where:
            first = where[defn.name]
            raise DuplicateNameError(
                f"two schedules/sensors are named '{defn.name}'"
                + (f" (the other one is at {first})" if first else ""),
                location=location,
                hint="Rename one of them: names key their ticks, cursors and run keys",
            )
        where[defn.name] = location
        if isinstance(defn, ScheduleDefinition):
            automation.schedules[defn.name] = defn
        else:
            automation.sensors[defn.name] = defn

    for name, sc in config.schedules.items():
        add(_from_schedule_config(name, sc), doc.location(("schedules", name)))
    for name, sn in config.sensors.items():
        add(_from_sensor_config(name, sn), doc.location(("sensors", name)))
    for defn in _python_definitions(project):
        add(defn, defn.location)
    automation.op_jobs = collect_op_jobs(project.root, job_files(project))
    for name, op_job in automation.op_jobs.items():
        if name in automation.jobs:
            raise DuplicateNameError(
                f"op job '{name}' has the name of the asset job at "
                f"{doc.location(('jobs', name)) or project.project_file}",
                location=job_location(project.root, op_job),
                hint="Jobs share one namespace: rename one of them",
            )
    every: list[ScheduleDefinition | SensorDefinition] = [
        *automation.schedules.values(),
        *automation.sensors.values(),
    ]
    for defn in every:
        if isinstance(defn, SensorDefinition) and defn.kind == "run_status" and not defn.job:
            continue  # a run-status sensor may launch nothing (an alert)
        if defn.job not in automation.jobs and defn.job not in automation.op_jobs:
            kind = "schedule" if isinstance(defn, ScheduleDefinition) else "sensor"
            in_yaml = defn.name in config.schedules or defn.name in config.sensors
            section = "schedules" if kind == "schedule" else "sensors"
            location = doc.location((section, defn.name, "job")) if in_yaml else defn.location
            raise ConfigError(
                f"{kind} '{defn.name}' launches unknown job '{defn.job}'",
                location=location,
                hint=suggestion(defn.job, automation.names())
                or "Declare the job under 'jobs:' in orch_project.yml, or define it in jobs/*.py",
            )
    return automation


def _project_doc(project: Project) -> YamlDoc:
    return load_yaml(project.root / project.project_file, project.project_file)


def _from_schedule_config(name: str, sc: ScheduleConfig) -> ScheduleDefinition:
    return ScheduleDefinition(
        name=name,
        job=sc.job,
        cron=sc.cron,
        timezone=sc.timezone,
        catchup=sc.catchup,
        partition=sc.partition,
        vars=dict(sc.vars),
        enabled=sc.enabled,
        description=sc.description,
    )


def _from_sensor_config(name: str, sn: FileSensorConfig | AssetSensorConfig) -> SensorDefinition:
    if isinstance(sn, FileSensorConfig):
        defn = file_sensor(
            name,
            job=sn.job,
            directory=sn.directory,
            glob=sn.glob,
            minimum_interval_seconds=sn.minimum_interval_seconds,
            vars=sn.vars,
            description=sn.description,
        )
    else:
        defn = asset_sensor(
            name,
            job=sn.job,
            asset=sn.asset,
            minimum_interval_seconds=sn.minimum_interval_seconds,
            vars=sn.vars,
            description=sn.description,
        )
    return replace(defn, enabled=sn.enabled)


def _python_definitions(project: Project) -> list[ScheduleDefinition | SensorDefinition]:
    found: list[ScheduleDefinition | SensorDefinition] = []
    for path in sensor_files(project):
        module = import_python_file(_rel(project.root, path), path, kind="sensor file")
        for value in vars(module).values():
            if isinstance(value, (ScheduleDefinition, SensorDefinition)):
                line, col = 1, 1
                if value.location is not None and Path(value.location.path) == path:
                    line, col = value.location.line or 1, value.location.col or 1
                found.append(replace(value, location=Location(_rel(project.root, path), line, col)))
    return found


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating a schedule tick or a sensor once."""

    requests: tuple[RunRequest, ...] = ()
    skip_reason: str | None = None
    error: str | None = None  # a traceback: the function raised
    cursor: str | None = None  # the sensor's cursor after the evaluation

    @property
    def status(self) -> str:
        """``failed`` (raised), ``requested`` (run requests) or ``skipped``."""
        if self.error is not None:
            return "failed"
        return "requested" if self.requests else "skipped"


def normalize_outcomes(value: Any, what: str) -> tuple[list[RunRequest], list[SkipReason]]:
    """Sort what a function returned or yielded into run requests and skip reasons."""
    if value is None:
        return [], []
    if inspect.isgenerator(value):  # a generator may also ``return SkipReason(...)``
        value = list(_drain(value))
    if isinstance(value, (RunRequest, SkipReason)):
        items: Iterable[Any] = [value]
    elif isinstance(value, Mapping):
        items = [RunRequest(vars=dict(value))]
    elif isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        items = value
    else:
        raise TypeError(
            f"{what} returned {type(value).__name__}; return or yield RunRequest(...) "
            "or SkipReason(...)"
        )
    requests, skips = [], []
    for item in items:
        if isinstance(item, RunRequest):
            requests.append(item)
        elif isinstance(item, SkipReason):
            skips.append(item)
        elif isinstance(item, Mapping):
            requests.append(RunRequest(vars=dict(item)))
        else:
            raise TypeError(
                f"{what} yielded {type(item).__name__}; yield RunRequest(...) or SkipReason(...)"
            )
    return requests, skips


def _drain(gen: Any) -> Iterable[Any]:
    """Everything a generator yields, then what it returned (if anything)."""
    while True:
        try:
            yield next(gen)
        except StopIteration as stop:
            if stop.value is not None:
                yield stop.value
            return


@contextmanager
def evaluation_resources(
    fn: Callable[..., Any], project: Project | None, what: str
) -> Iterator[dict[str, Any]]:
    """The resources a schedule or sensor function takes (parameters typed as an
    :class:`orch.Resource` subclass), set up for one evaluation and torn down after it.

    A setup that fails raises ResourceError naming the resource; a teardown that fails is
    logged (the evaluation's outcome stands).
    """
    wanted = resource_parameters(fn)
    if not wanted:
        yield {}
        return
    if project is None:
        raise ResourceError(
            f"{what} takes resources ({', '.join(sorted(wanted))}) but none are available here",
            hint="Evaluate it through `orch daemon` or `orch sensor test`",
        )
    config = project.config
    pool = ResourcePool(project_builder(config.resources, project.target_name,
                                        project.project_file))  # fmt: skip
    try:
        try:
            resources = {pname: pool.get(pname, cls) for pname, cls in wanted.items()}
        except ResourceError as err:  # the pool's hint speaks of steps: say what failed here
            raise ResourceError(
                err.message, hint=f"Fix its setup (or its settings under resources: in "
                f"{project.project_file}); {what} is evaluated again at its next tick",
            ) from err  # fmt: skip
        yield resources
    finally:
        pool.close()
        for message in pool.teardown_failures:
            log.warning("%s: %s", what, message)


def resource_users(project: Project, manifest: Manifest) -> dict[str, list[str]]:
    """resource name -> what takes it: Python assets by name, and ``check NAME``,
    ``sensor NAME``, ``schedule NAME`` (``orch resources ls``). A check or sensor file that fails
    to import is left out (the commands that run it report why)."""
    users: dict[str, list[str]] = {}
    for name, node in manifest.nodes.items():
        for resource in node.python.resource_params.values() if node.python else ():
            users.setdefault(resource, []).append(name)
    for name, check in sorted(manifest.checks.items()):
        if check.kind != "python":
            continue
        try:
            fn = python_check_function(check, project.root)
        except OrchError:
            continue
        for resource in resource_parameters(fn):
            users.setdefault(resource, []).append(f"check {name}")
    try:
        automation = load_automation(project)
    except OrchError:
        return users
    functions: list[tuple[str, Callable[..., Any] | None]] = [
        *((f"schedule {n}", d.fn) for n, d in sorted(automation.schedules.items())),
        *((f"sensor {n}", d.fn) for n, d in sorted(automation.sensors.items())),
    ]
    for who, call in functions:
        for resource in resource_parameters(call) if call is not None else {}:
            users.setdefault(resource, []).append(who)
    return users


def evaluate_schedule(
    defn: ScheduleDefinition, tick: datetime, project_root: Path, *, project: Project | None = None
) -> Evaluation:
    """One tick of a schedule: its run request (the default one without a function).

    ``project`` gives the function its resources (parameters typed as a Resource subclass).
    """
    if defn.fn is None:
        return Evaluation(requests=(RunRequest(),))
    context = ScheduleContext(defn.name, tick.astimezone(_zone(defn.timezone)), project_root)
    try:
        with evaluation_resources(defn.fn, project, f"schedule '{defn.name}'") as resources:
            value = defn.fn(context, **resources)
        if value is None:
            return Evaluation(requests=(RunRequest(),))
        requests, skips = normalize_outcomes(value, f"schedule '{defn.name}'")
    except OrchError as err:  # a resource that failed to set up: the message says which
        return Evaluation(error=err.format_message())
    except Exception:
        return Evaluation(error=traceback.format_exc())
    if not requests:
        reason = "; ".join(s.message for s in skips if s.message) or "the function skipped"
        return Evaluation(skip_reason=reason)
    return Evaluation(requests=tuple(requests[:1]))


def evaluate_sensor(
    defn: SensorDefinition, context: SensorContext, *, project: Project | None = None
) -> Evaluation:
    """Call a sensor once; an exception becomes a failed evaluation carrying the traceback.

    ``project`` gives the function its resources (parameters typed as a Resource subclass).
    """
    before = context.cursor
    try:
        with evaluation_resources(defn.fn, project, f"sensor '{defn.name}'") as resources:
            value = defn.fn(context, **resources)
            requests, skips = normalize_outcomes(value, f"sensor '{defn.name}'")
    except OrchError as err:  # a resource that failed to set up: the message says which
        return Evaluation(error=err.format_message(), cursor=before)
    except Exception:
        return Evaluation(error=traceback.format_exc(), cursor=before)
    reason = None
    if not requests:
        reason = "; ".join(s.message for s in skips if s.message) or "no run requested"
    return Evaluation(requests=tuple(requests), skip_reason=reason, cursor=context.cursor)


# --------------------------------------------------------------------------- overview


def schedule_cursor_name(name: str) -> str:
    """The cursor row holding the last handled tick of schedule ``name``."""
    return SCHEDULE_CURSOR_PREFIX + name


def next_schedule_tick(
    defn: ScheduleDefinition, state: StateReader | None, now: datetime
) -> datetime | None:
    """The next tick the daemon will handle: the first due after the last handled one."""
    if not defn.enabled:
        return None
    cursor = state.get_cursor(schedule_cursor_name(defn.name)) if state else None
    if cursor is None:
        return defn.latest_tick(now) if state is not None else defn.next_tick(now)
    return defn.next_tick(datetime.fromisoformat(cursor))


def next_tick_fields(
    defn: ScheduleDefinition, state: StateReader | None, now: datetime
) -> dict[str, Any]:
    """What the site says about a schedule's next tick, JSON-ready.

    ``next_tick`` is the tick the daemon handles next (:func:`next_schedule_tick`). When it is
    at or before ``now`` the schedule is ``due`` (``due_since`` that tick): never evaluated yet
    (``first_evaluation``: the daemon starts with its newest tick at or before now), or missed
    while no daemon ran. ``upcoming_tick`` is the first cron tick after ``now``, as a Dagster
    user reads "next tick". None throughout for a disabled schedule.
    """
    nxt = next_schedule_tick(defn, state, now)
    if nxt is None:
        return {"next_tick": None, "due": False, "due_since": None, "upcoming_tick": None,
                "first_evaluation": False}  # fmt: skip
    due = nxt <= now
    cursor = state.get_cursor(schedule_cursor_name(defn.name)) if state is not None else None
    return {
        "next_tick": nxt.isoformat(),
        "due": due,
        "due_since": nxt.isoformat() if due else None,
        "upcoming_tick": (defn.next_tick(now) if due else nxt).isoformat(),
        "first_evaluation": state is not None and cursor is None,
    }


def tick_dict(tick: TickRecord) -> dict[str, Any]:
    """A tick as plain data (for JSON output and the docs site)."""
    return {
        "time": tick.tick_time.isoformat(),
        "status": tick.status,
        "run_ids": list(tick.run_ids),
        "skip_reason": tick.skip_reason,
        "error": tick.error,
    }


def schedule_overview(
    project: Project, state: StateReader | None, *, now: datetime | None = None, ticks: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """Jobs, schedules (with their next tick) and sensors with recent ticks, for the docs site.

    Returns ``{"jobs": [...], "schedules": [...], "sensors": [...], "op_jobs": [...]}`` (op jobs
    with their graph and recent runs: :func:`orch.automation.jobs.op_job_overview`); every
    value is JSON-ready.
    A schedule's next tick is described by :func:`next_tick_fields` (``due`` when it is not in
    the future).
    """
    automation = apply_switches(load_automation(project), state)
    now = now or datetime.now(timezone.utc)
    jobs = [
        {
            "name": name,
            "select": job.select,
            "exclude": job.exclude,
            "partitions": job.partitions,
            "vars": dict(job.vars),
            "description": job.description,
        }
        for name, job in sorted(automation.jobs.items())
    ]
    schedules = []
    for name, defn in sorted(automation.schedules.items()):
        schedules.append(
            {
                "name": name,
                "job": defn.job,
                "cron": defn.cron,
                "timezone": defn.timezone,
                "catchup": defn.catchup,
                "partition": defn.partition,
                "enabled": defn.enabled,
                "description": defn.description,
                **next_tick_fields(defn, state, now),
                "python": defn.fn is not None,
                "ticks": [tick_dict(t) for t in state.ticks(name, ticks)] if state else [],
            }
        )
    sensors = []
    for name, sn in sorted(automation.sensors.items()):
        sensors.append(
            {
                "name": name,
                "job": sn.job,
                "kind": sn.kind,
                "minimum_interval_seconds": sn.minimum_interval_seconds,
                "enabled": sn.enabled,
                "description": sn.description,
                "cursor": state.get_cursor(name) if state else None,
                "ticks": [tick_dict(t) for t in state.ticks(name, ticks)] if state else [],
            }
        )
    op_jobs = op_job_overview(automation.op_jobs, state, project.root)
    return {"jobs": jobs, "schedules": schedules, "sensors": sensors, "op_jobs": op_jobs}


__all__ = [
    "Automation",
    "Evaluation",
    "RunRequest",
    "ScheduleContext",
    "ScheduleDefinition",
    "SensorContext",
    "SensorDefinition",
    "SkipReason",
    "asset_sensor",
    "evaluate_schedule",
    "evaluate_sensor",
    "file_sensor",
    "load_automation",
    "next_tick_fields",
    "schedule",
    "schedule_overview",
    "sensor",
]
