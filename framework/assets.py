"""Python models: `@asset` and `@check`, `AssetContext`, `Resource` and `Config`.

A model file ``models/**/*.py`` is imported by its path (it need not be in a Python package; each
file gets its own module name), and every function decorated with ``@asset`` in it becomes an asset.
Each parameter is classified once, by annotation or name:

- ``AssetContext`` (or a parameter named ``context``): the run context;
- a subclass of :class:`Config`: the asset's run config, filled from vars;
- a subclass of :class:`Resource`: a resource declared in the project file under ``resources:``,
  chosen by the parameter's name;
- anything else names an upstream asset, loaded as ``pl.DataFrame`` (default), ``pl.LazyFrame``
  or ``pyarrow.Table`` according to the annotation.

polars and pyarrow are never imported here: annotations are compared by name, so ``import orch``
stays light.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, get_type_hints

from orch.errors import ConfigError, Location, ProjectError, suggestion
from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from orch.conditions import Condition

log = logging.getLogger(__name__)

#: Keys orch itself writes into a materialization's metadata (run/materialize.py, run/python.py);
#: every other key came from ``context.add_output_metadata``.
ORCH_METADATA_KEYS = frozenset(
    {
        "materialized",
        "mode",
        "audited",
        "partition",
        "dropped_rows",
        "language",
        "io_manager",
        "output_schema",
    }
)


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keys of a materialization's metadata that the asset added (not orch's own)."""
    return {k: v for k, v in (metadata or {}).items() if k not in ORCH_METADATA_KEYS}


F = TypeVar("F", bound=Callable[..., Any])

InputType = Literal["polars", "lazy", "arrow", "pandas", "object"]
#: What an asset's return annotation says it returns: a table (polars, Arrow, pandas), None, or
#: another Python object (stored by ``objects``); None when not annotated.
OutputKind = Literal["table", "none", "object"]
ASSET_ATTR = "__orch_asset__"
CHECK_ATTR = "__orch_check__"

# Decorator options that are model settings (they go through the same config merge as config()).
_CONFIG_OPTIONS = (
    "materialized", "partitioned_by", "schema", "database", "alias", "tags", "group", "owner",
    "meta", "unique_key", "incremental_strategy", "contract", "code_version", "io_manager",
    "io_manager_config",
    "automation",
)  # fmt: skip


# --------------------------------------------------------------------------- public base classes


class Resource(BaseModel):
    """Base of a resource: an external system's settings (and client), injected into assets.

    Subclass it with typed fields; values come from ``resources:`` in ``orch_project.yml``
    (per target, secrets through ``env_var()``)::

        class WeatherApi(orch.Resource):
            base_url: str
            api_key: SecretStr

    Lifecycle: override :meth:`setup` (open a client, a connection) and :meth:`teardown`
    (close it), or make the class a context manager (``__enter__``/``__exit__``). A run sets a
    resource up the first time a step needs it and tears it down when the run ends (also on a
    failure, Ctrl-C or SIGTERM), in reverse order; ``scope = "step"`` sets it up and tears it
    down around each step instead. A field typed as another Resource subclass is that other
    resource (named in the project file, by default the field's name), set up first.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    scope: ClassVar[str] = "run"  # "run": once per run; "step": around each step needing it

    def setup(self) -> None:
        """Called once before the first step that needs the resource (default: nothing)."""

    def teardown(self) -> None:
        """Called when the run (or step, for ``scope = "step"``) ends (default: nothing)."""


class Config(BaseModel):
    """Base of an asset's run config: typed fields filled from ``--vars`` (validated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class PartitionWindow:
    """The partition a step builds: its key and, for time partitions, the window [start, end).

    A run builds it once per step (``orch.run.materialize.partition_window``, which validates the
    key) and hands the same value to the materialization and to ``AssetContext.partition``.
    """

    key: str
    start: datetime | None = None
    end: datetime | None = None


