"""Automation: jobs, schedules, sensors and the daemon that ticks them (on top of orch.run)."""
