"""Push VIP customers to the CRM: a Python asset with a resource (the CRM) and a run config."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
from orch import AssetContext, Config, Resource, asset
from pydantic import SecretStr


class CrmApi(Resource):
    """The CRM's API; declared per target under 'resources: crm' in orch_project.yml."""

    base_url: str
    api_key: SecretStr
    dry_run: bool = True  # dev never calls the API

    def upsert_contacts(self, rows: list[dict]) -> int:
        """Send contacts (in dry-run mode: only count them)."""
        if self.dry_run:
            return len(rows)
        raise NotImplementedError("the example never calls a real CRM")


class VipSyncConfig(Config):
    """Which customers count as VIPs (--vars '{"crm_vip_sync": {"segments": ["champion"]}}')."""

    segments: list[str] = ["champion", "loyal"]
    min_monetary: float = 0.0


@asset(group="analytics", tags=["crm"])
def crm_vip_sync(
    context: AssetContext, customer_segments: pl.DataFrame, crm: CrmApi, config: VipSyncConfig
) -> pl.DataFrame:
    """The VIP customers sent to the CRM in this run, with the time they were synced."""
    vips = customer_segments.filter(
        pl.col("segment").is_in(config.segments) & (pl.col("monetary") >= config.min_monetary)
    ).select("customer_id", "full_name", "segment", "monetary")
    sent = crm.upsert_contacts(vips.to_dicts())
    context.log.info("synced %d contacts to %s (dry run: %s)", sent, crm.base_url, crm.dry_run)
    context.add_output_metadata({"crm": crm.base_url, "dry_run": crm.dry_run, "sent": sent})
    return vips.with_columns(pl.lit(datetime.now(timezone.utc)).alias("synced_at"))
