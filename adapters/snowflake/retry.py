"""Which Snowflake errors are transient, and how long to wait before trying again."""

from __future__ import annotations

import logging
import re
from functools import cache

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- retry policy

MAX_BACKOFF_SECONDS = 30.0
ER_CONNECTION_IS_CLOSED = 250002

# Snowflake error numbers (login) and the profile setting each one points at.
_LOGIN_ERRNO_SETTINGS = {
    390100: "user` or `password",  # incorrect username or password
    390144: "private_key_path",  # JWT token is invalid: the public key is not set for the user
    390189: "role",  # role not granted / does not exist
    390201: "database",  # database does not exist or not authorized
    390303: "token",  # invalid OAuth access token
    390318: "token",  # OAuth access token expired
}


@cache
def _error_classes() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(transient, permanent) exception classes of the connector.

    The connector (with pandas) takes over a second to import, so it is imported when an error is
    first judged, never when orch merely reads the adapter class (profile validation).
    """
    import snowflake.connector.errors as sf_errors

    transient: tuple[type[BaseException], ...] = (
        sf_errors.ServiceUnavailableError,
        sf_errors.InternalServerError,
        sf_errors.BadGatewayError,
        sf_errors.GatewayTimeoutError,
        sf_errors.OtherHTTPRetryableError,
        sf_errors.TooManyRequests,
        sf_errors.RequestTimeoutError,
        ConnectionError,  # stdlib: reset, aborted, refused, broken pipe
        TimeoutError,
    )
    permanent: tuple[type[BaseException], ...] = (
        sf_errors.ProgrammingError,  # syntax, object does not exist, ...
        sf_errors.IntegrityError,
        sf_errors.DataError,
        sf_errors.NotSupportedError,
        sf_errors.NonRetryableTlsError,
        sf_errors.RevocationCheckError,
        sf_errors.ForbiddenError,
        sf_errors.BadRequest,
    )
    return transient, permanent


_TRANSIENT_TEXT = re.compile(
    r"is resuming|being resumed|connection (?:was )?reset|connection aborted|"
    r"remote end closed|broken pipe|timed out|temporarily unavailable|service unavailable|"
    r"connection is closed|HTTP\s*5\d\d|\b50[234]\b",
    re.IGNORECASE,
)
_PERMANENT_TEXT = re.compile(
    r"incorrect username or password|not granted|does not exist|not authorized|"
    r"cannot be resumed|jwt token is invalid|authentication|syntax error",
    re.IGNORECASE,
)


def is_transient(error: BaseException) -> bool:
    """Whether retrying the statement (or the login) may succeed.

    Transient: network failures (OperationalError, connection reset/closed), HTTP 5xx, a warehouse
    that is resuming. Permanent: SQL errors (syntax, unknown object), bad credentials or grants.
    """
    import snowflake.connector.errors as sf_errors  # loaded by _error_classes: a lookup

    transient_classes, permanent_classes = _error_classes()
    text = str(error)
    if _PERMANENT_TEXT.search(text):
        return False
    if isinstance(error, permanent_classes):
        return False
    if isinstance(error, transient_classes) or _TRANSIENT_TEXT.search(text):
        return True
    if isinstance(error, sf_errors.Error) and getattr(error, "errno", None) == (
        ER_CONNECTION_IS_CLOSED
    ):
        return True
    sqlstate = str(getattr(error, "sqlstate", None) or "")
    if sqlstate.startswith("08") and sqlstate != "08001":  # connection exception (not login)
        return True
    return isinstance(error, sf_errors.OperationalError)


def backoff_delay(attempt: int, base: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): ``base * 2**attempt``, capped."""
    return float(min(base * (2**attempt), MAX_BACKOFF_SECONDS))
