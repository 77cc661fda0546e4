"""A trained model as an asset: fitted here, stored by the `objects` IO manager (pickle), and
read back by the asset that scores customers with it."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from orch import AssetContext, asset


@dataclass
class SpendModel:
    """Least-squares line: expected lifetime spend from the number of orders."""

    slope: float
    intercept: float
    trained_on: int

    def predict(self, orders: pl.Series) -> pl.Series:
        """Expected spend for each number of orders."""
        return orders * self.slope + self.intercept


@asset(group="lake")
def spend_model(context: AssetContext, orders_export: pl.DataFrame) -> SpendModel:
    """Fitted on the exported order files (an external model); returned as a Python object."""
    per_customer = orders_export.group_by("customer_id").agg(
        pl.len().alias("n"), pl.col("order_total").sum().alias("spend")
    )
    x, y = per_customer["n"].cast(pl.Float64), per_customer["spend"]
    var = float(((x - x.mean()) ** 2).sum()) or 1.0
    slope = float(((x - x.mean()) * (y - y.mean())).sum()) / var
    model = SpendModel(slope, float(y.mean()) - slope * float(x.mean()), per_customer.height)
    context.add_output_metadata({"slope": round(slope, 2), "customers": per_customer.height})
    return model