class AssetLogger:
    """``context.log``: lines go to orch's events (console, run log) and Python logging."""

    def __init__(self, asset: str, emit: Callable[[str, str], None] | None = None) -> None:
        self.asset = asset
        self._emit = emit
        self._logger = logging.getLogger(f"orch.asset.{asset}")
        self.records: list[tuple[str, str]] = []

    def _log(self, level: str, msg: str, args: tuple[Any, ...]) -> None:
        text = msg % args if args else str(msg)
        self.records.append((level, text))
        self._logger.log(getattr(logging, level.upper()), text)
        if self._emit is not None:
            self._emit(level, text)

    def debug(self, msg: str, *args: Any) -> None:
        """Log at DEBUG."""
        self._log("debug", msg, args)

    def info(self, msg: str, *args: Any) -> None:
        """Log at INFO."""
        self._log("info", msg, args)

    def warning(self, msg: str, *args: Any) -> None:
        """Log at WARNING."""
        self._log("warning", msg, args)

    def error(self, msg: str, *args: Any) -> None:
        """Log at ERROR."""
        self._log("error", msg, args)


class AssetContext:
    """What a Python asset may know about the run it is part of.

    Attributes:
        asset: the asset's name.
        run_id: the run's id (``"test"`` in unit tests).
        partition: the partition being built, or None.
        resources: resources by name (also injectable as parameters).
        target: the target's name (``dev``, ``prod``...).
        log: a logger whose lines reach orch's events and the run log.
    """

    def __init__(
        self,
        asset: str = "",
        *,
        run_id: str = "",
        partition: PartitionWindow | None = None,
        resources: Mapping[str, Any] | None = None,
        target: str = "dev",
        config: Any = None,
        emit: Callable[[str, str], None] | None = None,
    ) -> None:
        self.asset = asset
        self.run_id = run_id
        self.partition = partition
        self.resources: dict[str, Any] = dict(resources or {})
        self.target = target
        self.config = config
        self.log = AssetLogger(asset, emit)
        self.output_metadata: dict[str, Any] = {}

    @property
    def partition_key(self) -> str | None:
        """The partition key, or None for an unpartitioned asset."""
        return self.partition.key if self.partition else None

    def add_output_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Attach JSON-able values to this materialization (shown by ``orch status``, docs).

        Keys orch writes itself (:data:`ORCH_METADATA_KEYS`) are ignored with a warning.
        """
        for key, value in metadata.items():
            if str(key) in ORCH_METADATA_KEYS:
                self.log.warning(
                    "output metadata key %r is reserved by orch and was ignored; rename it", key
                )
                continue
            try:
                json.dumps(value)
            except TypeError:
                value = str(value)
            self.output_metadata[str(key)] = value

    def __repr__(self) -> str:
        return f"AssetContext(asset={self.asset!r}, partition={self.partition_key!r})"


# --------------------------------------------------------------------------- decorators


@dataclass
class AssetSpec:
    """What ``@asset`` recorded about one function."""

    name: str
    fn: Callable[..., Any]
    deps: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # model settings given explicitly
    description: str | None = None
    columns: dict[str, str | None] = field(default_factory=dict)
    checks: list[Any] = field(default_factory=list)
    hooks: list[HookDefinition] = field(default_factory=list)

    @property
    def function(self) -> str:
        """The function's name in its module."""
        return str(self.fn.__name__)


# --------------------------------------------------------------------------- step hooks


class HookContext:
    """What a success or failure hook receives about the step that just ended.

    Attributes:
        step: the asset's name, or the op step's key.
        kind: ``asset`` or ``op``.
        run_id: the run's id.
        job: the op job's name (None for an asset).
        status: ``success`` or ``failure``.
        error: the exception that failed the step (None on success).
        error_message: that error as the run reports it ("" on success).
        partition: the partition key the step built (None when unpartitioned).
        log: lines go to the run's events, like ``context.log`` in an asset.
    """

    def __init__(
        self,
        step: str,
        *,
        kind: str,
        run_id: str,
        status: str,
        job: str | None = None,
        error: BaseException | None = None,
        error_message: str = "",
        partition: str | None = None,
        emit: Callable[[str, str], None] | None = None,
    ) -> None:
        self.step = step
        self.kind = kind
        self.run_id = run_id
        self.status = status
        self.job = job
        self.error = error
        self.error_message = error_message
        self.partition = partition
        self.log = AssetLogger(step, emit)


@dataclass(frozen=True)
class HookDefinition:
    """A function called after a step succeeds (``on='success'``) or fails (``'failure'``)."""

    name: str
    fn: Callable[[HookContext], Any]
    on: Literal["success", "failure"]

    def __call__(self, context: HookContext) -> Any:
        return self.fn(context)


