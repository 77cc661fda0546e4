"""``orch job run`` for an op job: the same lock, events, JSON log and state store as a build.

validate config and resources (exit 2 before anything runs) → open the state → take the target's
run lock → record the run → execute the steps (outputs stored with the ``objects`` IO manager
under ``.orch/storage/<target>/objects/<run_id>/<step>/<output>``) → record its end. With
``from_failure``, the steps that succeeded in that run are not run again: their stored outputs
are loaded instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from orch.adapters import get_adapter
from orch.adapters.base import Adapter
from orch.assets import Resource, build_resource, input_type_of
from orch.compiler import compile_or_reuse
from orch.config import RunOptions
from orch.errors import ConfigError, Location, OrchError, UnsupportedFeatureError, suggestion
from orch.events import EventSink, FanOut, RunFinished, RunStarted
from orch.load.project import Project
from orch.ops import JobDefinition
from orch.run.io import IOManagers
from orch.run.ops.engine import AssetLoader, OpRun, ReusedStep
from orch.run.ops.result import OpJobResult
from orch.run.ops.setup import merge_config, node_configs, node_resources
from orch.run.provenance import git_state, op_code_lookup, provenance_excludes
from orch.run.python import PythonRuntime, load_input
from orch.run.reporting import JsonLinesReporter
from orch.run.resources import ResourcePool
from orch.run.workflow import interrupt_on_sigterm, open_state
from orch.state import LockOwner, StateRecorder, StateStore

COMMAND = "job"


def run_op_job(
    project: Project,
    job: JobDefinition,
    *,
    options: RunOptions,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    from_failure: str | None = None,
    sinks: Iterable[EventSink] = (),
    run_id: str | None = None,
    resources: Mapping[str, Any] | None = None,
) -> OpJobResult:
    """Run op job ``job`` of ``project`` and record it; returns the result.

    Raises:
        ConfigError: invalid config, a missing resource, an unknown ``from_failure`` run.
        LockHeldError: another run holds the target's lock.
    """
    run_id = run_id or uuid.uuid4().hex
    with open_state(project.root, target=project.target) as state:
        reuse: dict[str, ReusedStep] = {}
        if from_failure is not None:
            reuse, prior_args = _reusable(state, job, from_failure)
            if run_config is None:
                run_config = prior_args.get("config") or {}
        configs = node_configs(job, run_config, root=project.root)
        per_node = node_resources(job, resources, _resource_factory(project), root=project.root)
        registry = IOManagers.for_project(
            project.root, project.target_name, project.config.resources,
            project_file=project.project_file, overrides=resources,
        )  # fmt: skip
        io = registry.get(job.io_manager)
        for (
            node
        ) in job.graph.nodes.values():  # an unknown IO manager stops the run before it starts
            for out in node.op.outs.values():
                if out.io_manager:
                    registry.get(out.io_manager)
        all_tags = {**job.tags, **dict(tags or {})}
        with state.acquire_lock(project.target_name, LockOwner(COMMAND, run_id)):
            with (
                _assets(project, options, job) as assets,
                _events(project, state, sinks, job) as fan,
            ):
                fan.emit(
                    RunStarted(
                        run_id, COMMAND, project.target_name, job.name, len(job.graph.nodes),
                        pid=os.getpid(),
                        args={"job": job.name, "kind": "op", "config": dict(run_config or {}),
                              "tags": all_tags, "from_failure": from_failure},
                    )
                )  # fmt: skip
                pool = ResourcePool(sink=fan, run_id=run_id)
                run = OpRun(
                    job, run_id=run_id, sink=fan, io=io, configs=configs, resources=per_node,
                    tags=all_tags, assets=assets, reuse=reuse, project_root=project.root,
                    io_managers=registry.get, pool=pool,
                )  # fmt: skip
                with interrupt_on_sigterm():
                    try:
                        result = run.execute()
                    finally:  # torn down on success, failure, Ctrl-C and SIGTERM
                        pool.close()
                fan.emit(RunFinished(run_id, result.status, result.duration_s, result.counts()))
    return result


def _reusable(
    state: StateStore, job: JobDefinition, run_id: str
) -> tuple[dict[str, ReusedStep], dict[str, Any]]:
    """The successful steps of an earlier run of ``job`` (and that run's recorded options)."""
    prior = state.get_run(run_id)
    if prior is None:
        recent = [r.run_id for r in state.recent_runs(50) if r.command == COMMAND]
        raise ConfigError(
            f"--from-failure: no run '{run_id}' in the state",
            hint=suggestion(run_id, recent) or "List the runs with 'orch runs'",
        )
    if prior.command != COMMAND or prior.args.get("job") != job.name:
        what = prior.args.get("job") or prior.command
        raise ConfigError(
            f"--from-failure: run '{run_id}' is a run of '{what}', not of job '{job.name}'",
            hint=f"Pass the id of a run of '{job.name}' (orch runs)",
        )
    if prior.status == "running":
        raise ConfigError(
            f"--from-failure: run '{run_id}' is still running",
            hint="Wait for it to finish, or stop it first",
        )
    reuse = {}
    for step in state.run_op_steps(run_id):
        if step.status == "success":
            reuse[step.step_key] = ReusedStep(step.reused_from or run_id, step.outputs)
    return reuse, dict(prior.args)


def _resource_factory(project: Project) -> Any:
    def build(name: str, cls: type[Resource], op: str) -> Resource:
        return build_resource(
            cls, name, project.config.resources, project.target_name,
            lambda _path: Location(project.project_file),
        )  # fmt: skip

    return build


@contextmanager
def _events(
    project: Project, state: StateStore, sinks: Iterable[EventSink], job: JobDefinition
) -> Iterator[FanOut]:
    git = git_state(project.root, exclude=provenance_excludes(project))
    ops = op_code_lookup(job, project.root)
    fan = FanOut([StateRecorder(state, git=git, op_code_of=ops), *sinks])
    log_dir = project.root / project.config.log_path
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "orch.jsonl").open("a", encoding="utf-8") as log_file:
        fan.add(JsonLinesReporter(log_file))
        yield fan


