"""Score customers with the trained spend_model (loaded back from the `objects` IO manager)."""

from __future__ import annotations

from typing import Any

import polars as pl
from orch import asset


@asset(group="lake")
def spend_predictions(spend_model: Any, customers: pl.DataFrame) -> pl.DataFrame:
    """Customers with their expected spend from the model (a warehouse table again).

    ``spend_model`` arrives as the SpendModel object spend_model.py returned (unpickled).
    """
    expected = spend_model.predict(customers["order_count"].cast(pl.Float64))
    return customers.select("customer_id", "order_count", "lifetime_value").with_columns(
        expected.round(2).alias("expected_spend")
    )
