"""Running op jobs: :func:`execute_in_process` (tests, notebooks) and the engine behind
``orch job run`` (:mod:`orch.run.ops.workflow`).

``execute_in_process`` keeps outputs in memory; ``orch job run`` stores them with the ``objects``
IO manager in the run's folder, so ``--from-failure`` reuses them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from orch.errors import ConfigError, OrchError
from orch.events import EventList
from orch.ops import JobDefinition
from orch.run.io import MemoryIOManager
from orch.run.ops.engine import AssetLoader, OpFailedError, OpRun, ReusedStep, TypeCheckError
from orch.run.ops.result import OpJobResult, StepResult
from orch.run.ops.setup import node_configs, node_resources
from orch.run.resources import ResourcePool
from orch.storage import IOManager

__all__ = [
    "OpFailedError", "OpJobResult", "OpRun", "ReusedStep", "StepResult", "TypeCheckError",
    "execute_in_process", "memory_io", "run_graph_asset",
]  # fmt: skip


def memory_io() -> IOManager:
    """The IO manager of ``execute_in_process``: values in memory, for this process only."""
    return MemoryIOManager()


def asset_inputs(job: JobDefinition) -> list[str]:
    """The assets the job's ops read (``In(asset=...)``), sorted."""
    nodes = job.graph.nodes.values()
    return sorted({s.node for n in nodes for s in n.inputs.values() if s.kind == "asset"})


def _asset_values(assets: Mapping[str, Any] | None) -> AssetLoader:
    values = dict(assets or {})

    def load(asset: str, annotation: Any) -> Any:
        if asset not in values:
            raise OrchError(
                f"the job reads asset '{asset}', which execute_in_process was not given",
                hint=f"Pass assets={{'{asset}': value}}",
            )
        return values[asset]

    return load


def execute_in_process(
    job: JobDefinition,
    *,
    run_config: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    assets: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = True,
    run_id: str | None = None,
    graph_inputs: Mapping[str, Any] | None = None,
) -> OpJobResult:
    """Run ``job`` in this process (see :meth:`orch.JobDefinition.execute_in_process`).

    Raises:
        ConfigError: a missing or invalid op config, a missing resource (before any op runs).
        OpFailedError: a step failed and ``raise_on_error`` is set.
        KeyboardInterrupt: the run was interrupted (its steps so far are recorded).
    """
    configs = node_configs(job, run_config)
    per_node = node_resources(job, resources)
    wanted = asset_inputs(job)
    missing = sorted(set(wanted) - set(assets or {}))
    if missing:
        raise ConfigError(
            f"job '{job.name}' reads asset(s) {', '.join(missing)}, which execute_in_process "
            "was not given",
            hint=f"Pass assets={{'{missing[0]}': value, ...}}",
        )
    events = EventList()
    memory = memory_io()
    given = {k: v for k, v in (resources or {}).items() if isinstance(v, IOManager)}
    run_id = run_id or uuid.uuid4().hex
    pool = ResourcePool(sink=events, run_id=run_id)
    run = OpRun(
        job,
        run_id=run_id,
        sink=events,
        io=memory,
        io_managers=lambda name: given.get(name, memory),  # in process: memory unless given
        configs=configs,
        resources=per_node,
        tags={**job.tags, **dict(tags or {})},
        assets=_asset_values(assets),
        graph_inputs=graph_inputs,
        pool=pool,
    )
    try:
        result = run.execute()
    finally:  # the resources that set up are torn down, also after Ctrl-C
        pool.close()
    result.events = events.events
    if result.status == "interrupted":
        raise KeyboardInterrupt
    if raise_on_error and result.status == "failed":
        raise failure_of(result)
    return result


def failure_of(result: OpJobResult) -> OpFailedError:
    """The first failed step of ``result`` as an error naming the job, the op and where."""
    step = next(s for s in result.steps.values() if s.status == "failed")
    where = f" at {step.path}" if step.path else ""
    error = OpFailedError(f"job '{result.job_name}': op '{step.key}' failed{where}: {step.error}")
    error.__cause__ = step.exception
    return error


def run_graph_asset(job: JobDefinition, inputs: Mapping[str, Any]) -> Any:
    """Compute a ``@graph_asset``: its graph in process, fed the upstream assets; its output."""
    result = execute_in_process(job, graph_inputs=inputs, raise_on_error=False)
    if result.status == "failed":  # the op's own exception: the asset reports it like its own
        step = next(s for s in result.steps.values() if s.status == "failed")
        if step.exception is not None:
            raise step.exception
        raise failure_of(result)
    (source,) = job.graph.outputs.values()
    return result.output_for(source.node, source.output)