@contextmanager
def _assets(project: Project, options: RunOptions, job: JobDefinition) -> Iterator[AssetLoader]:
    """Reads the assets the job's ops take (``In(asset=...)``) from the warehouse."""
    wanted = sorted(
        {s.node for n in job.graph.nodes.values() for s in n.inputs.values() if s.kind == "asset"}
    )
    if not wanted:
        yield _no_assets
        return
    manifest = compile_or_reuse(options, set(wanted)).manifest
    for name in wanted:
        if name not in manifest.nodes:
            raise ConfigError(
                f"job '{job.name}' reads unknown asset '{name}'",
                location=Location(job.location.path, job.location.line),
                hint=suggestion(name, manifest.nodes) or "Name a model, seed or source",
            )
    adapter = get_adapter(project.target, project.root)
    adapter.open()
    try:
        yield _loader(adapter, manifest, project)
    finally:
        adapter.close()


def _no_assets(asset: str, annotation: Any) -> Any:
    raise OrchError(f"asset '{asset}' is not read by this job")


def _loader(adapter: Adapter, manifest: Any, project: Project) -> AssetLoader:
    """Loads an asset through its own storage (its IO manager, or the warehouse)."""
    runtime = PythonRuntime.from_project(project)

    def load(asset: str, annotation: Any) -> Any:
        node = manifest.nodes[asset]
        if node.relation is None and node.materialized != "external":
            raise UnsupportedFeatureError(
                f"asset '{asset}' is not stored anywhere (it is {node.resource_type} "
                f"'{node.config.materialized}'), so an op cannot read it",
                hint="Ops read assets that are stored: tables, views, files, objects",
            )
        kind = input_type_of(annotation)
        return load_input(
            adapter, manifest, node, node, kind, None, runtime=runtime, param=asset,
            annotation=annotation,
        )  # fmt: skip

    return load


__all__ = ["run_op_job", "merge_config"]
