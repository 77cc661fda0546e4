"""Warehouse adapters, found through the ``orch.adapters`` entry-point group by profile type.

The group is the adapter registry: the loader reads it too (for each adapter's
``target_config_class``, :class:`orch.load.project.AdapterTargetConfigs`), so a third-party
adapter registered there validates its own ``profiles.yml`` settings with file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orch.config import (
    ADAPTER_ENTRY_POINT_GROUP,
    adapter_types,
    is_adapter_type,
    load_adapter_class,
)
from orch.errors import ConfigError, suggestion

if TYPE_CHECKING:
    from orch.adapters.base import Adapter
    from orch.config import TargetConfig

ENTRY_POINT_GROUP = ADAPTER_ENTRY_POINT_GROUP


def adapter_class(adapter_type: str) -> type[Adapter]:
    """The adapter class registered for ``type:`` in a profile."""
    if not is_adapter_type(adapter_type):
        found = adapter_types()
        raise ConfigError(
            f"no adapter for target type '{adapter_type}'",
            hint=suggestion(adapter_type, found)
            or f"Known adapter types: {', '.join(found) or 'none'}",
        )
    return load_adapter_class(adapter_type)  # type: ignore[no-any-return]


def get_adapter(target: TargetConfig, project_dir: Path) -> Adapter:
    """A new, unopened adapter for ``target``."""
    return adapter_class(target.type)(target, project_dir)
