"""Op jobs through the real CLI: jobs/*.py loaded, orch job ls/run, state, errors, signals."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from orch.config import RunOptions
from orch.load.project import load_project
from orch.state import SQLiteStateStore

from tests.execution.conftest import spawn_orch, wait_for

PROJECT_YML = """\
name: shop
profile: shop
jobs:
  nightly:
    select: orders
schedules:
  every_morning:
    job: train_model
    cron: "0 6 * * *"
"""

TRAIN = """\
import json
from pathlib import Path

import orch
from orch import DynamicOut, DynamicOutput, OpContext, RetryPolicy, job, op


class FitConfig(orch.Config):
    factor: int


@op
def load() -> list[int]:
    return [1, 2, 3]


@op(out=DynamicOut(int))
def split(xs: list[int]):
    for x in xs:
        yield DynamicOutput(x, mapping_key=f"part_{x}")


@op
def fit(context: OpContext, x: int, config: FitConfig) -> int:
    context.log.info("fitting %s", x)
    context.add_output_metadata({"factor": config.factor})
    return x * config.factor


@op(retry_policy=RetryPolicy(max_retries=2))
def total(context: OpContext, xs: list[int]) -> dict[str, int]:
    if context.retry_number == 0:
        raise ConnectionError("warehouse busy")
    if sum(xs) > 100:
        raise ValueError(f"total {sum(xs)} is too big")  # TOO-BIG
    return {"total": sum(xs)}


@job(config={"ops": {"fit": {"config": {"factor": 2}}}})
def train_model():
    total(split(load()).map(fit).collect())
