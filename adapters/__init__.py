"""Warehouse adapters, found through the ``orch.adapters`` entry-point group by profile type.

The group is the adapter registry: the loader reads it too (for each adapter's
``target_config_class``, :class:`orch.load.project.AdapterTargetConfigs`), so a third-party
adapter registered there validates its own ``profiles.yml`` settings with file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orch.config import ADAPTER_ENTRY_POINT_GROUP, adapter_entry_points
from orch.errors import ConfigError, suggestion

if TYPE_CHECKING:
    from orch.adapters.base import Adapter
    from orch.config import TargetConfig

ENTRY_POINT_GROUP = ADAPTER_ENTRY_POINT_GROUP


def adapter_class(adapter_type: str) -> type[Adapter]:
    """The adapter class registered for ``type:`` in a profile."""
    found = adapter_entry_points()
    if adapter_type not in found:
        raise ConfigError(
            f"no adapter for target type '{adapter_type}'",
            hint=suggestion(adapter_type, found)
            or f"Known adapter types: {', '.join(sorted(found)) or 'none'}",
        )
    return found[adapter_type].load()  # type: ignore[no-any-return]


def get_adapter(target: TargetConfig, project_dir: Path) -> Adapter:
    """A new, unopened adapter for ``target``."""
    return adapter_class(target.type)(target, project_dir)