def _hook_decorator(on: Literal["success", "failure"], fn: Any, name: str | None) -> Any:
    def decorate(func: Callable[[HookContext], Any]) -> HookDefinition:
        return HookDefinition(name or func.__name__, func, on)

    return decorate(fn) if fn is not None else decorate


def success_hook(fn: Callable[[HookContext], Any] | None = None, *, name: str | None = None) -> Any:
    """Declare a hook called with a :class:`HookContext` after a step succeeds.

    Attach it with ``hooks=[...]`` on ``@asset``, ``@op`` or ``@job``. A hook that raises is
    recorded as a hook failure; the step's own status stays what it was.
    """
    return _hook_decorator("success", fn, name)


def failure_hook(fn: Callable[[HookContext], Any] | None = None, *, name: str | None = None) -> Any:
    """Declare a hook called with a :class:`HookContext` (``error`` set) after a step fails."""
    return _hook_decorator("failure", fn, name)


def hook_list(hooks: Iterable[Any] | None, owner: str) -> list[HookDefinition]:
    """``hooks=`` checked: each one made by ``@success_hook`` or ``@failure_hook``.

    Raises ProjectError naming the owner and the offending value.
    """
    out = []
    for h in hooks or ():
        if not isinstance(h, HookDefinition):
            raise ProjectError(
                f"{owner}: hooks= takes functions decorated with @orch.success_hook or "
                f"@orch.failure_hook, not {getattr(h, '__name__', type(h).__name__)!r}",
                hint="Decorate the function with @orch.failure_hook (or @orch.success_hook)",
            )
        out.append(h)
    return out


@dataclass
class CheckSpec:
    """What ``@check`` recorded about one Python check function."""

    name: str
    asset: str
    fn: Callable[..., Any]
    severity: Literal["warn", "error"] = "error"
    blocking: bool = False
    description: str = ""

    @property
    def function(self) -> str:
        """The function's name in its module."""
        return str(self.fn.__name__)


def _automation_text(automation: Any) -> Any:
    """An ``automation=`` argument as the settings keep it: a condition's expression text."""
    if automation is None or isinstance(automation, str):
        return automation
    # imported here: the conditions API is loaded when a condition is given, not by every run
    from orch.conditions import Condition

    return automation.expression if isinstance(automation, Condition) else automation


