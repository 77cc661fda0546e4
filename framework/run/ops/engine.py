"""The executor of op jobs: one step per node (per mapping key for a mapped node), in order.

Steps run sequentially in the calling thread. Each step: resolve its inputs (skip it when an
upstream failed or did not produce what it reads), check their types, call the op (again per the
retry policy, every attempt recorded), check and store its outputs through the IO manager, emit
typed events. Ctrl-C/SIGTERM stops the run after recording the step it interrupted.
The hot path stays lean: no deep copies, no validation beyond the declared types.
"""

from __future__ import annotations

import inspect
import os
import re
import reprlib
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch.assets import HookContext
from orch.errors import ExecutionError, OrchError
from orch.events import (
    EventSink,
    LogEmitted,
    OpStepFailed,
    OpStepRetried,
    OpStepSkipped,
    OpStepStarted,
    OpStepSucceeded,
    utcnow,
)
from orch.ops import (
    RESULT,
    DynamicOutput,
    JobDefinition,
    Node,
    OpContext,
    OpDefinition,
    Output,
    RetryPolicy,
    Source,
)
from orch.run.hooks import HookOutcome, run_step_hooks
from orch.run.ops.result import OpJobResult, StepResult
from orch.run.resources import ResourcePool
from orch.storage import InputContext, IOManager, OutputContext
from orch.typecheck import check_value, describe_type

_ORCH_DIR = str(Path(__file__).resolve().parents[2])
_LIB_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
_KEY = re.compile(r"^[A-Za-z0-9_]+$")
_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 5

# Loads an asset an op reads: (asset name, the input's annotation) -> value.
AssetLoader = Callable[[str, Any], Any]
# The IO manager a name (``Out(io_manager=...)``) stands for.
IOResolver = Callable[[str], IOManager]


class OpFailedError(ExecutionError):
    """An op step failed (raised by ``execute_in_process`` unless ``raise_on_error=False``)."""


class TypeCheckError(ExecutionError):
    """A value did not pass the type check of an op's input or output."""


class _StepError(Exception):
    """A failure the engine itself found in a step (not the op's code): never retried."""


@dataclass(frozen=True)
class ReusedStep:
    """A step that succeeded in an earlier run: its outputs are loaded, it does not run again."""

    run_id: str
    outputs: dict[str, dict[str, Any]]  # output -> {"mapping_keys": [...], ...} as recorded


@dataclass
class _Run:
    produced: dict[tuple[str, str], OutputContext] = field(default_factory=dict)
    managers: dict[tuple[str, str], IOManager] = field(default_factory=dict)  # not the default
    mapping_keys: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    steps: dict[str, StepResult] = field(default_factory=dict)
    node_keys: dict[str, list[str]] = field(default_factory=dict)


