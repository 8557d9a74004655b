"""Faults the simulator injects, their rates, and the plan drawn for each flow instance.

A rate is the fraction of flow instances that get the fault (``--fault-rate lost=0.05``: about
one flow in twenty loses an event). Each chosen flow gets it once:

- event faults (``lost``, ``slow``, ``duplicate``, ``reorder``, ``bad-schema``) pass over a
  drawn number (0-2) of eligible events of the flow, then hit the next one; an event whose flow
  ends with it is the last chance and is always hit, so a chosen flow gets its fault unless an
  earlier ``lost`` stopped the flow first;
- extra-record faults (``unknown-type``, ``orphan``, ``undecodable``, ``no-correlation``) add one
  record next to the flow's start event.

The draws come from their own random source, one fixed number per flow whatever the rates, so
the same seed gives the same flows with or without faults: a faulted run differs from the clean
run only where a fault hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from random import Random

from collector.exceptions import ConfigError

__all__ = ["DEMO_FAULT_RATES", "EVENT_FAULTS", "EXTRA_FAULTS", "Fault", "FaultPlan", "draw_plan",
           "parse_fault_rates"]


class Fault(StrEnum):
    LOST = "lost"
    SLOW = "slow"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    BAD_SCHEMA = "bad-schema"
    UNKNOWN_TYPE = "unknown-type"
    ORPHAN = "orphan"
    UNDECODABLE = "undecodable"
    NO_CORRELATION = "no-correlation"


DEMO_FAULT_RATES: dict[Fault, float] = {
    Fault.LOST: 0.02, Fault.SLOW: 0.05, Fault.DUPLICATE: 0.03, Fault.REORDER: 0.03,
    Fault.BAD_SCHEMA: 0.02, Fault.UNKNOWN_TYPE: 0.01, Fault.ORPHAN: 0.01,
    Fault.UNDECODABLE: 0.005, Fault.NO_CORRELATION: 0.005}
"""A mix for demonstrations: a few stuck flows, some breaches, one of every other finding."""

EVENT_FAULTS = (Fault.LOST, Fault.SLOW, Fault.DUPLICATE, Fault.REORDER, Fault.BAD_SCHEMA)
EXTRA_FAULTS = (Fault.UNKNOWN_TYPE, Fault.ORPHAN, Fault.UNDECODABLE, Fault.NO_CORRELATION)
_EXPECTED = (f"NAME=RATE with NAME one of {', '.join(f.value for f in Fault)} "
             "and RATE a number from 0 to 1")


def _parse_one(text: str) -> tuple[Fault, float]:
    name, sep, rate_text = text.partition("=")
    try:
        fault = Fault(name.strip())
        rate = float(rate_text)
    except ValueError:
        raise ConfigError("--fault-rate", text, _EXPECTED) from None
    if not sep or not 0.0 <= rate <= 1.0:
        raise ConfigError("--fault-rate", text, _EXPECTED)
    return fault, rate


def parse_fault_rates(texts: Iterable[str]) -> dict[Fault, float]:
    """``["lost=0.05", "slow=0.1"]`` -> rates; a bad item raises `ConfigError` naming it."""
    return dict(_parse_one(t) for t in texts)


@dataclass(slots=True)
class FaultPlan:
    """The faults one flow instance is to get, and how many eligible events each passes over."""

    skips: dict[Fault, int] = field(default_factory=dict)
    extras: tuple[Fault, ...] = ()
    rng: Random | None = None
    """The flow's own random source for fault details (delays, ids, bytes)."""

    def lands(self, fault: Fault, last_chance: bool) -> bool:
        """Called at each eligible event: whether the fault hits this one (at most once)."""
        skip = self.skips.get(fault)
        if skip is None:
            return False
        if skip == 0 or last_chance:
            del self.skips[fault]
            return True
        self.skips[fault] = skip - 1
        return False


def draw_plan(rng: Random, rates: Mapping[Fault, float]) -> FaultPlan | None:
    """One flow's plan; draws the same amount of randomness whatever the rates."""
    skips: dict[Fault, int] = {}
    extras: list[Fault] = []
    for fault in Fault:
        chosen = rng.random() < rates.get(fault, 0.0)
        skip = int(rng.random() * 3)
        if chosen and fault in EVENT_FAULTS:
            skips[fault] = skip
        elif chosen:
            extras.append(fault)
    seed = rng.getrandbits(64)
    if not skips and not extras:
        return None
    return FaultPlan(skips, tuple(extras), Random(seed))
