"""A run's resources: built, set up and torn down in one place (assets, ops, IO managers).

A :class:`ResourcePool` lives as long as one run. The first step that needs a resource builds it
from the project file (its dependencies first), calls ``setup()`` (or ``__enter__``) and keeps
it; :meth:`ResourcePool.close` tears every set-up resource down in reverse order when the run
ends, also after a failure, Ctrl-C or SIGTERM (the workflows call it in ``finally``). A resource
with ``scope = "step"`` is set up and torn down around each step (:meth:`ResourcePool.step`).

Faults: a setup that raises fails the steps that need the resource with a ResourceError naming
it (remembered: later steps fail the same way without a second attempt), other steps run, and a
resource that never set up is never torn down. A teardown that raises is logged as a warning
event and recorded in :attr:`ResourcePool.teardown_failures`; the run's status is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from orch import redaction
from orch.assets import Resource, build_resource, resource_dependencies, resource_values
from orch.errors import ConfigError, Location, OrchError, ResourceError
from orch.events import EventSink, LogEmitted
from orch.storage import declared_type

# builds (validates, does not set up) resource ``name`` as ``cls``; dependencies come from the pool
Builder = Callable[[str, type[Resource], Callable[[str, type[Resource]], Any]], Resource]


def project_builder(
    declarations: Mapping[str, Mapping[str, Any]], target: str, project_file: str
) -> Builder:
    """A builder from a project's ``resources:`` block for ``target``."""

    def build(
        name: str, cls: type[Resource], dependency: Callable[[str, type[Resource]], Any]
    ) -> Resource:
        return build_resource(
            cls, name, declarations, target, lambda _p: Location(project_file), dependency
        )

    return build


def is_context_manager(obj: Any) -> bool:
    """Whether ``obj``'s class defines ``__enter__`` and ``__exit__``."""
    return hasattr(type(obj), "__enter__") and hasattr(type(obj), "__exit__")


class _Opened:
    """One set-up resource: the value steps receive and how to tear it down."""

    def __init__(self, name: str, instance: Any) -> None:
        self.name = name
        self.instance = instance
        self.value = instance

    def open(self) -> None:
        if is_context_manager(self.instance):
            self.value = self.instance.__enter__()
        elif isinstance(self.instance, Resource):
            self.instance.setup()

    def close(self) -> None:
        if is_context_manager(self.instance):
            self.instance.__exit__(None, None, None)
        elif isinstance(self.instance, Resource):
            self.instance.teardown()