"""


@pytest.fixture
def project(make_project, tmp_path: Path) -> Path:
    return make_project(
        tmp_path,
        {"models/orders.sql": "select 1 as id", "jobs/train.py": TRAIN},
        project_yml=PROJECT_YML,
    )


def state(project: Path) -> SQLiteStateStore:
    return SQLiteStateStore.for_project(project, readonly=True)


def line_of(text: str, marker: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


def test_job_ls_lists_asset_jobs_and_op_jobs(project: Path, orch) -> None:
    run = orch("job", "ls", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines() == [
        "nightly                  select: orders",
        "train_model              ops: load → split → fit[*] → total  ← every_morning",
    ]
    data = json.loads(orch("job", "ls", "--project-dir", project, "--output", "json").stdout)
    kinds = {j["name"]: j["kind"] for j in data["jobs"]}
    assert kinds == {"nightly": "assets", "train_model": "ops"}
    train = next(j for j in data["jobs"] if j["name"] == "train_model")
    assert train["edges"] == [["load", "split"], ["split", "fit"], ["fit", "total"]]
    assert train["location"] == f"jobs/train.py:{line_of(TRAIN, 'def train_model')}"
    assert train["ops"][2]["mapped_by"] == "split.result"
    assert train["ops"][3]["retries"] == 2


def test_job_run_records_every_step_with_outputs_attempts_and_metadata(project: Path, orch) -> None:
    run = orch("job", "run", "train_model", "--project-dir", project, "--tags", "who=test")
    assert run.exit_code == 0, run.output
    assert "OK      total (result: dict 1 items, 2 attempts)" in run.stdout
    assert "fit[part_2] info: fitting 2" in run.stdout
    with state(project) as st:
        (recorded,) = st.recent_runs()
        assert recorded.command == "job" and recorded.status == "success"
        assert recorded.args["job"] == "train_model" and recorded.args["tags"] == {"who": "test"}
        steps = {s.step_key: s for s in st.run_op_steps(recorded.run_id)}
    assert list(steps) == ["load", "split", "fit[part_1]", "fit[part_2]", "fit[part_3]", "total"]
    assert all(s.status == "success" for s in steps.values())
    assert steps["total"].attempts == 2
    assert steps["total"].attempt_errors == ("ConnectionError: warehouse busy",)
    assert steps["total"].outputs["result"]["type"] == "dict"
    assert steps["total"].outputs["result"]["preview"] == "{'total': 12}"
    assert steps["split"].outputs["result"]["mapping_keys"] == ["part_1", "part_2", "part_3"]
    assert steps["fit[part_3]"].outputs["result"]["metadata"] == {"factor": 2}
    stored = project / ".orch/storage/dev/objects" / recorded.run_id / "total" / "result"
    assert stored.is_file()
    events = [json.loads(line)["event"] for line in (project / "logs/orch.jsonl").open()]
    assert events[0] == "RunStarted" and events[-1] == "RunFinished"
    assert events.count("OpStepSucceeded") == 6 and events.count("OpStepRetried") == 1


def test_failed_op_names_file_line_skips_nothing_else_and_exits_1(project: Path, orch) -> None:
    config = '{"ops": {"fit": {"config": {"factor": 30}}}}'
    run = orch("job", "run", "train_model", "--project-dir", project, "--config", config)
    assert run.exit_code == 1, run.output
    line = line_of(TRAIN, "TOO-BIG")
    assert f"Failed: total (jobs/train.py:{line})" in run.stdout
    assert "ValueError: total 180 is too big" in run.stdout
    with state(project) as st:
        (recorded,) = st.recent_runs()
        assert recorded.status == "failed"
        total = st.run_op_steps(recorded.run_id)[-1]
    assert (total.status, total.attempts, total.path) == ("failed", 3, f"jobs/train.py:{line}")
    assert total.attempt_errors == (
        "ConnectionError: warehouse busy",
        "ValueError: total 180 is too big",
    )
    shown = orch("runs", "show", recorded.run_id[:8], "--project-dir", project)
    assert f"ValueError: total 180 is too big (jobs/train.py:{line})" in shown.stdout
    assert "attempt 1: ConnectionError: warehouse busy" in shown.stdout


def test_downstream_of_a_failed_op_is_recorded_skipped(make_project, tmp_path, orch) -> None:
    project = make_project(
        tmp_path,
        {
            "jobs/chain.py": """\
            from orch import job, op

            @op
            def first() -> int:
                raise RuntimeError("no data today")

            @op
            def second(x: int) -> int:
                return x

            @job
            def chain():
                second(first())
            """
        },
    )
    run = orch("job", "run", "chain", "--project-dir", project)
    assert run.exit_code == 1
    assert "SKIP    second: upstream 'first' failed" in run.stdout
    with state(project) as st:
        (recorded,) = st.recent_runs()
        statuses = [(s.step_key, s.status) for s in st.run_op_steps(recorded.run_id)]
    assert statuses == [("first", "failed"), ("second", "skipped")]
    assert recorded.counts == {"failed": 1, "skipped": 1}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '{"ops": {"fit": {"config": {"factor": "many"}}}}',
            f"jobs/train.py:{line_of(TRAIN, 'def fit(')}: job 'train_model': config of op 'fit' "
            "(FitConfig): field 'factor' is invalid: Input should be a valid integer",
        ),
        (
            '{"ops": {"fit": {"config": {}}}}',
            None,  # the job's default fills it: not an error
        ),
        ('{"ops": {"fitt": {}}}', "run config of job 'train_model': no op 'fitt' in the job"),
        ('{"ops": ', "--config is not valid JSON"),
    ],
    ids=["invalid", "default", "unknown-op", "bad-json"],
)
def test_invalid_config_exits_2_naming_the_field_and_runs_nothing(
    project: Path, orch, config: str, message: str | None
) -> None:
    run = orch("job", "run", "train_model", "--project-dir", project, "--config", config)
    if message is None:
        assert run.exit_code == 0, run.output
        return
    assert run.exit_code == 2, run.output
    assert message in run.stderr
    assert "Traceback" not in run.output
    with state(project) as st:
        assert st.recent_runs() == []


def test_missing_config_field_exits_2(make_project, tmp_path, orch) -> None:
    project = make_project(
        tmp_path,
        {
            "jobs/cfg.py": """\
            import orch
            from orch import job, op

            class Settings(orch.Config):
                threshold: float

            @op
            def check(settings: Settings) -> float:
                return settings.threshold

            @job
            def needs_config():
                check()
            """
        },
    )
    run = orch("job", "run", "needs_config", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: jobs/cfg.py:8: job 'needs_config': config of op 'check' (Settings): field "
        "'threshold' is missing. Pass it with --config "
        '\'{"ops": {"check": {"config": {"threshold": "..."}}}}\''
    )


def test_options_of_the_other_kind_of_job_are_refused(project: Path, orch) -> None:
    run = orch("job", "run", "train_model", "--project-dir", project, "-s", "orders")
    assert run.exit_code == 2
    assert "job 'train_model' is an op job: -s/--select does not apply to it" in run.stderr
    run = orch("job", "run", "nightly", "--project-dir", project, "--from-failure", "x")
    assert run.exit_code == 2
    assert "job 'nightly' is an asset job: --from-failure does not apply to it" in run.stderr


def test_unknown_job_suggests_op_jobs_too(project: Path, orch) -> None:
    run = orch("job", "run", "train_modl", "--project-dir", project)
    assert run.exit_code == 2
    assert "unknown job 'train_modl'. Did you mean 'train_model'?" in run.stderr


def test_dry_run_prints_the_graph(project: Path, orch) -> None:
    run = orch("job", "run", "train_model", "--project-dir", project, "--dry-run")
    assert run.exit_code == 0
    assert run.stdout.splitlines() == [
        "op job train_model: 4 ops (nothing run)",
        "  load()",
        "  split(xs ← output:load.result)",
        "  fit(x ← output:split.result)  (once per split.result)",
        "  total(xs ← collect:fit.result)",
    ]


# --------------------------------------------------------------------------- load errors


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            """\
            from orch import job, op

            @op
            def a() -> int:
                return 1

            @op
            def b(x: int) -> int:
                return x

            @job
            def broken():
                b(y=a())
            """,
            "jobs/bad.py:13: graph 'broken': op 'b' has no input 'y'. Its inputs are: x",
        ),
        (
            """\
            from orch import GraphDefinition, op

            @op
            def a(x: int) -> int:
                return x

            @op
            def b(x: int) -> int:
                return x

            deps = {"a": {"x": "b"}, "b": {"x": "a"}}
            loop = GraphDefinition.from_dependencies("loop", [a, b], deps)
            """,
            "jobs/bad.py:12: graph 'loop' has a cycle: ",
        ),
        (
            """\
            from orch import job, op

            def helper(x):
                return x if x else 0

            @op
            def a() -> int:
                return 1

            @job
            def mixes():
                helper(a())
            """,
            "jobs/bad.py:4: graph 'mixes': the output 'result' of op 'a' has no value while the "
            "graph is defined (it cannot be tested)",
        ),
        (
            """\
            from orch import job, op

            @op
            def a() -> int:
                return 1

            @job
            def nightly():
                a()
            """,
            "jobs/bad.py:8: op job 'nightly' has the name of the asset job at "
            "orch_project.yml:4:3. Jobs share one namespace",
        ),
    ],
    ids=["unknown-input", "cycle", "non-op", "name-of-asset-job"],
)
def test_definition_errors_are_load_errors_with_file_and_line(
    project: Path, orch, source: str, message: str
) -> None:
    import textwrap

    (project / "jobs/bad.py").write_text(textwrap.dedent(source))
    run = orch("job", "ls", "--project-dir", project)
    assert run.exit_code == 2, run.output
    assert message in run.stderr
    assert "Traceback" not in run.output


def test_duplicate_job_names_in_two_files(project: Path, orch) -> None:
    (project / "jobs/again.py").write_text(
        "from orch import job, op\n\n@op\ndef x() -> int:\n    return 1\n\n"
        "@job(name='train_model')\ndef other():\n    x()\n"
    )
    run = orch("job", "ls", "--project-dir", project)
    assert run.exit_code == 2
    line = line_of(TRAIN, "def train_model")
    assert run.stderr.strip() == (
        f"Error: jobs/train.py:{line}: two jobs are named 'train_model': at jobs/again.py:8 and "
        f"jobs/train.py:{line}. Rename one (name= in @job, or the function)"
    )


def test_schedule_targets_an_op_job(project: Path, orch) -> None:
    run = orch("schedule", "ls", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert "every_morning" in run.stdout and "train_model" in run.stdout


# --------------------------------------------------------------------------- signals

SLOW = """\
import os
import time
from pathlib import Path

