"""The definitions of ops: specs (In, Out, DynamicOut, Output, RetryPolicy), OpContext, @op."""

from __future__ import annotations

import enum
import functools
import inspect
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_type_hints, overload

from orch.assets import AssetLogger, Config, HookDefinition, Resource, hook_list
from orch.errors import (
    Location,
    ProjectError,
    suggestion,
)

F = TypeVar("F", bound=Callable[..., Any])
RESULT = "result"
_ORCH_DIR = str(Path(__file__).resolve().parents[1])

# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class In:
    """An op input's spec: its type (an annotation or :class:`orch.Type`) and description.

    ``asset="name"`` makes the input an asset of the project, read through the asset's storage
    when the job runs (``orch job run``), or given to ``execute_in_process(assets=...)``.
    """

    type: Any = None
    description: str | None = None
    asset: str | None = None


@dataclass(frozen=True)
class Out:
    """An op output's spec: its type, whether the op must produce it, its description, and
    the IO manager that stores it (a name: ``objects``, ``parquet``, a project resource...;
    default: the job's) with its settings for this output (``OutputContext.config``)."""

    type: Any = None
    is_required: bool = True
    description: str | None = None
    io_manager: str | None = None
    io_manager_config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class DynamicOut(Out):
    """An output yielded as several :class:`DynamicOutput` values, each with a mapping key:
    the downstream ops called inside ``handle.map(...)`` run once per value."""


@dataclass(frozen=True)
class Output:
    """A value for a named output (return it, or yield several from a generator op)."""

    value: Any
    output_name: str = RESULT
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class DynamicOutput:
    """One value of a dynamic output; ``mapping_key`` names its branch (letters, digits, _)."""

    value: Any
    mapping_key: str
    output_name: str = RESULT
    metadata: Mapping[str, Any] | None = None


