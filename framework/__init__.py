"""orch: SQL and Python models as a graph of data assets.

The public API is what this module exports; everything else is internal. Names are loaded on first
use (PEP 562), so ``import orch`` — and every CLI command — does not pay for the asset and schedule
machinery it does not need.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from orch.errors import OrchError

if TYPE_CHECKING:
    from orch.assets import (  # noqa: F401
        AssetContext,
        Config,
        HookContext,
        HookDefinition,
        Resource,
        asset,
        check,
        failure_hook,
        success_hook,
    )
    from orch.automation.alerts import post_webhook, webhook_on_failure  # noqa: F401
    from orch.automation.run_status import (  # noqa: F401
        RunStatusContext,
        multi_asset_sensor,
        run_failure_sensor,
        run_status_sensor,
    )
    from orch.automation.schedules import (  # noqa: F401
        RunRequest,
        ScheduleContext,
        SensorContext,
        SkipReason,
        asset_sensor,
        file_sensor,
        schedule,
        sensor,
    )
    from orch.conditions import eager, max_lag, on_cron, on_missing  # noqa: F401
    from orch.definitions import Definitions  # noqa: F401
    from orch.ops import (  # noqa: F401
        Backoff,
        DynamicOut,
        DynamicOutput,
        GraphDefinition,
        In,
        JobDefinition,
        OpContext,
        OpDefinition,
        Out,
        Output,
        RetryPolicy,
        graph,
        graph_asset,
        job,
        op,
    )
    from orch.storage import InputContext, IOManager, OutputContext  # noqa: F401
    from orch.typecheck import Type, frame_type  # noqa: F401

__version__ = "0.1.0"

_LAZY = {
    "Definitions": "orch.definitions",
    "AssetContext": "orch.assets",
    "Config": "orch.assets",
    "Resource": "orch.assets",
    "asset": "orch.assets",
    "check": "orch.assets",
    "HookContext": "orch.assets",
    "HookDefinition": "orch.assets",
    "success_hook": "orch.assets",
    "failure_hook": "orch.assets",
    "RunRequest": "orch.automation.schedules",
    "ScheduleContext": "orch.automation.schedules",
    "SensorContext": "orch.automation.schedules",
    "SkipReason": "orch.automation.schedules",
    "asset_sensor": "orch.automation.schedules",
    "RunStatusContext": "orch.automation.run_status",
    "run_failure_sensor": "orch.automation.run_status",
    "multi_asset_sensor": "orch.automation.run_status",
    "post_webhook": "orch.automation.alerts",
    "webhook_on_failure": "orch.automation.alerts",
    "run_status_sensor": "orch.automation.run_status",
    "file_sensor": "orch.automation.schedules",
    "schedule": "orch.automation.schedules",
    "sensor": "orch.automation.schedules",
    "IOManager": "orch.storage",
    "InputContext": "orch.storage",
    "OutputContext": "orch.storage",
    "Backoff": "orch.ops",
    "DynamicOut": "orch.ops",
    "DynamicOutput": "orch.ops",
    "GraphDefinition": "orch.ops",
    "In": "orch.ops",
    "JobDefinition": "orch.ops",
    "OpContext": "orch.ops",
    "OpDefinition": "orch.ops",
    "Out": "orch.ops",
    "Output": "orch.ops",
    "RetryPolicy": "orch.ops",
    "graph": "orch.ops",
    "graph_asset": "orch.ops",
    "job": "orch.ops",
    "op": "orch.ops",
    "eager": "orch.conditions",
    "on_missing": "orch.conditions",
    "on_cron": "orch.conditions",
    "max_lag": "orch.conditions",
    "Type": "orch.typecheck",
    "frame_type": "orch.typecheck",
}

__all__ = ["OrchError", "__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'orch' has no attribute '{name}'")
