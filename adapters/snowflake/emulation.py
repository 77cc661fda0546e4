"""``ORCH_FAKESNOW``: run a Snowflake target on fakesnow (DuckDB) instead of the network.

``ORCH_FAKESNOW=1 orch build -t prod`` builds the project through the real connector with its
``connect`` and ``write_pandas`` patched by fakesnow, in memory (gone when the command ends);
``ORCH_FAKESNOW=<folder>`` keeps the emulated databases in that folder (relative to the project),
so a later command (``orch status -t prod``) sees what an earlier one built. The target's settings
are still validated; no login is attempted.

fakesnow is a test dependency, imported only when asked. Its patch is process-wide: every adapter
of the process shares one emulated account (the models and the ``_ORCH`` state alike), taken by
the first adapter that connects and undone when the last one closes. When fakesnow is already
patched in (a test inside ``fakesnow.patch()``), that patch is used as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from pathlib import Path
from unittest import mock

from orch.errors import WarehouseConnectionError

log = logging.getLogger(__name__)

FAKESNOW_ENV = "ORCH_FAKESNOW"
_IN_MEMORY = {"1", "true", "yes", "on", "memory"}
_OFF = {"", "0", "false", "no", "off"}

_lock = threading.Lock()
_users = 0
_patch: contextlib.ExitStack | None = None


def requested(project_dir: Path) -> tuple[bool, Path | None]:
    """Whether ``ORCH_FAKESNOW`` asks for fakesnow, and the folder to keep its databases in."""
    value = os.environ.get(FAKESNOW_ENV, "").strip()
    if value.lower() in _OFF:
        return False, None
    if value.lower() in _IN_MEMORY:
        return True, None
    folder = Path(value).expanduser()
    return True, folder if folder.is_absolute() else Path(project_dir) / folder


def acquire(db_path: Path | None) -> bool:
    """Patch fakesnow in (once per process); True when the caller must :func:`release` it.

    Raises WarehouseConnectionError when fakesnow is not installed.
    """
    global _users, _patch
    try:
        import fakesnow  # a test dependency: only when ORCH_FAKESNOW asks for it
    except ImportError:
        raise WarehouseConnectionError(
            f"{FAKESNOW_ENV} is set, but fakesnow is not installed",
            hint="Install it (pip install 'fakesnow==0.12.1', or orch's [test] extra), or unset "
            f"{FAKESNOW_ENV} to connect to the account",
        ) from None
    import snowflake.connector

    with _lock:
        if _users == 0:
            if isinstance(snowflake.connector.connect, mock.MagicMock):
                return False  # patched by someone else (a test): use theirs
            stack = contextlib.ExitStack()
            # fakesnow reads results through DuckDB's DB-API Arrow export, which warns of a copy
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning)
            if db_path is not None:
                db_path.mkdir(parents=True, exist_ok=True)
            stack.enter_context(fakesnow.patch(db_path=db_path))
            _patch = stack
            where = f"databases in {db_path}" if db_path is not None else "in memory"
            log.warning("%s: Snowflake targets run on fakesnow (%s), not on an account",
                        FAKESNOW_ENV, where)  # fmt: skip
        _users += 1
        return True


def release() -> None:
    """Give back one :func:`acquire`; the last one undoes the patch."""
    global _users, _patch
    with _lock:
        _users -= 1
        if _users == 0 and _patch is not None:
            stack, _patch = _patch, None
            stack.close()
