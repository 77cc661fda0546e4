"""What an op job's run returns: step statuses, attempts, outputs and events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orch.errors import OrchError, suggestion
from orch.events import Event
from orch.ops import RESULT, GraphDefinition
from orch.storage import InputContext, IOManager, OutputContext


@dataclass
class StepResult:
    """One op step of a run: status (success, failed, skipped, interrupted), attempts, time."""

    key: str
    node: str
    status: str
    attempts: int
    duration_s: float
    error: str | None = None  # the failure, or why the step was skipped
    path: str | None = None  # file:line where the error was raised
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempt_errors: list[str] = field(default_factory=list)
    reused_from: str | None = None
    exception: BaseException | None = None


@dataclass
class OpJobResult:
    """The result of a run of an op job (``execute_in_process``, ``orch job run``)."""

    job_name: str
    run_id: str
    status: str  # success, failed, interrupted
    steps: dict[str, StepResult]
    node_keys: dict[str, list[str]]
    duration_s: float
    io: IOManager
    managers: dict[tuple[str, str], IOManager]
    produced: dict[tuple[str, str], OutputContext]
    mapping_keys: dict[tuple[str, str], list[str]]
    graph: GraphDefinition
    events: list[Event] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """True when every step that ran succeeded."""
        return self.status == "success"

    @property
    def step_statuses(self) -> dict[str, str]:
        """Status per step key (``train[fold_1]`` for a mapped step)."""
        return {k: s.status for k, s in self.steps.items()}

    @property
    def failures(self) -> dict[str, str]:
        """The error of each failed step."""
        return {k: s.error or "" for k, s in self.steps.items() if s.status == "failed"}

    @property
    def attempts(self) -> dict[str, int]:
        """How many attempts each step took (0 for a skipped or reused step)."""
        return {k: s.attempts for k, s in self.steps.items()}

    def counts(self) -> dict[str, int]:
        """Steps per status."""
        out: dict[str, int] = {}
        for s in self.steps.values():
            out[s.status] = out.get(s.status, 0) + 1
        return out

    def events_of(self, kind: type[Event]) -> list[Any]:
        """The run's events of one class."""
        return [e for e in self.events if isinstance(e, kind)]

    def output_for(self, node: str, output: str = RESULT) -> Any:
        """The value of an op's output; for a mapped op or a dynamic output, ``{key: value}``.

        Raises:
            OrchError: the op is not in the job, or it did not produce that output.
        """
        if node not in self.graph.nodes:
            raise OrchError(
                f"job '{self.job_name}' has no op '{node}'",
                hint=suggestion(node, self.graph.nodes) or None,
            )
        definition = self.graph.nodes[node].op
        if output not in definition.outs:
            raise OrchError(
                f"op '{node}' has no output '{output}'",
                hint=f"Its outputs: {', '.join(definition.outs) or 'none'}",
            )
        keys = self.node_keys.get(node, [node])
        if self.graph.nodes[node].mapped_by is not None:
            return {
                k[len(node) + 1 : -1]: self._value(k, output) for k in keys if self._has(k, output)
            }
        if definition.outs[output].dynamic:
            mapping = self.mapping_keys.get((node, output), [])
            return {m: self._value(node, f"{output}[{m}]") for m in mapping}
        return self._value(node, output)

    def _has(self, step_key: str, output: str) -> bool:
        return (step_key, output) in self.produced

    def _value(self, step_key: str, output: str) -> Any:
        ctx = self.produced.get((step_key, output))
        if ctx is None:
            status = self.steps[step_key].status if step_key in self.steps else "did not run"
            raise OrchError(
                f"op '{step_key}' did not produce output '{output}' (step {status})",
            )
        io = self.managers.get((step_key, output), self.io)
        return io.load_input(InputContext(output, ctx, run_id=self.run_id))

    def outputs_summary(self) -> Mapping[str, dict[str, Any]]:
        """What each successful step stored, by step key."""
        return {k: s.outputs for k, s in self.steps.items() if s.status == "success"}
