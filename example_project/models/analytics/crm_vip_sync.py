"""Push VIP customers to the CRM: a Python asset with a resource (the CRM) and a run config."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import polars as pl
from orch import AssetContext, Config, HookContext, Resource, asset, failure_hook
from pydantic import SecretStr


class CrmApi(Resource):
    """The CRM's API; declared per target under 'resources: crm' in orch_project.yml."""

    base_url: str
    api_key: SecretStr
    dry_run: bool = True  # dev never calls the API

    def setup(self) -> None:
        """Once per run, before the first step that uses the CRM (a real client opens here)."""
        logging.getLogger("orch.example.crm").info("CRM session opened (dry run: %s)", self.dry_run)

    def teardown(self) -> None:
        """When the run ends, also after a failure, Ctrl-C or SIGTERM."""
        logging.getLogger("orch.example.crm").info("CRM session closed")

    def upsert_contacts(self, rows: list[dict]) -> int:
        """Send contacts (in dry-run mode: only count them)."""
        if self.dry_run:
            return len(rows)
        raise NotImplementedError("the example never calls a real CRM")


class VipSyncConfig(Config):
    """Which customers count as VIPs (--vars '{"crm_vip_sync": {"segments": ["champion"]}}')."""

    segments: list[str] = ["champion", "loyal"]
    min_monetary: float = 0.0


@failure_hook
def crm_sync_failed(context: HookContext) -> None:
    """Tell the CRM team (here: a log line in the run's events) why the sync failed."""
    context.log.error("CRM sync failed in run %s: %s", context.run_id, context.error_message)


@asset(group="analytics", tags=["crm"], hooks=[crm_sync_failed])
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
