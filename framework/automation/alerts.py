"""Alerts: post a JSON payload (Slack-compatible ``{"text": ...}``) to a webhook, never raising.

:func:`post_webhook` retries timeouts, connection errors and 5xx answers (``retries`` more times,
with a growing pause), then gives up and returns an undelivered :class:`Delivery`; it logs the
failure without the URL (a webhook URL is a secret). :func:`webhook_on_failure` is a
run-failure sensor posting one message per failed run; the URL comes from an environment
variable (``env_var``), read at each evaluation.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from orch import redaction
from orch.automation.run_status import RunStatusContext, run_failure_sensor
from orch.automation.schedules import SensorDefinition
from orch.state import StateStore

log = logging.getLogger("orch.alerts")


@dataclass(frozen=True)
class Delivery:
    """How posting went: ``delivered``, the attempts made and the last error ("" if none)."""

    delivered: bool
    attempts: int
    error: str = ""


def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    retries: int = 2,
    timeout: float = 5.0,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``payload`` as JSON to ``url``; a Delivery, never an exception."""
    body = json.dumps(payload).encode()
    error = ""
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                if 200 <= answer.status < 300:
                    return Delivery(True, attempt)
                error = f"HTTP {answer.status}"
        except urllib.error.HTTPError as err:
            error = f"HTTP {err.code}"
            if err.code < 500:  # the webhook refuses the payload: retrying will not help
                break
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            error = "timed out" if isinstance(reason, TimeoutError) else type(reason).__name__
        if attempt <= retries:
            sleep(backoff * attempt)
    log.warning("webhook alert undelivered after %d attempt(s): %s", attempt, error)
    return Delivery(False, attempt, redaction.scrub(error))


def failure_text(context: RunStatusContext) -> str:
    """The message of a failed run: job, run id, counts."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(context.run.counts.items()) if v)
    return f"orch: run {context.run.run_id} of {context.job} failed" + (
        f" ({counts})" if counts else ""
    )


def webhook_on_failure(
    name: str,
    *,
    url_env: str,
    jobs: Iterable[str] | None = None,
    retries: int = 2,
    timeout: float = 5.0,
    minimum_interval_seconds: float = 30.0,
    enabled: bool | None = None,
) -> SensorDefinition:
    """A run-failure sensor posting ``{"text": ..., "run_id", "job", "status"}`` to the URL in
    environment variable ``url_env``. Each delivery is recorded in ``logs/alerts.jsonl`` (beside
    the project's run log) and, under the daemon, in the state store's ``hook_runs`` against the
    failed run (phase ``alert``: ``orch runs show RUN`` lists it, an undelivered one as FAILED
    with its attempts and error); the daemon goes on.

    ``enabled`` (default: whether ``url_env`` is set when the file loads) keeps the sensor off
    where no webhook is configured, so a project runs without a server."""
    on = bool(os.environ.get(url_env)) if enabled is None else enabled

    def alert(context: RunStatusContext) -> None:
        url = os.environ.get(url_env, "")
        payload = {
            "text": failure_text(context), "run_id": context.run.run_id, "job": context.job,
            "status": context.run.status,
        }  # fmt: skip
        if not url:
            delivery = Delivery(False, 0, f"environment variable {url_env} is not set")
        else:
            redaction.register(url_env, url)
            delivery = post_webhook(url, payload, retries=retries, timeout=timeout)
        record = {"sensor": name, "run_id": context.run.run_id, "delivered": delivery.delivered,
                  "attempts": delivery.attempts, "error": delivery.error}  # fmt: skip
        if context.project_root is not None:
            path = context.project_root / "logs" / "alerts.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        record_delivery(context, name, delivery)

    alert.__name__ = name
    return run_failure_sensor(  # type: ignore[no-any-return]
        alert, jobs=jobs, name=name, minimum_interval_seconds=minimum_interval_seconds, enabled=on
    )


def record_delivery(context: RunStatusContext, sensor: str, delivery: Delivery) -> None:
    """Record how an alert about ``context.run`` went, as a hook run of that run (phase
    ``alert``), when the sensor runs with a writable store (the daemon; not ``orch sensor test``).
    A store that cannot write is logged, never raised: an alert never crashes the daemon."""
    state = context.state
    if not isinstance(state, StateStore) or getattr(state, "readonly", False):
        return
    error = None
    if not delivery.delivered:
        error = redaction.scrub(
            f"webhook undelivered after {delivery.attempts} attempt(s): {delivery.error}"
        )
    try:
        state.record_hook_run(
            run_id=context.run.run_id, phase="alert", index=0, name=sensor, step=None,
            status="success" if delivery.delivered else "error", error=error,
        )  # fmt: skip
    except Exception as err:  # noqa: BLE001 - the state store is down: logged, the daemon goes on
        log.warning("could not record the alert of sensor %s: %s", sensor, err)
