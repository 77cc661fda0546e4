"""orch: SQL and Python models as a graph of data assets.

The public API is what this module exports; everything else is internal.
"""

from __future__ import annotations

from orch.assets import AssetContext, Config, Resource, asset, check
from orch.errors import OrchError
from orch.schedules import (
    RunRequest,
    ScheduleContext,
    SensorContext,
    SkipReason,
    asset_sensor,
    file_sensor,
    schedule,
    sensor,
)

__version__ = "0.1.0"

__all__ = [
    "AssetContext",
    "Config",
    "OrchError",
    "Resource",
    "RunRequest",
    "ScheduleContext",
    "SensorContext",
    "SkipReason",
    "__version__",
    "asset",
    "asset_sensor",
    "check",
    "file_sensor",
    "schedule",
    "sensor",
]