def asset(
    fn: F | None = None,
    *,
    name: str | None = None,
    deps: Iterable[str] = (),
    materialized: Literal["table", "incremental", "none"] | None = None,
    partitioned_by: Any = None,
    schema: str | None = None,
    database: str | None = None,
    alias: str | None = None,
    tags: Iterable[str] | str | None = None,
    group: str | None = None,
    owner: str | None = None,
    meta: Mapping[str, Any] | None = None,
    description: str | None = None,
    columns: Mapping[str, str | None] | Iterable[str] | None = None,
    checks: Iterable[Any] | None = None,
    unique_key: str | list[str] | None = None,
    incremental_strategy: Literal["append", "merge", "delete+insert"] | None = None,
    contract: bool | None = None,
    code_version: str | None = None,
    io_manager: str | None = None,
    io_manager_config: Mapping[str, Any] | None = None,
    hooks: Iterable[Any] | None = None,
    automation: Condition | str | None = None,
) -> Any:
    """Declare a Python asset: the function's return value is stored by its IO manager.

    Args:
        name: the asset's name (default: the function's name).
        deps: upstream assets that must be built first but are not passed in.
        materialized: ``table`` (default), ``incremental`` (append, or merge on ``unique_key``)
            or ``none`` (a side effect such as an export; the function returns None).
        partitioned_by: like a SQL model's (``"daily"``, a mapping, or a list of keys).
        columns: declared columns, ``{name: type or None}`` or a list of names; checked against
            the returned table before anything is written.
        checks: built-in checks for the asset, in the YAML format.
        code_version: bump it to mark the asset changed without changing its code.
        io_manager: what stores the return value: ``warehouse``, ``parquet``, ``objects``,
            ``memory`` or a resource whose type is an :class:`orch.IOManager` subclass. Default:
            the folder's or project's ``+io_manager``, else by type (a table goes to the
            warehouse, any other object to ``objects``).
        io_manager_config: settings for the IO manager storing this asset's output, handed to
            it as ``OutputContext.config`` (and ``InputContext.upstream_output.config``); the
            built-ins take ``compression`` (``parquet``) and ``format`` (``objects``).
        description: default: the function's docstring.
        hooks: ``@success_hook`` / ``@failure_hook`` functions called after the asset's step.
        automation: when ``orch daemon`` refreshes it (:mod:`orch.conditions`), e.g.
            ``eager & ~on_cron("0 0 * * 0")`` or ``max_lag("2h")``; text is parsed like YAML's.

    Returns:
        The function itself, unchanged (call it directly in unit tests).
    """
    settings = {
        "materialized": materialized, "partitioned_by": partitioned_by, "schema": schema,
        "database": database, "alias": alias,
        "tags": [tags] if isinstance(tags, str) else (list(tags) if tags is not None else None),
        "group": group, "owner": owner, "meta": dict(meta) if meta is not None else None,
        "unique_key": unique_key, "incremental_strategy": incremental_strategy,
        "contract": contract, "code_version": code_version, "io_manager": io_manager,
        "io_manager_config": dict(io_manager_config) if io_manager_config is not None else None,
        "automation": _automation_text(automation),
    }  # fmt: skip
    declared: dict[str, str | None] = {}
    if isinstance(columns, Mapping):
        declared = {str(k): (str(v) if v is not None else None) for k, v in columns.items()}
    elif columns is not None:
        declared = {str(c): None for c in columns}

    def decorate(func: F) -> F:
        spec = AssetSpec(
            name=name or func.__name__,
            fn=func,
            deps=list(deps),
            config={k: v for k, v in settings.items() if v is not None},
            description=description if description is not None else inspect.getdoc(func),
            columns=declared,
            checks=list(checks or []),
            hooks=hook_list(hooks, f"asset '{name or func.__name__}'"),
        )
        setattr(func, ASSET_ATTR, spec)
        return func

    return decorate(fn) if fn is not None else decorate


def check(
    fn: F | None = None,
    *,
    asset: str,
    name: str | None = None,
    severity: Literal["warn", "error"] = "error",
    blocking: bool = False,
    description: str | None = None,
) -> Any:
    """Declare a Python check of ``asset``: the function receives the asset's data.

    What it returns (a bool, or a number of failing rows) is interpreted by the check runner.
    """

    def decorate(func: F) -> F:
        spec = CheckSpec(
            name=name or func.__name__,
            asset=asset,
            fn=func,
            severity=severity,
            blocking=blocking,
            description=description if description is not None else (inspect.getdoc(func) or ""),
        )
        setattr(func, CHECK_ATTR, spec)
        return func

    return decorate(fn) if fn is not None else decorate


# --------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class Signature:
    """How each parameter of an asset function is filled."""

    inputs: dict[str, str]  # parameter -> upstream asset
    input_types: dict[str, InputType]
    context_param: str | None
    config_param: str | None
    config_class: type[Config] | None
    resource_params: dict[str, str]  # parameter -> resource name
    resource_classes: dict[str, type[Resource]]  # resource name -> class
    output_kind: OutputKind | None = None  # what the return annotation says (None: unannotated)
    output_annotation: str | None = None  # the return annotation, for messages


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return get_type_hints(fn)
    except Exception:  # unresolvable string annotations: compare them by name instead
        return dict(getattr(fn, "__annotations__", {}))


def _is_subclass(annotation: Any, base: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, base)


def annotation_text(annotation: Any) -> str:
    """An annotation as comparable text: ``polars.dataframe.frame.DataFrame``, ``dict[str,int]``."""
    if isinstance(annotation, str):
        text = annotation
    elif isinstance(annotation, type):
        text = f"{annotation.__module__}.{annotation.__qualname__}"
    else:
        text = repr(annotation)
    return text.replace(" ", "")


