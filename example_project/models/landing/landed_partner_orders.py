"""Orders a partner drops as CSV files into landing/: the `landing_files` sensor reloads this."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from orch import asset

LANDING = Path(__file__).resolve().parents[2] / "landing"
SCHEMA = {
    "partner_order_id": pl.String,
    "customer_id": pl.Int64,
    "ordered_at": pl.Datetime("us"),
    "amount": pl.Float64,
}


@asset(group="landing", tags=["landing"])
def landed_partner_orders() -> pl.DataFrame:
    """Every row of every landing/*.csv file, with the file it came from."""
    frames = [
        pl.read_csv(path, schema=SCHEMA).with_columns(pl.lit(path.name).alias("source_file"))
        for path in sorted(LANDING.glob("*.csv"))
    ]
    if not frames:
        return pl.DataFrame(schema={**SCHEMA, "source_file": pl.String})
    return pl.concat(frames)