from orch import job, op

HERE = Path(__file__).resolve().parent.parent


@op
def first() -> int:
    counter = HERE / "first_runs.txt"
    counter.write_text(str(int(counter.read_text()) + 1 if counter.exists() else 1))
    return 41


@op
def slow(x: int) -> int:
    (HERE / "slow_started").write_text("yes")
    if (HERE / "be_slow").exists():
        time.sleep(60)
    return x + 1


@op
def last(x: int) -> int:
    (HERE / "last_ran").write_text(str(x))
    return x


@job
def slow_job():
    last(slow(first()))
"""

posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _slow_project(make_project, tmp_path: Path) -> Path:
    project = make_project(tmp_path, {"jobs/slow.py": SLOW, "be_slow": ""})
    return project


@posix
def test_sigterm_mid_job_stops_cleanly_and_records_interrupted(make_project, tmp_path) -> None:
    project = _slow_project(make_project, tmp_path)
    proc = spawn_orch(project, "job", "run", "slow_job")
    try:
        wait_for(lambda: (project / "slow_started").exists(), what="the slow op to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0]
    assert "STOPPED slow" in out
    with state(project) as st:
        (recorded,) = st.recent_runs()
        assert recorded.status == "interrupted"
        steps = [(s.step_key, s.status) for s in st.run_op_steps(recorded.run_id)]
        assert st.lock_holder("dev") is None
    assert steps == [("first", "success"), ("slow", "interrupted")]
    assert not (project / "last_ran").exists()


@posix
def test_sigkill_then_from_failure_reruns_only_what_did_not_finish(
    make_project, tmp_path, orch
) -> None:
    project = _slow_project(make_project, tmp_path)
    proc = spawn_orch(project, "job", "run", "slow_job")
    try:
        wait_for(lambda: (project / "slow_started").exists(), what="the slow op to start")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=20) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    with state(project) as st:
        (killed,) = st.recent_runs()
    assert killed.status == "interrupted"  # its process is gone
    assert (project / "first_runs.txt").read_text() == "1"

    (project / "be_slow").unlink()
    run = orch("job", "run", "slow_job", "--project-dir", project, "--from-failure", killed.run_id)
    assert run.exit_code == 0, run.output
    assert "REUSED  first" in run.stdout
    assert (project / "first_runs.txt").read_text() == "1"  # not run again
    assert (project / "last_ran").read_text() == "42"  # fed the stored output of 'first'
    with state(project) as st:
        new = st.recent_runs()[0]
        steps = {s.step_key: s for s in st.run_op_steps(new.run_id)}
    assert new.args["from_failure"] == killed.run_id
    assert steps["first"].reused_from == killed.run_id
    assert steps["slow"].status == steps["last"].status == "success"


def test_from_failure_of_an_unknown_or_other_run_is_an_error(project: Path, orch) -> None:
    run = orch("job", "run", "train_model", "--project-dir", project, "--from-failure", "nope")
    assert run.exit_code == 2
    assert "--from-failure: no run 'nope' in the state" in run.stderr
    assert orch("build", "--project-dir", project).exit_code == 0
    with state(project) as st:
        build_id = st.recent_runs()[0].run_id
    run = orch("job", "run", "train_model", "--project-dir", project, "--from-failure", build_id)
    assert run.exit_code == 2
    assert f"--from-failure: run '{build_id}' is a run of 'build', not of job" in run.stderr


SECRET_JOB = """\
from pydantic import SecretStr

