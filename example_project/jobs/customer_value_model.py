"""An op job: read the customers mart, train a small model per fold, evaluate it, write a report.

    orch job run customer_value_model
    orch job run customer_value_model --config '{"ops": {"make_folds": {"config": {"folds": 5}}}}'

The model is a logistic regression ("will this customer reach a lifetime value of 500?") fitted
with plain Python gradient descent: no ML dependency, a few milliseconds on the example's data.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import orch
import polars as pl
from orch import DynamicOut, DynamicOutput, In, OpContext, RetryPolicy, job, op

FEATURES = ["order_count", "returned_order_count", "average_order_value"]

# The frame the first op hands on: the features and the label, checked when it is produced.
TrainingFrame = orch.frame_type(
    "TrainingFrame",
    {"customer_id": "Int32", **{f: "Float64" for f in FEATURES}, "label": "Int8"},
    min_rows=10,
)


def _metrics_check(value: object) -> bool | str:
    if not isinstance(value, dict):
        return "not a dict"
    missing = {"accuracy", "precision", "recall", "folds"} - set(value)
    if missing:
        return f"missing {', '.join(sorted(missing))}"
    bad = [k for k in ("accuracy", "precision", "recall") if not 0.0 <= value[k] <= 1.0]
    return f"{', '.join(bad)} outside [0, 1]" if bad else True


# The evaluation's result: a metrics dict whose rates are between 0 and 1.
Metrics = orch.Type("Metrics", check=_metrics_check, description="accuracy/precision/recall")


class TrainingConfig(orch.Config):
    """How the model is trained."""

    threshold: float = 500.0  # lifetime value that makes a customer "high value"
    folds: int = 3
    epochs: int = 300
    learning_rate: float = 0.5


class ReportConfig(orch.Config):
    """Where the report goes (relative to the project folder)."""

    path: str = "target/reports/customer_value_model.md"


@op(ins={"customers": In(asset="customers")}, out=orch.Out(TrainingFrame))
def training_frame(context: OpContext, customers: pl.DataFrame, config: TrainingConfig):
    """The customers mart as standardized features and a 0/1 label."""
    frame = customers.select(
        "customer_id",
        *[pl.col(f).cast(pl.Float64).fill_null(0.0) for f in FEATURES],
        label=(pl.col("lifetime_value").cast(pl.Float64) >= config.threshold).cast(pl.Int8),
    )
    frame = frame.with_columns(
        [((pl.col(f) - pl.col(f).mean()) / (pl.col(f).std() + 1e-9)).alias(f) for f in FEATURES]
    )
    context.log.info("%d customers, %d high value", frame.height, frame["label"].sum())
    return frame


@op(out=DynamicOut())
def make_folds(frame: pl.DataFrame, config: TrainingConfig):
    """One branch per cross-validation fold: (train rows, test rows)."""
    fold_of = pl.col("customer_id") % config.folds
    for k in range(config.folds):
        train = frame.filter(fold_of != k)
        test = frame.filter(fold_of == k)
        yield DynamicOutput((train, test), mapping_key=f"fold_{k}")


@op
def train_fold(
    context: OpContext, fold: tuple[pl.DataFrame, pl.DataFrame], config: TrainingConfig
) -> dict[str, float]:
    """Fit the logistic regression on the fold's train rows; count hits on its test rows."""
    train, test = fold
    weights = [0.0] * (len(FEATURES) + 1)
    rows = train.select(FEATURES).rows()
    labels = train["label"].to_list()
    for _ in range(config.epochs):
        grad = [0.0] * len(weights)
        for x, y in zip(rows, labels, strict=True):
            error = _predict(weights, x) - y
            grad[0] += error
            for i, value in enumerate(x):
                grad[i + 1] += error * value
        weights = [
            w - config.learning_rate * g / len(rows) for w, g in zip(weights, grad, strict=True)
        ]
    hits = {"tp": 0.0, "fp": 0.0, "tn": 0.0, "fn": 0.0}
    for x, y in zip(test.select(FEATURES).rows(), test["label"].to_list(), strict=True):
        guess = _predict(weights, x) >= 0.5
        key = ("t" if guess == bool(y) else "f") + ("p" if guess else "n")
        hits[key] += 1
    context.log.info("fold %s: %s", context.mapping_key, hits)
    return hits


def _predict(weights: list[float], x: tuple[float, ...]) -> float:
    z = weights[0] + sum(w * v for w, v in zip(weights[1:], x, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@op(out=orch.Out(Metrics))
def evaluate(context: OpContext, fold_hits: list[dict[str, float]]) -> dict[str, float]:
    """Accuracy, precision and recall over every fold's test rows (type-checked: Metrics)."""
    total = {k: sum(h[k] for h in fold_hits) for k in ("tp", "fp", "tn", "fn")}
    n = sum(total.values())
    metrics = {
        "accuracy": (total["tp"] + total["tn"]) / n if n else 0.0,
        "precision": total["tp"] / (total["tp"] + total["fp"])
        if total["tp"] + total["fp"]
        else 0.0,
        "recall": total["tp"] / (total["tp"] + total["fn"]) if total["tp"] + total["fn"] else 0.0,
        "folds": float(len(fold_hits)),
    }
    context.add_output_metadata({k: round(v, 3) for k, v in metrics.items()})
    return metrics


@op(retry_policy=RetryPolicy(max_retries=2, delay=0.2, retry_on=(OSError,)))
def write_report(context: OpContext, metrics: dict[str, float], config: ReportConfig) -> str:
    """A small Markdown report; a flaky disk or network share is retried twice."""
    path = Path(context.project_dir or ".", config.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Customer value model",
        "",
        f"Run {context.run_id} at {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "| metric | value |",
        "|---|---:|",
        *[f"| {k} | {v:.3f} |" for k, v in metrics.items()],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    context.add_output_metadata({"path": config.path})
    return str(path)


@job(
    description="Train and evaluate the customer value model from the customers mart.",
    tags={"team": "data-science"},
)
def customer_value_model():
    frame = training_frame()
    hits = make_folds(frame).map(train_fold).collect()
    write_report(evaluate(hits))
