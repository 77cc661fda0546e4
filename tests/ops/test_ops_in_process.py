"""Ops, graphs and jobs run in process: values passed, types checked, retries, fan-out, config."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import orch
import polars as pl
import pytest
from orch import (
    Backoff,
    DynamicOut,
    DynamicOutput,
    In,
    OpContext,
    Out,
    Output,
    RetryPolicy,
    graph,
    job,
    op,
)
from orch.errors import ConfigError, CycleError, ProjectError, UnsupportedFeatureError
from orch.events import LogEmitted, OpStepRetried
from orch.ops import GraphDefinition
from orch.run.ops import OpFailedError
from orch.testing import build_op_context

HERE = Path(__file__).name


def _line_of(marker: str) -> int:
    for number, text in enumerate(Path(__file__).read_text().splitlines(), start=1):
        if marker in text and "_line_of" not in text:
            return number
    raise AssertionError(marker)


# --------------------------------------------------------------------------- the articles' job


class TrainConfig(orch.Config):
    epochs: int
    rate: float = 0.1


@op
def write_data(context: OpContext) -> str:
    path = Path(context.tags["dir"]) / "data.json"
    path.write_text(json.dumps([1.0, 2.0, 3.0, 4.0]))
    return str(path)


@op
def train(path: str, config: TrainConfig) -> dict[str, float]:
    values = json.loads(Path(path).read_text())
    mean = sum(values) / len(values)
    return {"mean": mean, "epochs": float(config.epochs)}


@job(config={"ops": {"train": {"config": {"epochs": 2}}}})
def training():
    train(write_data())


def test_value_passes_from_op_to_op_with_its_type_checked(tmp_path: Path) -> None:
    result = training.execute_in_process(tags={"dir": str(tmp_path)})
    assert result.success
    assert result.step_statuses == {"write_data": "success", "train": "success"}
    assert result.output_for("write_data") == str(tmp_path / "data.json")
    assert result.output_for("train") == {"mean": 2.5, "epochs": 2.0}


def test_run_config_overrides_the_job_default(tmp_path: Path) -> None:
    result = training.execute_in_process(
        {"ops": {"train": {"config": {"epochs": 7}}}}, tags={"dir": str(tmp_path)}
    )
    assert result.output_for("train")["epochs"] == 7.0


def test_graph_structure_is_known_without_running() -> None:
    assert list(training.graph.nodes) == ["write_data", "train"]
    assert training.graph.edges == [("write_data", "train")]


# --------------------------------------------------------------------------- failures


@op
def boom() -> int:
    raise RuntimeError("the API is down")  # RAISE-HERE


@op
def after(x: int) -> int:
    return x + 1


@op
def independent() -> int:
    return 5


@job
def failing():
    after(boom())
    independent()


def test_failed_op_skips_downstream_and_names_op_and_line() -> None:
    result = failing.execute_in_process(raise_on_error=False)
    assert result.status == "failed"
    assert result.step_statuses == {
        "boom": "failed",
        "after": "skipped",
        "independent": "success",
    }
    step = result.steps["boom"]
    assert step.error == "RuntimeError: the API is down"
    assert step.path is not None and step.path.endswith(f"{HERE}:{_line_of('RAISE-HERE')}")
    assert result.steps["after"].error == "upstream 'boom' failed"


def test_raise_on_error_raises_op_failed_error_naming_job_op_and_line() -> None:
    with pytest.raises(OpFailedError) as info:
        failing.execute_in_process()
    message = str(info.value)
    assert message.startswith("job 'failing': op 'boom' failed at ")
    assert f"{HERE}:{_line_of('RAISE-HERE')}: RuntimeError: the API is down" in message
    assert isinstance(info.value.__cause__, RuntimeError)


ATTEMPTS: dict[str, int] = {}


@op(retry_policy=RetryPolicy(max_retries=3, delay=0.001, backoff=Backoff.EXPONENTIAL))
def flaky(context: OpContext) -> int:
    ATTEMPTS["flaky"] = ATTEMPTS.get("flaky", 0) + 1
    if context.retry_number < 2:
        raise ConnectionError(f"attempt {context.retry_number + 1} timed out")
    return context.retry_number


@op(retry_policy=RetryPolicy(max_retries=5, retry_on=(ConnectionError,)))
def not_retried() -> int:
    ATTEMPTS["not_retried"] = ATTEMPTS.get("not_retried", 0) + 1
    raise ValueError("bad input, retrying will not help")


@job
def retrying():
    flaky()
    not_retried()


def test_retries_honour_the_policy_and_every_attempt_is_recorded() -> None:
    ATTEMPTS.clear()
    result = retrying.execute_in_process(raise_on_error=False)
    assert result.step_statuses == {"flaky": "success", "not_retried": "failed"}
    assert result.attempts == {"flaky": 3, "not_retried": 1}
    assert ATTEMPTS == {"flaky": 3, "not_retried": 1}
    assert result.output_for("flaky") == 2
    assert result.steps["flaky"].attempt_errors == [
        "ConnectionError: attempt 1 timed out",
        "ConnectionError: attempt 2 timed out",
    ]
    retried = result.events_of(OpStepRetried)
    assert [(e.step_key, e.attempt, e.delay_s) for e in retried] == [
        ("flaky", 1, 0.001),
        ("flaky", 2, 0.002),
    ]


def test_retries_exhausted_fail_with_every_attempt() -> None:
    calls = []

    @op(retry_policy=RetryPolicy(max_retries=2))
    def always() -> int:
        calls.append(1)
        raise TimeoutError(f"try {len(calls)}")

    @job
    def hopeless():
        always()

    result = hopeless.execute_in_process(raise_on_error=False)
    assert result.attempts == {"always": 3}
    assert result.steps["always"].error == "TimeoutError: try 3"
    assert result.steps["always"].attempt_errors == ["TimeoutError: try 1", "TimeoutError: try 2"]


# --------------------------------------------------------------------------- types


@op
def numbers() -> list[int]:
    return [1, 2, "three"]  # type: ignore[list-item]


@op
def wants_text(x: str) -> str:
    return x


@op
def gives_int() -> int:
    return 3


@job
def bad_output():
    numbers()


@job
def bad_input():
    wants_text(gives_int())


def test_output_type_check_fails_the_step_naming_job_op_output_type_and_value() -> None:
    result = bad_output.execute_in_process(raise_on_error=False)
    assert result.step_statuses == {"numbers": "failed"}
    assert result.steps["numbers"].error == (
        "job 'bad_output', op 'numbers': output 'result' expected list[int], got list of 3 "
        "whose item [2] is str 'three'"
    )


def test_input_type_check_fails_before_the_op_runs() -> None:
    result = bad_input.execute_in_process(raise_on_error=False)
    assert result.step_statuses == {"gives_int": "success", "wants_text": "failed"}
    assert result.steps["wants_text"].error == (
        "job 'bad_input', op 'wants_text': input 'x' expected str, got int 3"
    )


Positive = orch.Type("Positive", check=lambda v: isinstance(v, int) and v > 0, description="> 0")
Scores = orch.frame_type("Scores", {"name": "String", "score": "Float64"}, min_rows=1)


@op(out=Out(Positive))
def minus_one() -> int:
    return -1


@op(ins={"frame": In(Scores)})
def use_scores(frame: pl.DataFrame) -> int:
    return frame.height


@op
def frame_without_score() -> pl.DataFrame:
    return pl.DataFrame({"name": ["a"], "points": [1.0]})


def test_custom_type_and_frame_schema_checks() -> None:
    @job
    def custom():
        minus_one()
        use_scores(frame_without_score())

    result = custom.execute_in_process(raise_on_error=False)
    assert result.steps["minus_one"].error == (
        "job 'custom', op 'minus_one': output 'result' expected Positive, got int -1"
    )
    assert result.steps["use_scores"].error == (
        "job 'custom', op 'use_scores': input 'frame' expected Scores, got polars DataFrame "
        "1 x 2: missing column(s) score (has name, points)"
    )


@pytest.mark.parametrize(
    ("annotation", "value", "ok"),
    [
        (dict[str, float], {"a": 1.0, "b": 2}, True),
        (dict[str, float], {"a": "x"}, False),
        (list[str], ["a", "b"], True),
        (int | None, None, True),
        (int, True, False),
        (tuple[int, str], (1, "a"), True),
        (pl.DataFrame, pl.DataFrame({"a": [1]}), True),
        (pl.DataFrame, {"a": [1]}, False),
        (TrainConfig, TrainConfig(epochs=1), True),
    ],
    ids=lambda v: str(v)[:20],
)
def test_plain_annotations_check_themselves(annotation: object, value: object, ok: bool) -> None:
    from orch.typecheck import check_value

    assert (check_value(annotation, value) is None) is ok


# --------------------------------------------------------------------------- optional outputs


@op(out={"rows": Out(list[int]), "rejects": Out(list[int], is_required=False)})
def split_rows():
    yield Output([1, 2], "rows")  # no rejects this time


@op
def report_rejects(rejects: list[int]) -> int:
    return len(rejects)


@op
def count_rows(rows: list[int]) -> int:
    return len(rows)


@job
def optional():
    rows, rejects = split_rows()
    count_rows(rows)
    report_rejects(rejects)


def test_skipped_optional_output_skips_its_readers_without_failing() -> None:
    result = optional.execute_in_process()
    assert result.success
    assert result.step_statuses == {
        "split_rows": "success",
        "count_rows": "success",
        "report_rejects": "skipped",
    }
    assert result.steps["report_rejects"].error == (
        "output 'rejects' of 'split_rows' was not produced"
    )
    assert result.output_for("count_rows") == 2


def test_multiple_outputs_returned_as_a_tuple() -> None:
    @op(out={"low": Out(int), "high": Out(int)})
    def bounds() -> tuple[int, int]:
        return 1, 9

    @op
    def width(low: int, high: int) -> int:
        return high - low

    @job
    def ranged():
        low, high = bounds()
        width(low, high=high)

    result = ranged.execute_in_process()
    assert result.output_for("bounds", "high") == 9
    assert result.output_for("width") == 8


# --------------------------------------------------------------------------- dynamic fan-out


@op(out=DynamicOut(str))
def folds():
    for name in ("fold_1", "fold_2", "fold_3"):
        yield DynamicOutput(name.upper(), mapping_key=name)


@op
def fit(context: OpContext, fold: str) -> int:
    context.log.info("fitting %s", fold)
    if context.mapping_key == "fold_2":
        raise ValueError("fold 2 diverged")
    return len(fold)


@op
def best(scores: list[int]) -> int:
    return max(scores)


@job
def fanout():
    best(folds().map(fit).collect())


def test_dynamic_fan_out_runs_once_per_value_and_collects() -> None:
    @op
    def ok_fit(fold: str) -> int:
        return len(fold) * 10

    @job
    def fanout_ok():
        best(folds().map(ok_fit).collect())

    result = fanout_ok.execute_in_process()
    assert result.step_statuses == {
        "folds": "success",
        "ok_fit[fold_1]": "success",
        "ok_fit[fold_2]": "success",
        "ok_fit[fold_3]": "success",
        "best": "success",
    }
    assert result.output_for("ok_fit") == {"fold_1": 60, "fold_2": 60, "fold_3": 60}
    assert result.output_for("folds") == {
        "fold_1": "FOLD_1",
        "fold_2": "FOLD_2",
        "fold_3": "FOLD_3",
    }
    assert result.output_for("best") == 60


def test_a_failed_branch_fails_alone_and_skips_the_collector() -> None:
    result = fanout.execute_in_process(raise_on_error=False)
    assert result.step_statuses["fit[fold_1]"] == "success"
    assert result.step_statuses["fit[fold_2]"] == "failed"
    assert result.step_statuses["fit[fold_3]"] == "success"
    assert result.step_statuses["best"] == "skipped"
    logs = [(e.asset, e.message) for e in result.events_of(LogEmitted)]
    assert ("fit[fold_3]", "fitting FOLD_3") in logs


# --------------------------------------------------------------------------- config, resources


class Api(orch.Resource):
    base_url: str


class FetchConfig(orch.Config):
    limit: int


@op
def fetch(config: FetchConfig, api: Api) -> str:
    return f"{api.base_url}?limit={config.limit}"


@job(resources={"api": Api(base_url="https://example.test")})
def fetching():
    fetch()


def test_config_and_resources_are_injected() -> None:
    result = fetching.execute_in_process({"ops": {"fetch": {"config": {"limit": 3}}}})
    assert result.output_for("fetch") == "https://example.test?limit=3"
    other = fetching.execute_in_process(
        {"ops": {"fetch": {"config": {"limit": 1}}}}, resources={"api": Api(base_url="http://b")}
    )
    assert other.output_for("fetch") == "http://b?limit=1"


def test_missing_config_field_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        fetching.execute_in_process()
    assert info.value.exit_code == 2
    assert info.value.message == (
        "job 'fetching': config of op 'fetch' (FetchConfig): field 'limit' is missing"
    )
    assert info.value.hint == (
        'Pass it with --config \'{"ops": {"fetch": {"config": {"limit": "..."}}}}\''
    )


def test_invalid_config_and_unknown_op_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="field 'limit' is invalid: Input should be a valid"):
        fetching.execute_in_process({"ops": {"fetch": {"config": {"limit": "many"}}}})
    with pytest.raises(ConfigError, match="no op 'fetc' in the job") as info:
        fetching.execute_in_process({"ops": {"fetc": {"config": {}}}})
    assert info.value.hint == "Did you mean 'fetch'?"


def test_missing_resource_is_a_config_error() -> None:
    @job
    def no_api():
        fetch()

    with pytest.raises(ConfigError, match="op 'fetch' needs resource 'api' \\(Api\\)"):
        no_api.execute_in_process({"ops": {"fetch": {"config": {"limit": 1}}}})


# --------------------------------------------------------------------------- direct calls


def test_ops_are_called_directly_with_plain_values() -> None:
    assert train(str(_data_file()), TrainConfig(epochs=1)) == {"mean": 2.0, "epochs": 1.0}
    context = build_op_context(config=FetchConfig(limit=4), resources={"api": Api(base_url="u")})
    assert fetch(context.op_config, context.resources["api"]) == "u?limit=4"
    ctx = build_op_context(mapping_key="fold_3")
    assert fit(ctx, "abc") == 3
    assert ctx.log.records == [("info", "fitting abc")]
    assert folds() == [
        DynamicOutput("FOLD_1", "fold_1"),
        DynamicOutput("FOLD_2", "fold_2"),
        DynamicOutput("FOLD_3", "fold_3"),
    ]


def _data_file() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "d.json"
    path.write_text("[1, 3]")
    return path


# --------------------------------------------------------------------------- nested graphs


@graph
def prepare(x: int):
    return after(after(x))


def test_graphs_compose_graphs() -> None:
    @job
    def nested():
        after(prepare(independent()))

    result = nested.execute_in_process()
    assert list(nested.graph.nodes) == ["independent", "prepare.after", "prepare.after_2", "after"]
    assert result.output_for("after") == 8


def test_aliases_name_two_calls_of_one_op() -> None:
    @job
    def twice():
        after.alias("second")(after.alias("first")(independent()))

    assert twice.execute_in_process().output_for("second") == 7


# --------------------------------------------------------------------------- definition errors


def test_unknown_input_is_an_error_at_the_call() -> None:
    with pytest.raises(ProjectError) as info:

        @graph
        def wrong():
            after(y=independent())  # UNKNOWN-INPUT

    assert info.value.message == "graph 'wrong': op 'after' has no input 'y'"
    assert info.value.location is not None
    assert info.value.location.line == _line_of("UNKNOWN-INPUT")
    assert info.value.hint == "Its inputs are: x"


def test_unconnected_input_and_plain_values_are_errors() -> None:
    with pytest.raises(ProjectError, match="input 'x' of op 'after' is not connected"):

        @graph
        def unconnected():
            after()

    with pytest.raises(ProjectError, match="is given a int value, not an op's output"):

        @graph
        def constant():
            after(3)


def test_calling_a_non_op_with_an_output_is_an_error() -> None:
    def plain(x: object) -> object:
        return x if x else None

    with pytest.raises(ProjectError, match="has no value while the graph is defined"):

        @graph
        def mixes():
            after(plain(independent()))


def test_cycle_in_explicit_dependencies_names_it() -> None:
    @op
    def a(x: int) -> int:
        return x

    @op
    def b(x: int) -> int:
        return x

    with pytest.raises(CycleError, match="graph 'loop' has a cycle: (a -> b -> a|b -> a -> b)"):
        GraphDefinition.from_dependencies("loop", [a, b], {"a": {"x": "b"}, "b": {"x": "a"}})
    with pytest.raises(ProjectError, match="input 'x' of op 'a' reads unknown op 'c'"):
        GraphDefinition.from_dependencies("loop", [a, b], {"a": {"x": "c"}, "b": {"x": "a"}})
    ok = GraphDefinition.from_dependencies("chain", [b, independent], {"b": {"x": "independent"}})
    assert list(ok.nodes) == ["independent", "b"]
    assert ok.to_job().execute_in_process().output_for("b") == 5


def test_nested_mapping_is_refused() -> None:
    @op(out=DynamicOut())
    def inner(x: str):
        yield DynamicOutput(x, "k")

    with pytest.raises(UnsupportedFeatureError, match="nested mapping is not supported"):

        @graph
        def nested_map():
            folds().map(inner)


def test_job_location_is_its_definition() -> None:
    assert training.location.line == inspect.getsourcelines(training.graph.fn)[1] + 1