def table_type_of(annotation: Any) -> InputType | None:
    """``polars``/``lazy``/``arrow``/``pandas`` for a table annotation; None for anything else."""
    text = annotation_text(annotation)
    if text.startswith(("typing.", "collections.")) or "[" in text:
        return None
    if re.search(r"(^|\.)LazyFrame$", text):
        return "lazy"
    if re.search(r"(^|\.)DataFrame$", text):
        return "pandas" if text.startswith(("pandas", "pd.")) else "polars"
    if re.search(r"(^|\.)Table$", text) and ("pyarrow" in text or text.startswith("pa.")):
        return "arrow"
    return None


def input_type_of(annotation: Any) -> InputType:
    """How an input is handed over: a table type, or ``object`` (as its IO manager loaded it).

    An unannotated input is a polars DataFrame when its upstream is a table.
    """
    if annotation is inspect.Parameter.empty or annotation is None:
        return "polars"
    return table_type_of(annotation) or "object"


def output_kind_of(annotation: Any) -> OutputKind | None:
    """What a return annotation promises: a table, None, another object (None: unannotated)."""
    if annotation is inspect.Parameter.empty:
        return None
    if annotation is None or annotation is type(None) or annotation == "None":
        return "none"
    if table_type_of(annotation) is not None:
        return "table"
    return "object"


def analyze_signature(spec: AssetSpec, where: Location) -> Signature:
    """Classify the function's parameters; raises ProjectError for one it cannot fill."""
    hints = _hints(spec.fn)
    params = inspect.signature(spec.fn).parameters
    inputs: dict[str, str] = {}
    types: dict[str, InputType] = {}
    context_param = config_param = None
    config_class: type[Config] | None = None
    resources: dict[str, str] = {}
    resource_classes: dict[str, type[Resource]] = {}
    for pname, param in params.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ProjectError(
                f"asset '{spec.name}': *{pname} parameters are not supported",
                location=where,
                hint="Name each upstream asset as its own parameter",
            )
        annotation = hints.get(pname, param.annotation)
        if _is_subclass(annotation, AssetContext) or (
            pname == "context" and annotation in (inspect.Parameter.empty, "AssetContext")
        ):
            context_param = pname
        elif _is_subclass(annotation, Config):
            config_param, config_class = pname, annotation
        elif _is_subclass(annotation, Resource):
            resources[pname] = pname
            resource_classes[pname] = annotation
        else:
            inputs[pname] = pname
            types[pname] = input_type_of(annotation)
    returned = hints.get("return", inspect.signature(spec.fn).return_annotation)
    return Signature(
        inputs,
        types,
        context_param,
        config_param,
        config_class,
        resources,
        resource_classes,
        output_kind_of(returned),
        None if returned is inspect.Parameter.empty else annotation_text(returned),
    )


def resource_parameters(fn: Callable[..., Any]) -> dict[str, type[Resource]]:
    """The parameters of ``fn`` typed as a :class:`Resource` subclass: name -> class.

    The rule of assets for checks, sensors and schedules: a parameter so typed receives the
    resource of the same name (set up once per run or evaluation, then torn down).
    """
    hints = _hints(fn)
    out: dict[str, type[Resource]] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        annotation = hints.get(pname, param.annotation)
        if _is_subclass(annotation, Resource):
            out[pname] = annotation
    return out


# --------------------------------------------------------------------------- resources and config


def resource_values(
    declarations: Mapping[str, Mapping[str, Any]], name: str, target: str
) -> dict[str, Any]:
    """A resource's values for a target: its top-level keys, then ``targets.<target>`` over them."""
    decl = dict(declarations.get(name) or {})
    per_target = decl.pop("targets", None) or {}
    decl.pop("type", None)
    override = per_target.get(target) if isinstance(per_target, Mapping) else None
    return {**decl, **(override or {})}