import orch
from orch import job, op


class Api(orch.Resource):
    token: SecretStr


@op
def leak(context: orch.OpContext, api: Api) -> str:
    context.log.info("using %s", api.token.get_secret_value())
    return "token=" + api.token.get_secret_value()


@op
def fail_with_it(text: str) -> None:
    raise ValueError(text)


@job
def leaky():
    fail_with_it(leak())
"""


def test_env_var_secrets_never_reach_console_log_or_state(
    make_project, tmp_path, orch, monkeypatch
) -> None:
    secret = "s3cr3t-ops-token-value"
    monkeypatch.setenv("OPS_API_TOKEN", secret)
    project = make_project(
        tmp_path,
        {"jobs/leaky.py": SECRET_JOB},
        project_yml="""\
        name: shop
        profile: shop
        resources:
          api:
            type: Api
            token: "{{ env_var('OPS_API_TOKEN') }}"
        """,
    )
    run = orch("job", "run", "leaky", "--project-dir", project, "--log-format", "json")
    assert run.exit_code == 1, run.output
    assert secret not in run.output
    assert secret not in (project / "logs/orch.jsonl").read_text()
    assert secret not in (project / ".orch/state.db").read_bytes().decode("latin-1")
    with state(project) as st:
        steps = st.run_op_steps(st.recent_runs()[0].run_id)
    assert steps[0].outputs["result"]["preview"] != "'token=" + secret + "'"
    assert steps[1].error is not None and steps[1].error.startswith("ValueError: token=")


def test_a_held_lock_names_its_holder_and_runs_nothing(project: Path, orch) -> None:
    from orch.state import LockOwner

    with SQLiteStateStore.for_project(project) as store:
        with store.acquire_lock("dev", LockOwner("build", "other-run")):
            run = orch("job", "run", "train_model", "--project-dir", project)
    assert run.exit_code == 2
    assert "locked by" in run.stderr and "build" in run.stderr
    with state(project) as st:
        assert [r.command for r in st.recent_runs()] == []


def test_threads_is_refused_for_op_jobs(project: Path, orch) -> None:
    run = orch("job", "run", "train_model", "--project-dir", project, "--threads", "2")
    assert run.exit_code == 2
    assert "--threads does not apply to it" in run.stderr


def test_the_daemon_launches_an_op_job(project: Path) -> None:
    from datetime import datetime, timezone

    from orch.automation.daemon import LaunchRequest, make_run_function
    from orch.automation.schedules import load_automation

    options = RunOptions(project_dir=project)
    automation = load_automation(load_project(options))
    run = make_run_function(options, automation)
    outcome = run(
        LaunchRequest(
            "every_morning",
            datetime(2024, 6, 1, 6, tzinfo=timezone.utc),
            "k1",
            "r" * 32,
            "train_model",
            vars={"ops": {"fit": {"config": {"factor": 3}}}},
        )  # fmt: skip
    )
    assert outcome.status == "success", outcome
    with state(project) as st:
        (recorded,) = st.recent_runs()
        steps = st.run_op_steps(recorded.run_id)
    assert recorded.run_id == "r" * 32 and recorded.args["config"]["ops"]["fit"]
    assert steps[-1].outputs["result"]["preview"] == "{'total': 18}"


ASSET_JOB = """\
import polars as pl
from orch import In, job, op


