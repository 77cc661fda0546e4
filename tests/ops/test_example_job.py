"""The example project's op job: built from the customers mart, through the CLI and in process."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from orch.load.python_files import import_python_file
from orch.run.ops import OpFailedError
from orch.state import SQLiteStateStore
from orch.testing import build_op_context

from tests.conftest import EXAMPLE_PROJECT, run_cli

JOB_FILE = EXAMPLE_PROJECT / "jobs" / "customer_value_model.py"


@pytest.fixture(scope="module")
def jobs():  # the example's job file, imported the way orch imports it
    return import_python_file("jobs/customer_value_model.py", JOB_FILE, kind="job file")


def customers(n: int = 60) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": pl.Series(range(n), dtype=pl.Int32),
            "order_count": [i % 12 for i in range(n)],
            "returned_order_count": [i % 3 for i in range(n)],
            "average_order_value": [20.0 + (i % 12) * 5 for i in range(n)],
            "lifetime_value": [(i % 12) * 80.0 for i in range(n)],
        }
    )


def test_example_job_runs_through_the_cli_and_writes_its_report(example_project: Path) -> None:
    build = run_cli("build", "--project-dir", example_project, "-s", "+customers")
    assert build.exit_code == 0, build.output
    run = run_cli("job", "run", "customer_value_model", "--project-dir", example_project)
    assert run.exit_code == 0, run.output
    report = (example_project / "target/reports/customer_value_model.md").read_text()
    assert report.startswith("# Customer value model\n")
    assert "| accuracy |" in report and "| folds | 3.000 |" in report
    with SQLiteStateStore.for_project(example_project, readonly=True) as state:
        (job_run,) = [r for r in state.recent_runs() if r.command == "job"]
        steps = {s.step_key: s for s in state.run_op_steps(job_run.run_id)}
    assert list(steps) == [
        "training_frame", "make_folds", "train_fold[fold_0]", "train_fold[fold_1]",
        "train_fold[fold_2]", "evaluate", "write_report",
    ]  # fmt: skip
    assert all(s.status == "success" for s in steps.values())
    metrics = steps["evaluate"].outputs["result"]["metadata"]
    assert set(metrics) == {"accuracy", "precision", "recall", "folds"}
    assert 0.5 < metrics["accuracy"] <= 1.0
    assert steps["training_frame"].outputs["result"]["size"] == "200 rows x 5 columns"
    listed = json.loads(
        run_cli("job", "ls", "--project-dir", example_project, "--output", "json").stdout
    )
    kinds = {j["name"]: j["kind"] for j in listed["jobs"]}
    assert kinds["customer_value_model"] == "ops" and kinds["daily_order_lines"] == "assets"


def test_example_job_in_process_with_a_given_mart(jobs, tmp_path: Path) -> None:
    report = str(tmp_path / "report.md")
    result = jobs.customer_value_model.execute_in_process(
        {
            "ops": {
                "make_folds": {"config": {"folds": 4}},
                "write_report": {"config": {"path": report}},
            }
        },
        assets={"customers": customers()},
        raise_on_error=False,
    )
    assert result.step_statuses["train_fold[fold_3]"] == "success"
    assert result.output_for("evaluate")["folds"] == 4.0
    assert set(result.output_for("train_fold")) == {"fold_0", "fold_1", "fold_2", "fold_3"}
    assert result.output_for("write_report") == report


def test_example_job_type_check_refuses_a_mart_without_enough_rows(jobs) -> None:
    with pytest.raises(OpFailedError) as info:
        jobs.customer_value_model.execute_in_process(assets={"customers": customers(5)})
    # nothing after the failed op ran: no report was written anywhere
    assert "op 'training_frame' failed" in str(info.value)
    assert "output 'result' expected TrainingFrame, got polars DataFrame 5 x 5: 5 rows, " in str(
        info.value
    )


def test_example_ops_called_directly(jobs, tmp_path: Path) -> None:
    config = jobs.TrainingConfig(epochs=50)
    frame = jobs.training_frame(build_op_context(), customers(), config)
    assert frame.columns == ["customer_id", *jobs.FEATURES, "label"]
    folds = jobs.make_folds(frame, config)
    assert [f.mapping_key for f in folds] == ["fold_0", "fold_1", "fold_2"]
    hits = jobs.train_fold(build_op_context(mapping_key="fold_0"), folds[0].value, config)
    assert sum(hits.values()) == folds[0].value[1].height
    metrics = jobs.evaluate(build_op_context(), [hits])
    assert jobs.Metrics(metrics) is None
    assert jobs.Metrics({"accuracy": 2.0, "precision": 0, "recall": 0, "folds": 1}) == (
        "dict of 4: accuracy outside [0, 1]"
    )
    out = tmp_path / "r.md"
    path = jobs.write_report(build_op_context(), metrics, jobs.ReportConfig(path=str(out)))
    assert Path(path) == out and out.read_text().startswith("# Customer value model")