class Backoff(enum.Enum):
    """How the delay between attempts grows: the same, by a step, or doubling."""

    CONSTANT = "constant"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failed op up to ``max_retries`` times, ``delay`` seconds apart (grown by
    ``backoff``), only for exceptions of ``retry_on``. Every attempt is recorded."""

    max_retries: int = 1
    delay: float = 0.0
    backoff: Backoff = Backoff.CONSTANT
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.delay < 0:
            raise ValueError("RetryPolicy: max_retries and delay must be >= 0")
        if isinstance(self.retry_on, type):
            object.__setattr__(self, "retry_on", (self.retry_on,))

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if self.backoff is Backoff.LINEAR:
            return self.delay * retry
        if self.backoff is Backoff.EXPONENTIAL:
            return self.delay * 2 ** (retry - 1)
        return self.delay

    def retries(self, err: BaseException) -> bool:
        """Whether ``err`` is one this policy retries."""
        return isinstance(err, self.retry_on)


@dataclass(frozen=True)
class InputDef:
    """One input of an op: its name, type, description, and the asset it reads (if any)."""

    name: str
    type: Any = None
    description: str | None = None
    asset: str | None = None
    has_default: bool = False


@dataclass(frozen=True)
class OutputDef:
    """One output of an op."""

    name: str
    type: Any = None
    is_required: bool = True
    dynamic: bool = False
    description: str | None = None
    io_manager: str | None = None
    io_manager_config: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- context


class OpContext:
    """What an op may know about its run.

    Attributes:
        op: the op's node name in the graph (``train``, ``train_2``); ``step_key`` adds the
            mapping key of a mapped step (``train[fold_1]``).
        job: the job's name; run_id: the run's id (``"test"`` in unit tests).
        op_config: the op's config object (also injectable as a Config parameter); ``config``
            is the same.
        resources: resources by name; retry_number: 0 for the first attempt;
        mapping_key: the dynamic branch this step runs for, or None; log: a logger whose lines
        reach orch's events and the run log; tags: the run's tags; project_dir: the project
        folder under ``orch job run`` (None in process: relative paths are the cwd's).
    """

    def __init__(
        self,
        op: str = "test_op",
        *,
        job: str = "",
        run_id: str = "test",
        step_key: str | None = None,
        op_config: Any = None,
        resources: Mapping[str, Any] | None = None,
        retry_number: int = 0,
        mapping_key: str | None = None,
        tags: Mapping[str, str] | None = None,
        emit: Callable[[str, str], None] | None = None,
        project_dir: Path | None = None,
    ) -> None:
        self.op = op
        self.project_dir = project_dir
        self.job = job
        self.run_id = run_id
        self.step_key = step_key or op
        self.op_config = op_config
        self.resources: dict[str, Any] = dict(resources or {})
        self.retry_number = retry_number
        self.mapping_key = mapping_key
        self.tags: dict[str, str] = dict(tags or {})
        self.log = AssetLogger(self.step_key, emit)
        self.output_metadata: dict[str, dict[str, Any]] = {}

    @property
    def config(self) -> Any:
        """The op's config object (None when the op declares none)."""
        return self.op_config

    def add_output_metadata(self, metadata: Mapping[str, Any], output_name: str = RESULT) -> None:
        """Attach facts to an output (recorded with the step, shown by ``orch runs``)."""
        self.output_metadata.setdefault(output_name, {}).update(metadata)

    def __repr__(self) -> str:
        return f"OpContext(op={self.step_key!r}, run_id={self.run_id!r})"


# --------------------------------------------------------------------------- tracing

_local = threading.local()


def _current_builder() -> Any | None:
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def _trace(builder: Any, fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(builder)
    try:
        return fn(*args)
    finally:
        stack.pop()


# --------------------------------------------------------------------------- op


@dataclass(eq=False)  # identity: definitions are hashable and compared by object
class OpDefinition:
    """An ``@op``: the function and how each of its parameters and outputs is filled."""

    name: str
    fn: Callable[..., Any]
    ins: dict[str, InputDef]
    outs: dict[str, OutputDef]
    location: Location
    context_param: str | None = None
    config_param: str | None = None
    config_class: type[Config] | None = None
    resource_params: dict[str, type[Resource]] = field(default_factory=dict)
    retry_policy: RetryPolicy | None = None
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    is_generator: bool = False
    single_result: bool = True  # one output named 'result', filled by the return value
    hooks: list[HookDefinition] = field(default_factory=list)  # @success_hook / @failure_hook

    @property
    def dynamic_outputs(self) -> list[str]:
        """Names of the dynamic outputs."""
        return [o.name for o in self.outs.values() if o.dynamic]

    def alias(self, name: str) -> _Aliased:
        """This op under another node name in a graph (to call it twice with clear names)."""
        return _Aliased(self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = _current_builder()
        if builder is not None:
            return builder.add(self, None, args, kwargs)
        return self.call_directly(*args, **kwargs)

    def call_directly(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function with plain values (a unit test); a generator's yields are listed."""
        if self.context_param and self.context_param not in kwargs:
            first = args[0] if args else None
            if not isinstance(first, OpContext):
                kwargs[self.context_param] = OpContext(self.name)
        result = self.fn(*args, **kwargs)
        if inspect.isgenerator(result):
            return list(result)
        return result

    def __repr__(self) -> str:
        return f"<op {self.name}>"


@dataclass(frozen=True)
class _Aliased:
    op: OpDefinition
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = _current_builder()
        if builder is None:
            return self.op.call_directly(*args, **kwargs)
        return builder.add(self.op, self.name, args, kwargs)


def _user_location(depth: int = 2) -> Location:
    """The first frame outside orch (where the user wrote the call or the decorator)."""
    frame = sys._getframe(depth)
    while frame is not None and frame.f_code.co_filename.startswith(_ORCH_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return Location("<unknown>")
    return Location(frame.f_code.co_filename, frame.f_lineno)


def _def_location(fn: Callable[..., Any]) -> Location:
    code = getattr(fn, "__code__", None)
    if code is None:
        return Location("<unknown>")
    line = code.co_firstlineno
    try:
        lines, start = inspect.getsourcelines(fn)
        for offset, text in enumerate(lines):
            if text.lstrip().startswith(("def ", "async def ")):
                line = start + offset
                break
    except (OSError, TypeError):
        pass
    return Location(code.co_filename, line)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return get_type_hints(fn)
    except Exception:  # a name only imported under TYPE_CHECKING: no check from it
        return dict(getattr(fn, "__annotations__", {}))


def _is_subclass(annotation: Any, base: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, base)


def _build_op(
    fn: Callable[..., Any],
    *,
    name: str | None,
    ins: Mapping[str, In] | None,
    out: Out | Mapping[str, Out] | None,
    retry_policy: RetryPolicy | None,
    tags: Mapping[str, str] | None,
    description: str | None,
) -> OpDefinition:
    where = _def_location(fn)
    op_name = name or fn.__name__
    hints = _hints(fn)
    params = inspect.signature(fn).parameters
    context_param = config_param = None
    config_class: type[Config] | None = None
    resources: dict[str, type[Resource]] = {}
    inputs: dict[str, InputDef] = {}
    for pname, param in params.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ProjectError(
                f"op '{op_name}': *{pname} parameters are not supported",
                location=where,
                hint="Name each input as its own parameter",
            )
        annotation = hints.get(pname, param.annotation)
        if _is_subclass(annotation, OpContext) or (
            pname == "context" and annotation in (inspect.Parameter.empty, "OpContext")
        ):
            context_param = pname
        elif _is_subclass(annotation, Config):
            config_param, config_class = pname, annotation
        elif _is_subclass(annotation, Resource):
            resources[pname] = annotation
        else:
            spec = (ins or {}).get(pname) or In()
            declared = spec.type if spec.type is not None else annotation
            inputs[pname] = InputDef(
                pname,
                None if declared is inspect.Parameter.empty else declared,
                spec.description,
                spec.asset,
                param.default is not inspect.Parameter.empty,
            )
    for extra in set(ins or {}) - set(inputs):
        raise ProjectError(
            f"op '{op_name}': ins= names '{extra}', which is not an input parameter",
            location=where,
            hint=suggestion(extra, inputs) or "Each key of ins= must be a parameter of the op",
        )
    is_generator = inspect.isgeneratorfunction(fn)
    ret = hints.get("return", inspect.Parameter.empty)
    outs: dict[str, OutputDef]
    single = True
    if isinstance(out, Out):
        outs = {RESULT: _out_def(RESULT, out, ret if out.type is None else out.type)}
    elif out is not None:
        outs = {k: _out_def(k, v, v.type) for k, v in out.items()}
        single = False
    elif ret is None or ret is type(None):
        outs = {}
    else:
        annotation = None if is_generator or ret is inspect.Parameter.empty else ret
        outs = {RESULT: OutputDef(RESULT, annotation)}
    if is_generator and outs.get(RESULT) and isinstance(out, Out) and not out.type:
        outs[RESULT] = OutputDef(
            RESULT, None, out.is_required, isinstance(out, DynamicOut), out.description,
            out.io_manager, dict(out.io_manager_config or {}),
        )  # fmt: skip
    return OpDefinition(
        name=op_name,
        fn=fn,
        ins=inputs,
        outs=outs,
        location=where,
        context_param=context_param,
        config_param=config_param,
        config_class=config_class,
        resource_params=resources,
        retry_policy=retry_policy,
        tags=dict(tags or {}),
        description=description or inspect.getdoc(fn),
        is_generator=is_generator,
        single_result=single and RESULT in outs,
    )


def _out_def(name: str, spec: Out, annotation: Any) -> OutputDef:
    dynamic = isinstance(spec, DynamicOut)
    if annotation is inspect.Parameter.empty or dynamic and spec.type is None:
        annotation = None  # a dynamic output's return annotation is the generator's, not a value's
    return OutputDef(
        name, annotation, spec.is_required, dynamic, spec.description, spec.io_manager,
        dict(spec.io_manager_config or {}),
    )  # fmt: skip


@overload
def op(fn: F) -> OpDefinition: ...


@overload
def op(
    fn: None = None,
    *,
    name: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    retry_policy: RetryPolicy | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    hooks: Iterable[HookDefinition] | None = None,
) -> Callable[[F], OpDefinition]: ...


def op(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    retry_policy: RetryPolicy | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    hooks: Iterable[HookDefinition] | None = None,
) -> OpDefinition | Callable[[F], OpDefinition]:
    """Make a function an op.

    Args:
        name: the op's name (default: the function's).
        ins: input specs by parameter name (types, descriptions, ``asset=``).
        out: one :class:`Out` / :class:`DynamicOut`, or named outputs ``{"a": Out(int)}``
            (return a tuple in that order, or yield :class:`Output` values).
        retry_policy: how failures are retried.
        tags, description: shown in ``orch job ls`` and the site.
        hooks: ``@success_hook`` / ``@failure_hook`` functions called after each of its steps.
    """

    def decorate(func: Callable[..., Any]) -> OpDefinition:
        definition = _build_op(
            func, name=name, ins=ins, out=out, retry_policy=retry_policy, tags=tags,
            description=description,
        )  # fmt: skip
        definition.hooks = hook_list(hooks, f"op '{definition.name}'")
        functools.update_wrapper(definition, func)  # type: ignore[arg-type]
        return definition

    if fn is not None:
        return decorate(fn)
    return decorate