@op(ins={"orders": In(asset="orders")})
def count(orders: pl.DataFrame) -> int:
    return orders.height


@job
def count_orders():
    count()
"""


def test_an_op_reads_an_asset_from_the_warehouse(make_project, tmp_path, orch) -> None:
    project = make_project(
        tmp_path,
        {
            "models/orders.sql": "{{ config(materialized='table') }}\nselect * from range(7) t(id)",
            "jobs/count.py": ASSET_JOB,
        },
    )
    before = orch("job", "run", "count_orders", "--project-dir", project)
    assert before.exit_code == 1  # not built yet: the step fails, the run is recorded
    assert "loading the inputs failed" in before.stdout
    with state(project) as st:
        assert st.recent_runs()[0].status == "failed"
    assert orch("build", "--project-dir", project).exit_code == 0
    run = orch("job", "run", "count_orders", "--project-dir", project)
    assert run.exit_code == 0, run.output
    with state(project) as st:
        (step,) = st.run_op_steps(st.recent_runs()[0].run_id)
    assert step.outputs["result"]["preview"] == "7"


def test_in_process_asset_inputs_must_be_given(make_project, tmp_path) -> None:
    from orch.errors import ConfigError
    from orch.load.python_files import import_python_file

    project = make_project(tmp_path, {"jobs/count.py": ASSET_JOB})
    module = import_python_file("jobs/count.py", project / "jobs/count.py", kind="job file")
    with pytest.raises(ConfigError, match="reads asset\\(s\\) orders, which execute_in_process"):
        module.count_orders.execute_in_process()
    import polars as pl

    result = module.count_orders.execute_in_process(assets={"orders": pl.DataFrame({"a": [1]})})
    assert result.output_for("count") == 1


IO_JOB = """\
from orch import Out, job, op


@op(out=Out(dict, io_manager="lake"))
def produce() -> dict:
    return {"rows": 3}


@op
def consume(data: dict) -> int:
    return data["rows"] * 2


@job
def lake_job():
    consume(produce())
"""


def test_an_output_is_stored_by_the_io_manager_it_names(make_project, tmp_path, orch) -> None:
    project = make_project(
        tmp_path,
        {"jobs/lake.py": IO_JOB},
        project_yml="""\
        name: shop
        profile: shop
        resources:
          lake:
            type: objects
            base_dir: lake_files
        """,
    )
    run = orch("job", "run", "lake_job", "--project-dir", project)
    assert run.exit_code == 0, run.output
    with state(project) as st:
        recorded = st.recent_runs()[0]
        steps = {s.step_key: s for s in st.run_op_steps(recorded.run_id)}
    assert (project / "lake_files" / recorded.run_id / "produce" / "result").is_file()
    assert steps["produce"].outputs["result"]["io_manager"] == "lake"
    assert steps["produce"].outputs["result"]["bytes"] > 0
    default = project / ".orch/storage/dev/objects" / recorded.run_id / "consume" / "result"
    assert default.is_file()


def test_an_unknown_io_manager_stops_the_run_before_it_starts(make_project, tmp_path, orch):
    project = make_project(tmp_path, {"jobs/lake.py": IO_JOB})
    run = orch("job", "run", "lake_job", "--project-dir", project)
    assert run.exit_code == 2
    assert "unknown IO manager 'lake'" in run.stderr
    with state(project) as st:
        assert st.recent_runs() == []
