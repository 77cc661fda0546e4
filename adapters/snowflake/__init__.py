"""The Snowflake adapter (snowflake-connector-python): ``adapter`` holds the adapter and its
authentication, ``retry`` the transient-error policy, ``typemap`` the Arrow <-> Snowflake types."""

from __future__ import annotations

from orch.adapters.snowflake.adapter import (
    AUTHENTICATORS,
    EXTERNAL_BROWSER,
    KEY_PAIR,
    OAUTH,
    PASSWORD,
    SnowflakeAdapter,
)
from orch.adapters.snowflake.retry import backoff_delay, is_transient
from orch.adapters.snowflake.typemap import snowflake_type

__all__ = [
    "AUTHENTICATORS",
    "EXTERNAL_BROWSER",
    "KEY_PAIR",
    "OAUTH",
    "PASSWORD",
    "SnowflakeAdapter",
    "backoff_delay",
    "is_transient",
    "snowflake_type",
]
