"""The example project's webhook alert: off without its URL (so `make demo` needs no server), on
with it. Its code provenance on the site: tests/docs/test_docs_provenance.py."""

from __future__ import annotations

from pathlib import Path

from orch.automation.schedules import load_automation
from orch.config import RunOptions
from orch.load.project import load_project


def test_the_alert_sensor_is_off_without_its_webhook_url(
    example_project: Path, monkeypatch
) -> None:
    monkeypatch.delenv("JAFFLE_ALERTS_WEBHOOK_URL", raising=False)
    project = load_project(RunOptions(project_dir=example_project))
    sensor = load_automation(project).sensors["alert_on_failure"]
    assert sensor.kind == "run_status" and sensor.enabled is False


def test_the_alert_sensor_is_on_with_its_webhook_url(example_project: Path, monkeypatch) -> None:
    monkeypatch.setenv("JAFFLE_ALERTS_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    project = load_project(RunOptions(project_dir=example_project))
    assert load_automation(project).sensors["alert_on_failure"].enabled is True
