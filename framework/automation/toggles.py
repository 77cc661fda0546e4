"""Schedules and sensors switched on or off at run time (``orch ui``), kept in the state store.

The project file's ``enabled:`` is the default; a switch stored in the state store (one cursor
row ``toggle:<name>`` holding ``on`` or ``off``) overrides it until switched back. ``orch daemon``
re-reads the switches every iteration, ``orch schedule tick`` when it starts, and
``orch schedule ls`` / ``orch sensor ls`` show the result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from orch.state import StateReader, StateStore

if TYPE_CHECKING:
    from orch.automation.schedules import Automation

A = TypeVar("A", bound="Automation")

TOGGLE_PREFIX = "toggle:"


def stored_switch(state: StateReader, name: str) -> bool | None:
    """The stored switch of a schedule or sensor: True on, False off, None not switched."""
    value = state.get_cursor(TOGGLE_PREFIX + name)
    return None if value is None else value == "on"


def set_enabled(state: StateStore, name: str, enabled: bool) -> None:
    """Switch schedule or sensor ``name`` on or off."""
    state.set_cursor(TOGGLE_PREFIX + name, "on" if enabled else "off")


def apply_switches(automation: A, state: StateReader | None) -> A:
    """``automation`` with each schedule's and sensor's stored switch applied."""
    if state is None:
        return automation
    schedules = {}
    for name, defn in automation.schedules.items():
        switch = stored_switch(state, name)
        schedules[name] = defn if switch is None else replace(defn, enabled=switch)
    sensors = {}
    for name, sn in automation.sensors.items():
        switch = stored_switch(state, name)
        sensors[name] = sn if switch is None else replace(sn, enabled=switch)
    return replace(automation, schedules=schedules, sensors=sensors)