class ResourcePool:
    """The resources of one run (thread-safe: steps run in parallel)."""

    def __init__(
        self,
        builder: Builder | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        sink: EventSink | None = None,
        run_id: str = "",
    ) -> None:
        self._builder = builder
        self._overrides = dict(overrides or {})
        self.sink = sink
        self.run_id = run_id
        self._lock = threading.RLock()
        self._opened: dict[str, _Opened] = {}
        self._order: list[_Opened] = []  # setup order (teardown runs it backwards)
        self._failed: dict[str, ResourceError] = {}
        self._building: list[str] = []
        self._by_id: dict[int, _Opened] = {}  # run-scoped, by object: set up once each
        self.teardown_failures: list[str] = []
        self.closed = False

    # ------------------------------------------------------------------ run-scoped
    def get(self, name: str, cls: type[Any] = Resource) -> Any:
        """Resource ``name`` (as ``cls``), set up on first use. Raises ResourceError/ConfigError."""
        with self._lock:
            if name in self._opened:
                return self._opened[name].value
            if name in self._failed:
                raise self._failed[name]
            instance = self._build(name, cls)
            return self._open(name, instance, self._order).value

    def open(self, name: str, instance: Any) -> Any:
        """Set up a resource built elsewhere (an op job's own, a test's) once per run."""
        with self._lock:
            if name in self._opened and self._opened[name].instance is instance:
                return self._opened[name].value
            if name in self._failed:
                raise self._failed[name]
            return self._open(name, instance, self._order).value

    def _build(self, name: str, cls: type[Any]) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        if self._builder is None:
            raise ConfigError(f"resource '{name}' is not available in this run")
        if name in self._building:
            raise ConfigError(
                "resources depend on each other in a cycle: "
                + " -> ".join((*self._building, name)),
                hint="Break the cycle: a resource may use another only if that one does not use it",
            )
        self._building.append(name)
        try:
            return self._builder(name, cls, self.get)
        finally:
            self._building.pop()

    def _open(self, name: str, instance: Any, order: list[_Opened]) -> _Opened:
        known = self._by_id.get(id(instance))
        if known is not None and known.instance is instance:
            return known
        if isinstance(instance, Resource):  # its dependencies set up first (built elsewhere)
            for key in resource_dependencies(type(instance)):
                dep = getattr(instance, key, None)
                if dep is not None and id(dep) not in self._by_id:
                    if f"{name}.{key}" in self._failed:
                        raise self._failed[f"{name}.{key}"]
                    self._open(f"{name}.{key}", dep, order)
        opened = _Opened(name, instance)
        try:
            opened.open()
        except OrchError as err:
            failure = ResourceError(
                f"resource '{name}' failed to set up: {err.format_message()}",
                hint="Steps that need it failed; the others ran",
            )
            self._failed[name] = failure
            raise failure from err
        except Exception as err:
            text = redaction.scrub(f"{type(err).__name__}: {err}")
            failure = ResourceError(
                f"resource '{name}' ({type(instance).__name__}) failed to set up: {text}",
                hint="Fix its setup (or its settings under resources: in orch_project.yml); "
                "steps that need it failed, the others ran",
            )
            self._failed[name] = failure
            raise failure from err
        if order is self._order:
            self._opened[name] = opened
            self._by_id[id(instance)] = opened
        order.append(opened)
        return opened

    # ------------------------------------------------------------------ step-scoped
    @contextmanager
    def step(self, step: str = "") -> Iterator[StepResources]:
        """The resources of one step: run-scoped ones from the pool, step-scoped ones set up
        here and torn down when the step ends."""
        scope = StepResources(self, step)
        try:
            yield scope
        finally:
            self._teardown(reversed(scope.opened), step)

    def _step_get(self, scope: StepResources, name: str, cls: type[Any]) -> Any:
        with self._lock:
            if name in self._opened or name in self._failed:
                return self.get(name, cls)
            klass = type(self._overrides[name]) if name in self._overrides else cls
            if getattr(klass, "scope", "run") != "step":
                return self.get(name, cls)
            instance = self._build(name, cls)
        try:
            return self._open(name, instance, scope.opened).value
        finally:
            self._failed.pop(name, None)  # the next step tries again: it is the step's resource

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Tear down every run-scoped resource that set up, newest first (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            order, self._order = self._order, []
            self._opened.clear()
            self._by_id.clear()
        self._teardown(reversed(order), None)

    def _teardown(self, opened: Iterator[_Opened], step: str | None) -> None:
        for item in opened:
            try:
                item.close()
            except BaseException as err:  # noqa: BLE001 - a teardown never changes the outcome
                text = redaction.scrub(f"{type(err).__name__}: {err}")
                message = f"resource '{item.name}' failed to tear down: {text}"
                self.teardown_failures.append(message)
                if self.sink is not None:
                    self.sink.emit(LogEmitted(self.run_id, step, "warning", message))


class StepResources:
    """What one step may use: ``get(name, cls)``."""

    def __init__(self, pool: ResourcePool, step: str) -> None:
        self.pool = pool
        self.step = step
        self.opened: list[_Opened] = []

    def get(self, name: str, cls: type[Any] = Resource) -> Any:
        """Resource ``name`` for this step."""
        return self.pool._step_get(self, name, cls)


# --------------------------------------------------------------------------- orch resources ls

_SECRET_WORDS = ("password", "secret", "token", "key", "credential", "passphrase")
MASK = "********"


def masked(key: str, value: Any) -> Any:
    """A resource setting as it may be shown: env_var() values by name, secret-looking keys
    masked, nested mappings alike."""
    if isinstance(value, Mapping):
        return {k: masked(str(k), v) for k, v in value.items()}
    shown = redaction.scrub_data(value)
    if shown != value:
        return shown
    if any(word in key.lower() for word in _SECRET_WORDS) and value not in (None, ""):
        return MASK
    return value


def describe(
    declarations: Mapping[str, Mapping[str, Any]],
    target: str,
    used_by: Mapping[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Each declared resource for ``target``: name, type, settings (masked), who uses it."""
    out = []
    for name in sorted(declarations):
        decl = declarations.get(name) or {}
        values = {k: v for k, v in resource_values(declarations, name, target).items()}
        per_target = decl.get("targets") if isinstance(decl, Mapping) else None
        overridden = (
            sorted((per_target or {}).get(target) or {}) if isinstance(per_target, Mapping) else []
        )
        out.append(
            {
                "name": name,
                "type": declared_type(decl, target),
                "target": target,
                "settings": {
                    k: v if isinstance(v, str) and v in declarations and v != name else masked(k, v)
                    for k, v in values.items()
                },  # a value naming another resource is a dependency, shown as is
                "from_target": overridden,
                "used_by": sorted((used_by or {}).get(name, [])),
            }
        )
    return out
