"""The process a launch from ``orch ui`` runs in: ``python -m orch.ui.worker SPEC``.

SPEC is a JSON object (see :class:`orch.ui.runs.LaunchSpec`). The worker calls the same library
workflow as the command line — :func:`orch.run.workflow.run_command` for a materialization,
:func:`orch.automation.jobs.run_job` for a job, :func:`orch.run.retry.run_retry` for a
re-execution — under the target's run lock, and writes one JSON object per event on stdout
(what ``--log-format json`` writes). A run in its own process can be cancelled cleanly: SIGTERM
interrupts the running statements and the run is recorded as ``interrupted``. A user error
(a held lock, a bad selection) is one ``{"event": "LaunchFailed"}`` line and exit code 2.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from orch import redaction
from orch.automation.jobs import run_job
from orch.automation.schedules import load_automation
from orch.config import RunOptions
from orch.docs.catalog import refresh
from orch.errors import OrchError, SelectionError
from orch.load.project import load_project
from orch.ops import JobDefinition
from orch.run.backfill import plan_backfill, run_backfill
from orch.run.ops.workflow import run_op_job
from orch.run.reporting import JsonLinesReporter
from orch.run.retry import plan_retry, run_retry
from orch.run.workflow import run_command


def options_from(spec: dict[str, Any]) -> RunOptions:
    """RunOptions of a launch spec."""
    profiles = spec.get("profiles_dir")
    return RunOptions(
        project_dir=Path(spec["project_dir"]),
        profiles_dir=Path(profiles) if profiles else None,
        target=spec.get("target"),
        vars=dict(spec.get("vars") or {}),
        select=tuple(spec.get("select") or ()),
        exclude=tuple(spec.get("exclude") or ()),
        full_refresh=bool(spec.get("full_refresh", False)),
        partition=spec.get("partition"),
        start=spec.get("start"),
        end=spec.get("end"),
    )


def launch(spec: dict[str, Any]) -> int:
    """Run what ``spec`` asks for, streaming events as JSON lines on stdout; its exit code."""
    sink = JsonLinesReporter()
    options = options_from(spec)
    run_id = spec["run_id"]
    kind = spec["kind"]
    if spec.get("workspace"):
        return launch_across(spec, options, sink)
    if kind == "build":
        return run_command(options, "build", sinks=[sink], run_id=run_id).exit_code
    if kind == "backfill":  # the same plan (resume point, confirm limit) as `orch backfill`
        plan = plan_backfill(options)
        confirmed = bool(spec.get("confirm", False))
        return run_backfill(plan, sinks=[sink], confirmed=confirmed, run_id=run_id).exit_code
    if kind == "job":
        project = load_project(options)
        automation = load_automation(project)
        job = automation.job(spec["job"])
        if isinstance(job, JobDefinition):  # an op job: the page's vars are its run config
            ops = run_op_job(
                project, job, options=options, run_config=dict(options.vars) or None,
                sinks=[sink], run_id=run_id,
            )  # fmt: skip
            return {"success": 0, "failed": 1, "interrupted": 130}.get(ops.status, 1)
        return run_job(options, spec["job"], job, run_id=run_id, sinks=[sink]).exit_code
    if kind == "retry":
        retry = plan_retry(options)
        if retry.last_run.run_id != spec.get("retry_of"):
            raise SelectionError(
                f"run {spec.get('retry_of')} is not the last build on the target "
                f"(that is {retry.last_run.run_id}): only the last run can be re-executed "
                "from failure",
                hint="Re-run its failed steps one by one, or build the selection again",
            )
        if not retry.steps:
            raise SelectionError(
                f"nothing to re-execute: run {retry.last_run.run_id} has no failed or skipped step"
            )
        retried = run_retry(retry, sinks=[sink], run_id=run_id)
        return 0 if retried is None else retried.exit_code
    raise SelectionError(f"unknown launch kind '{kind}'")


def launch_across(spec: dict[str, Any], options: RunOptions, sink: JsonLinesReporter) -> int:
    """A build launched from ``orch ui --workspace``: ``orch build --workspace``'s workflow
    (every member's lock, in member-name order), then each member's column types saved."""
    from orch.docs.catalog import catalog_schemas
    from orch.load.workspace import load_workspace
    from orch.run.workspace import run_workspace

    if spec["kind"] != "build":
        raise SelectionError(
            f"'{spec['kind']}' is not launched across a workspace yet",
            hint="Open 'orch ui --project-dir MEMBER' for a backfill, a job or a re-execution",
        )
    workspace = load_workspace(Path(spec["workspace"]))
    run = run_workspace(
        workspace, options, "build", sinks_for=lambda member: [MemberLines(member, sink)]
    )
    for member, err in run.graph.errors.items():
        sink_line({"event": "LaunchFailed", "run_id": spec.get("run_id"),
                   "error": f"{member} did not load: {err.format_message()}"})  # fmt: skip
    if run.exit_code in (0, 1):
        for member, result in run.graph.compiled.items():
            schemas = catalog_schemas(result.manifest)
            if schemas and any(m == member for m, _ in run.results):
                thread = threading.Thread(
                    target=refresh, args=(result.project, schemas), daemon=True
                )
                thread.start()
                thread.join(timeout=CATALOG_TIMEOUT_S)
    return run.exit_code


class MemberLines:
    """A member's events as JSON lines under the workspace's names (``member.asset``), so the
    run page's steps link to the workspace's asset pages."""

    KEYS = ("step_id", "asset")

    def __init__(self, member: str, sink: JsonLinesReporter) -> None:
        self.member = member
        self.sink = sink

    def emit(self, event: Any) -> None:
        """Write the event with its step and asset named ``member.x``."""
        line = event.to_dict()
        for key in self.KEYS:
            value = line.get(key)
            if isinstance(value, str) and value and not value.startswith(f"{self.member}."):
                if "." not in value.split("[", 1)[0] or key == "step_id":
                    line[key] = f"{self.member}.{value}"
        line["member"] = self.member
        sink_line(line)


def sink_line(line: dict[str, Any]) -> None:
    """One JSON line on stdout (scrubbed of secrets)."""
    sys.stdout.write(redaction.scrub(json.dumps(line)) + "\n")
    sys.stdout.flush()


CATALOG_TIMEOUT_S = 15.0


def refresh_catalog(spec: dict[str, Any]) -> None:
    """Save the column types of the project's schemas (target/catalog.json) while this run still
    owns the warehouse, for the page (orch.docs.catalog); best-effort."""
    schemas = [(s[0], s[1]) for s in spec.get("catalog_schemas") or ()]
    if not schemas:
        return
    # in a daemon thread with a time limit: a warehouse still unwinding an interrupted statement
    # must not keep the worker (and so the run) from ending
    project = load_project(options_from(spec))
    thread = threading.Thread(target=refresh, args=(project, schemas), daemon=True)
    thread.start()
    thread.join(timeout=CATALOG_TIMEOUT_S)


def main(argv: list[str]) -> int:
    """Entry point: the exit code of the run (0, 1 failed, 130 interrupted, 2 user error)."""
    spec = json.loads(argv[0])
    try:
        result = launch(spec)
        if result in (0, 1):  # not after an interrupt: its statements may still be unwinding
            refresh_catalog(spec)
    except OrchError as err:
        line = {
            "event": "LaunchFailed",
            "run_id": spec.get("run_id"),
            "error": err.format_message(),
        }
        sys.stdout.write(redaction.scrub(json.dumps(line)) + "\n")
        sys.stdout.flush()
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