def build_resource(
    cls: type[Resource],
    name: str,
    declarations: Mapping[str, Mapping[str, Any]],
    target: str,
    location: Callable[[tuple[str | int, ...]], Location | None] = lambda p: None,
    dependency: Callable[[str, type[Resource]], Resource] | None = None,
    _chain: tuple[str, ...] = (),
) -> Resource:
    """Instantiate resource ``name`` as ``cls`` from the project's ``resources:`` block.

    A field typed as another Resource subclass takes the resource its value names (default: the
    field's name), from ``dependency`` (a run's resources, set up) or built here (validation).

    Raises ConfigError naming the field (and the file's line when ``location`` knows it), or a
    dependency cycle.
    """
    if name in _chain:
        raise ConfigError(
            "resources depend on each other in a cycle: " + " -> ".join((*_chain, name)),
            location=location(("resources", name)),
            hint="Break the cycle: a resource may use another only if that one does not use it",
        )
    decl = declarations.get(name)
    if decl is None and any(f.is_required() for f in cls.model_fields.values()):
        raise ConfigError(
            f"resource '{name}' ({cls.__name__}) is not declared",
            location=location(("resources",)),
            hint=suggestion(name, declarations)
            or "Add it under 'resources:' in orch_project.yml with its fields: "
            + ", ".join(cls.model_fields),
        )
    declared_type = (decl or {}).get("type")
    if declared_type and declared_type not in (cls.__name__, f"{cls.__module__}.{cls.__name__}"):
        raise ConfigError(
            f"resource '{name}' is declared with type '{declared_type}' but the asset expects "
            f"{cls.__name__}",
            location=location(("resources", name, "type")),
            hint=f"Set type: {cls.__name__}, or annotate the parameter with {declared_type}",
        )
    values = resource_values(declarations, name, target)
    for key, dep_cls in resource_dependencies(cls).items():
        ref = values.get(key, key)
        if isinstance(dep_cls, type) and isinstance(ref, dep_cls):
            continue
        if not isinstance(ref, str):
            raise ConfigError(
                f"resource '{name}' field '{key}' must name another resource ({dep_cls.__name__})",
                location=location(("resources", name, key)) or location(("resources", name)),
                hint=f"Set resources.{name}.{key} to the name of a resource of type "
                f"{dep_cls.__name__}",
            )
        if dependency is not None:  # the run's pool (which also guards against cycles)
            values[key] = dependency(ref, dep_cls)
        else:
            values[key] = build_resource(
                dep_cls, ref, declarations, target, location, dependency, (*_chain, name)
            )
    try:
        return cls.model_validate(values)
    except ValidationError as err:
        item = err.errors()[0]
        key = ".".join(str(p) for p in item["loc"])
        in_target = isinstance((decl or {}).get("targets"), Mapping) and key in (
            (decl or {}).get("targets", {}).get(target) or {}
        )
        path: tuple[str | int, ...] = (
            ("resources", name, "targets", target, key) if in_target else ("resources", name, key)
        )
        what = "missing" if item["type"] == "missing" else f"invalid ({item['msg']})"
        raise ConfigError(
            f"resource '{name}' field '{key}' is {what}",
            location=location(path) or location(("resources", name)),
            hint=f"Set resources.{name}.{key} in orch_project.yml (per target under "
            f"resources.{name}.targets.{target})",
        ) from None


def resource_dependencies(cls: type[Resource]) -> dict[str, type[Resource]]:
    """The fields of ``cls`` that are other resources (field name -> its Resource class)."""
    out: dict[str, type[Resource]] = {}
    for key, f in cls.model_fields.items():
        annotation: Any = f.annotation
        if _is_subclass(annotation, Resource):
            out[key] = annotation
    return out


def build_config(
    cls: type[Config], asset_name: str, variables: Mapping[str, Any], where: Location | None
) -> Config:
    """An asset's run config: fields from vars of the same name, then ``vars[asset_name]``.

    Raises ConfigError naming the field.
    """
    values = {k: variables[k] for k in cls.model_fields if k in variables}
    scoped = variables.get(asset_name)
    if isinstance(scoped, Mapping):
        values.update(scoped)
    try:
        return cls.model_validate(values)
    except ValidationError as err:
        item = err.errors()[0]
        key = ".".join(str(p) for p in item["loc"])
        what = "missing" if item["type"] == "missing" else f"invalid: {item['msg']}"
        raise ConfigError(
            f"config of asset '{asset_name}' ({cls.__name__}): field '{key}' is {what}",
            location=where,
            hint=f'Pass it with --vars \'{{"{asset_name}": {{"{key}": ...}}}}\' or set vars.'
            f"{key} in orch_project.yml",
        ) from None


def config_fingerprint(config: BaseModel | None) -> str:
    """The run config's values as stable text (part of the asset's fingerprint)."""
    if config is None:
        return ""
    return json.dumps(config.model_dump(mode="json"), sort_keys=True, default=str)