class OpRun:
    """One run of an op job (``execute`` once)."""

    def __init__(
        self,
        job: JobDefinition,
        *,
        run_id: str,
        sink: EventSink,
        io: IOManager,
        configs: Mapping[str, Any],
        resources: Mapping[str, Mapping[str, Any]],
        tags: Mapping[str, str] | None = None,
        assets: AssetLoader | None = None,
        graph_inputs: Mapping[str, Any] | None = None,
        reuse: Mapping[str, ReusedStep] | None = None,
        project_root: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        io_managers: IOResolver | None = None,
        pool: ResourcePool | None = None,
    ) -> None:
        self.job = job
        self.pool = pool  # sets each resource up on first use, once per run
        self.hook_outcomes: list[HookOutcome] = []  # success/failure hooks' outcomes
        self.run_id = run_id
        self.sink = sink
        self.io = io
        self.configs = configs
        self.resources = resources
        self.tags = dict(tags or {})
        self.assets = assets
        self.graph_inputs = dict(graph_inputs or {})
        self.reuse = dict(reuse or {})
        self.root = project_root
        self.sleep = sleep
        self.io_managers = io_managers
        self.state = _Run()
        self._asset_cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ run

    def execute(self) -> OpJobResult:
        """Run every step; returns the result (status interrupted after Ctrl-C/SIGTERM)."""
        started = time.perf_counter()
        status = "success"
        try:
            for node in self.job.graph.nodes.values():
                self._run_node(node)
        except KeyboardInterrupt:
            status = "interrupted"
        if status == "success" and any(s.status == "failed" for s in self.state.steps.values()):
            status = "failed"
        return OpJobResult(
            job_name=self.job.name,
            run_id=self.run_id,
            status=status,
            steps=self.state.steps,
            node_keys=self.state.node_keys,
            duration_s=time.perf_counter() - started,
            io=self.io,
            managers=self.state.managers,
            produced=self.state.produced,
            mapping_keys=self.state.mapping_keys,
            graph=self.job.graph,
        )

    def _run_node(self, node: Node) -> None:
        if node.mapped_by is None:
            self.state.node_keys[node.name] = [node.name]
            self._run_step(node, node.name, None)
            return
        source = node.mapped_by
        upstream = self._status_of(source.node)
        if upstream != "success":
            self.state.node_keys[node.name] = [node.name]
            self._skip(node, node.name, f"upstream '{source.node}' {upstream}", source.node)
            return
        keys = self.state.mapping_keys.get((source.node, source.output))
        if keys is None:
            self.state.node_keys[node.name] = [node.name]
            self._skip(
                node, node.name, f"output '{source.output}' of '{source.node}' was not produced",
                source.node,
            )  # fmt: skip
            return
        step_keys = [f"{node.name}[{k}]" for k in keys]
        self.state.node_keys[node.name] = step_keys
        for key, step_key in zip(keys, step_keys, strict=True):
            self._run_step(node, step_key, key)

    def _status_of(self, node_name: str) -> str:
        keys = self.state.node_keys.get(node_name, [node_name])
        statuses = {self.state.steps[k].status for k in keys if k in self.state.steps}
        for status in ("failed", "interrupted", "skipped"):
            if status in statuses:
                return status
        return "success" if statuses else "did not run"

    # ------------------------------------------------------------------ one step

    def _run_step(self, node: Node, step_key: str, mapping_key: str | None) -> None:
        reused = self.reuse.get(step_key)
        if reused is not None and self._reuse(node, step_key, reused):
            return
        op = node.op
        started_at = utcnow()
        t0 = time.perf_counter()
        try:  # loading an input (an asset, a stored output) fails the step, not the run
            inputs = self._inputs(node, step_key, mapping_key)
        except Exception as err:
            text = err.format_message() if isinstance(err, OrchError) else str(err)
            self._fail(node, step_key, 0, t0, [], f"loading the inputs failed: {text}", None, err)
            return
        if inputs is None:
            return
        policy = op.retry_policy or self.job.retry_policy
        errors: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            self.sink.emit(OpStepStarted(self.run_id, step_key, op.name, self.job.name, attempt))
            context = self._context(node, step_key, mapping_key, attempt - 1)
            try:
                try:
                    self._check_inputs(node, step_key, inputs)
                    outputs = self._call(op, context, node, inputs)
                    stored = self._store(node, step_key, outputs, context)
                except KeyboardInterrupt:
                    self._interrupted(node, step_key, attempt, t0, errors)
                    raise
            except _StepError as err:
                self._fail(node, step_key, attempt, t0, errors, str(err), None)
                return
            except Exception as err:
                text, path = self._describe_error(err, op)
                if policy is not None and attempt <= policy.max_retries and policy.retries(err):
                    errors.append(text)
                    delay = policy.delay_before(attempt)
                    self.sink.emit(
                        OpStepRetried(self.run_id, step_key, op.name, self.job.name, attempt,
                                      text, delay)
                    )  # fmt: skip
                    if delay:
                        try:
                            self.sleep(delay)
                        except KeyboardInterrupt:
                            self._interrupted(node, step_key, attempt, t0, errors)
                            raise
                    continue
                self._fail(node, step_key, attempt, t0, errors, text, path, err)
                return
            duration = time.perf_counter() - t0
            metadata = {k: v for out in context.output_metadata.values() for k, v in out.items()}
            self.state.steps[step_key] = StepResult(
                step_key, node.name, "success", attempt, duration, outputs=stored,
                attempt_errors=errors,
            )  # fmt: skip
            self.sink.emit(
                OpStepSucceeded(
                    self.run_id, step_key, op.name, self.job.name, duration, started_at,
                    attempt, stored, metadata, errors,
                )
            )  # fmt: skip
            self._step_hooks(node, step_key, mapping_key, "success")
            return

    def _step_hooks(
        self,
        node: Node,
        step_key: str,
        mapping_key: str | None,
        status: str,
        error: BaseException | None = None,
        text: str = "",
    ) -> None:
        """The op's then the job's success or failure hooks (their failures change nothing)."""
        hooks = [*node.op.hooks, *self.job.hooks]
        if not hooks:
            return
        sink, run_id = self.sink, self.run_id

        def emit(level: str, message: str) -> None:
            sink.emit(LogEmitted(run_id, step_key, level, message))

        context = HookContext(
            step_key, kind="op", run_id=run_id, status=status, job=self.job.name, error=error,
            error_message=text, partition=mapping_key, emit=emit,
        )  # fmt: skip
        self.hook_outcomes.extend(run_step_hooks(hooks, context, sink))

    def _context(self, node: Node, step_key: str, mapping_key: str | None, retry: int) -> OpContext:
        sink, run_id = self.sink, self.run_id

        def emit(level: str, text: str) -> None:
            sink.emit(LogEmitted(run_id, step_key, level, text))

        return OpContext(
            node.name, job=self.job.name, run_id=run_id, step_key=step_key,
            op_config=self.configs.get(node.name), resources=self.resources.get(node.name),
            retry_number=retry, mapping_key=mapping_key, tags=self.tags, emit=emit,
            project_dir=self.root,
        )  # fmt: skip

    def _call(
        self, op: OpDefinition, context: OpContext, node: Node, inputs: dict[str, Any]
    ) -> list[tuple[str, Any, str | None, Mapping[str, Any] | None]]:
        kwargs = dict(inputs)
        if op.context_param:
            kwargs[op.context_param] = context
        if op.config_param:
            kwargs[op.config_param] = context.op_config
        if op.resource_params:
            if self.pool is not None:  # a resource that fails to set up fails this step
                context.resources.update(
                    {k: self.pool.open(k, v) for k, v in context.resources.items()}
                )
            kwargs.update(context.resources)
        result = op.fn(**kwargs)
        if op.is_generator or inspect.isgenerator(result):
            items = list(result)  # the generator runs here: its errors are the op's
            return [self._yielded(op, item) for item in items]
        return self._returned(op, result)

    def _yielded(
        self, op: OpDefinition, item: Any
    ) -> tuple[str, Any, str | None, Mapping[str, Any] | None]:
        if isinstance(item, DynamicOutput):
            return (item.output_name, item.value, item.mapping_key, item.metadata)
        if isinstance(item, Output):
            return (item.output_name, item.value, None, item.metadata)
        raise _StepError(
            f"op '{op.name}' yielded a {type(item).__name__}; a generator op yields "
            "orch.Output(value, 'name') or orch.DynamicOutput(value, mapping_key)"
        )

    def _returned(
        self, op: OpDefinition, result: Any
    ) -> list[tuple[str, Any, str | None, Mapping[str, Any] | None]]:
        if not op.outs:
            if result is not None:
                raise _StepError(
                    f"op '{op.name}' declares no output but returned a {type(result).__name__}"
                )
            return []
        if op.single_result:
            if isinstance(result, Output):
                return [(result.output_name, result.value, None, result.metadata)]
            if op.outs[RESULT].dynamic:
                if not isinstance(result, (list, tuple)):
                    raise _StepError(
                        f"op '{op.name}' has a dynamic output: yield (or return a list of) "
                        "orch.DynamicOutput values"
                    )
                return [self._yielded(op, item) for item in result]
            return [(RESULT, result, None, None)]
        if isinstance(result, Output):
            result = (result,)
        names = list(op.outs)
        if not isinstance(result, tuple):
            raise _StepError(
                f"op '{op.name}' has outputs {', '.join(names)}: return a tuple in that order "
                f"(or yield orch.Output values), not a {type(result).__name__}"
            )
        if all(isinstance(r, Output) for r in result):
            return [(r.output_name, r.value, None, r.metadata) for r in result]
        if len(result) != len(names):
            raise _StepError(
                f"op '{op.name}' returned {len(result)} values for {len(names)} outputs "
                f"({', '.join(names)})"
            )
        return [(n, v, None, None) for n, v in zip(names, result, strict=True)]

    # ------------------------------------------------------------------ inputs

    def _inputs(self, node: Node, step_key: str, mapping_key: str | None) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        for iname, source in node.inputs.items():
            kind = source.kind
            if kind == "asset":
                values[iname] = self._asset(source.node, node.op.ins[iname].type)
                continue
            if kind == "input":
                values[iname] = self.graph_inputs[source.node]
                continue
            if kind == "collect":
                collected = self._collect(node, step_key, source)
                if collected is None:
                    return None
                values[iname] = collected
                continue
            upstream_key = source.node
            out_name = source.output
            mapped_by = node.mapped_by
            if mapped_by is not None and mapping_key is not None:
                if source == mapped_by:  # the dynamic value itself
                    out_name = f"{source.output}[{mapping_key}]"
                elif self.job.graph.nodes[source.node].mapped_by == mapped_by:
                    upstream_key = f"{source.node}[{mapping_key}]"
            ctx = self.state.produced.get((upstream_key, out_name))
            if ctx is None:
                self._skip_for(node, step_key, upstream_key, source)
                return None
            values[iname] = self._load(ctx, iname, node, step_key)
        return values

    def _skip_for(self, node: Node, step_key: str, upstream_key: str, source: Source) -> None:
        up = self.state.steps.get(upstream_key)
        if up is None or up.status != "success":
            status = up.status if up is not None else "did not run"
            self._skip(node, step_key, f"upstream '{upstream_key}' {status}", upstream_key)
        else:
            self._skip(
                node, step_key,
                f"output '{source.output}' of '{upstream_key}' was not produced", upstream_key,
            )  # fmt: skip

    def _collect(self, node: Node, step_key: str, source: Source) -> list[Any] | None:
        upstream = self.job.graph.nodes[source.node]
        status = self._status_of(source.node)
        if status != "success":
            self._skip(node, step_key, f"upstream '{source.node}' {status}", source.node)
            return None
        if upstream.mapped_by is None:  # collecting a dynamic output directly
            keys = self.state.mapping_keys.get((source.node, source.output), [])
            pairs = [(source.node, f"{source.output}[{k}]") for k in keys]
        else:
            pairs = [(k, source.output) for k in self.state.node_keys.get(source.node, [])]
        out = []
        for pair in pairs:
            ctx = self.state.produced.get(pair)
            if ctx is not None:  # an optional output a branch skipped is left out
                out.append(self._load(ctx, pair[1], node, step_key))
        return out

    def _manager(self, name: str | None) -> IOManager:
        if name is None or self.io_managers is None:
            return self.io
        return self.io_managers(name)

    def _load(self, upstream: OutputContext, name: str, node: Node, step_key: str) -> Any:
        io = self.state.managers.get((upstream.key[1], upstream.key[2]), self.io)
        return io.load_input(
            InputContext(name, upstream, op=step_key, run_id=self.run_id,
                         annotation=node.op.ins[name].type if name in node.op.ins else None)
        )  # fmt: skip

    def _asset(self, asset: str, annotation: Any) -> Any:
        if asset not in self._asset_cache:
            if self.assets is None:
                raise _StepError(f"the job reads asset '{asset}' but no asset storage is given")
            self._asset_cache[asset] = self.assets(asset, annotation)
        return self._asset_cache[asset]

    def _check_inputs(self, node: Node, step_key: str, inputs: Mapping[str, Any]) -> None:
        for name, value in inputs.items():
            expected = node.op.ins[name].type
            if expected is None:
                continue
            problem = check_value(expected, value)
            if problem is not None:
                raise _StepError(
                    f"job '{self.job.name}', op '{step_key}': input '{name}' expected "
                    f"{describe_type(expected)}, got {problem}"
                )

    # ------------------------------------------------------------------ outputs

    def _store(
        self,
        node: Node,
        step_key: str,
        outputs: list[tuple[str, Any, str | None, Mapping[str, Any] | None]],
        context: OpContext,
    ) -> dict[str, dict[str, Any]]:
        op = node.op
        seen: dict[str, list[str]] = {}
        for name, value, key, _ in outputs:
            spec = op.outs.get(name)
            if spec is None:
                raise _StepError(
                    f"op '{step_key}' produced output '{name}', which it does not declare "
                    f"(its outputs: {', '.join(op.outs) or 'none'})"
                )
            if spec.dynamic != (key is not None):
                want = "orch.DynamicOutput" if spec.dynamic else "orch.Output or a value"
                raise _StepError(f"op '{step_key}': output '{name}' takes {want}")
            if key is not None:
                if not _KEY.match(key):
                    raise _StepError(
                        f"op '{step_key}': mapping key {key!r} of output '{name}' may only "
                        "hold letters, digits and _"
                    )
                if key in seen.setdefault(name, []):
                    raise _StepError(f"op '{step_key}': mapping key {key!r} is yielded twice")
                seen[name].append(key)
            elif name in seen:
                raise _StepError(f"op '{step_key}' produced output '{name}' twice")
            else:
                seen[name] = []
            if spec.type is not None:
                problem = check_value(spec.type, value)
                if problem is not None:
                    raise _StepError(
                        f"job '{self.job.name}', op '{step_key}': output '{name}' expected "
                        f"{describe_type(spec.type)}, got {problem}"
                    )
        for name, spec in op.outs.items():
            if spec.is_required and name not in seen and not spec.dynamic:
                raise _StepError(
                    f"op '{step_key}' did not produce its required output '{name}'",
                )
        stored: dict[str, dict[str, Any]] = {}
        for name, value, key, metadata in outputs:
            out_name = name if key is None else f"{name}[{key}]"
            ctx = OutputContext(
                (self.run_id, step_key, out_name), out_name, op=step_key, run_id=self.run_id,
                annotation=op.outs[name].type, config=dict(op.outs[name].io_manager_config),
            )  # fmt: skip
            io = self._manager(op.outs[name].io_manager)
            io.handle_output(ctx, value)
            self.state.produced[(step_key, out_name)] = ctx
            if io is not self.io:
                self.state.managers[(step_key, out_name)] = io
            info = stored.setdefault(name, _describe(value) if key is None else {"type": "dynamic"})
            if op.outs[name].io_manager:
                info["io_manager"] = op.outs[name].io_manager
            if key is None and "bytes" in ctx.metadata:
                info["bytes"] = ctx.metadata["bytes"]
            extra = {**context.output_metadata.get(name, {}), **(metadata or {})}
            if extra:
                info.setdefault("metadata", {}).update(_jsonable(extra))
        for name, keys in seen.items():
            if op.outs[name].dynamic:
                self.state.mapping_keys[(step_key, name)] = keys
                stored.setdefault(name, {"type": "dynamic"})["mapping_keys"] = keys
        return stored

    # ------------------------------------------------------------------ outcomes

    def _reuse(self, node: Node, step_key: str, reused: ReusedStep) -> bool:
        contexts: dict[tuple[str, str], OutputContext] = {}
        managers: dict[tuple[str, str], IOManager] = {}
        for name, info in reused.outputs.items():
            keys = info.get("mapping_keys")
            io = self._manager(info.get("io_manager"))
            names = [f"{name}[{k}]" for k in keys] if keys is not None else [name]
            for out_name in names:
                spec = node.op.outs.get(name)
                ctx = OutputContext(
                    (reused.run_id, step_key, out_name), out_name, op=step_key,
                    run_id=reused.run_id,
                    config=dict(spec.io_manager_config) if spec is not None else {},
                )  # fmt: skip
                if not io.has_output(ctx):
                    return False  # not stored any more: run the step again
                contexts[(step_key, out_name)] = ctx
                if io is not self.io:
                    managers[(step_key, out_name)] = io
            if keys is not None:
                self.state.mapping_keys[(step_key, name)] = list(keys)
        self.state.produced.update(contexts)
        self.state.managers.update(managers)
        self.state.steps[step_key] = StepResult(
            step_key, node.name, "success", 0, 0.0, outputs=reused.outputs,
            reused_from=reused.run_id,
        )  # fmt: skip
        self.sink.emit(
            OpStepSucceeded(
                self.run_id, step_key, node.op.name, self.job.name, 0.0, utcnow(), 0,
                reused.outputs, reused_from=reused.run_id,
            )
        )  # fmt: skip
        return True

    def _skip(self, node: Node, step_key: str, reason: str, cause: str | None) -> None:
        self.state.steps[step_key] = StepResult(step_key, node.name, "skipped", 0, 0.0, reason)
        self.sink.emit(OpStepSkipped(self.run_id, step_key, node.op.name, self.job.name, reason,
                                     cause))  # fmt: skip

    def _fail(
        self,
        node: Node,
        step_key: str,
        attempts: int,
        t0: float,
        errors: list[str],
        text: str,
        path: str | None,
        exc: BaseException | None = None,
        *,
        status: str = "failed",
    ) -> None:
        duration = time.perf_counter() - t0
        self.state.steps[step_key] = StepResult(
            step_key, node.name, status, attempts, duration, text, path=path,
            attempt_errors=errors, exception=exc,
        )  # fmt: skip
        self.sink.emit(
            OpStepFailed(
                self.run_id, step_key, node.op.name, self.job.name, text, duration, attempts,
                path, errors, status,
            )
        )  # fmt: skip
        if status == "failed":
            self._step_hooks(node, step_key, None, "failure", exc, text)

    def _interrupted(
        self, node: Node, step_key: str, attempt: int, t0: float, errors: list[str]
    ) -> None:
        self._fail(
            node, step_key, attempt, t0, errors, "interrupted (Ctrl-C or SIGTERM)", None,
            status="interrupted",
        )  # fmt: skip

    def _describe_error(self, err: BaseException, op: OpDefinition) -> tuple[str, str | None]:
        """``Type: message`` and the file:line where it was raised (the user's code)."""
        text = f"{type(err).__name__}: {err}"
        frames = traceback.extract_tb(err.__traceback__)
        where = None
        for frame in reversed(frames):
            name = frame.filename
            if name.startswith(_ORCH_DIR) or name.startswith(_LIB_DIRS) or name.startswith("<"):
                continue
            where = (name, frame.lineno)
            break
        if where is None:
            op_file = op.location.path
            for frame in reversed(frames):
                if frame.filename == op_file:
                    where = (frame.filename, frame.lineno)
                    break
        if where is None:
            return text, None
        return text, f"{self._relative(where[0])}:{where[1]}"

    def _relative(self, path: str) -> str:
        if self.root is not None:
            try:
                return (
                    os.path.relpath(path, self.root)
                    if Path(path).is_relative_to(self.root)
                    else path
                )
            except ValueError:
                return path
        return path


def _describe(value: Any) -> dict[str, Any]:
    """Type, size and a short preview of an output (for the run's record)."""
    cls = type(value)
    info: dict[str, Any] = {
        "type": f"{cls.__module__}.{cls.__qualname__}".removeprefix("builtins.")
    }
    height = getattr(value, "height", None)
    if isinstance(height, int):
        info["size"] = f"{height} rows x {getattr(value, 'width', '?')} columns"
    elif hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
        try:
            info["size"] = f"{len(value)} items"
        except TypeError:
            pass
    elif isinstance(value, (str, bytes)):
        info["size"] = f"{len(value)} chars" if isinstance(value, str) else f"{len(value)} bytes"
    try:
        info["preview"] = _REPR.repr(value)
    except Exception:  # a user's __repr__ that raises: no preview
        info["preview"] = f"<{cls.__name__}>"
    return info


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        out[str(k)] = v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
    return out


def step_order(job: JobDefinition) -> Iterable[str]:
    """The node names in execution order."""
    return list(job.graph.nodes)


__all__ = ["OpFailedError", "OpRun", "ReusedStep", "RetryPolicy", "TypeCheckError", "step_order"]
