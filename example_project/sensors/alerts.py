"""Tell someone when a run fails: one Slack-compatible message per failed run, posted by
`orch daemon` to the webhook URL in JAFFLE_ALERTS_WEBHOOK_URL (docs/production.md).

The URL is a secret, so it comes from the environment. Without it the sensor is off (`orch
sensor ls` shows it), so `make demo` and a laptop need no server; set it and the daemon posts.
"""

from __future__ import annotations

import orch

alert_on_failure = orch.webhook_on_failure(
    "alert_on_failure",
    url_env="JAFFLE_ALERTS_WEBHOOK_URL",
    retries=2,  # a timeout or a 5xx is retried twice, then recorded as undelivered
    timeout=5,
)
