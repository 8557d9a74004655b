"""Shared helpers for the flow engine's tests: definitions from schemas/, events built tersely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.flows.definition import FlowDefinition, load_definitions
from collector.model import Event, Location

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: str, seconds: float, corr: str = "c1", *, id: str | None = None,
       source: str = "svc", cause: str | None = None, seq: int | None = None) -> Event:
    return Event(
        id=id or f"{corr}-{kind}-{seconds}", type=kind, source=source, occurred_at=at(seconds),
        correlation_id=corr, data=None, location=Location("test"), received_at=T0,
        causation_id=cause, sequence=seq,
    )


@pytest.fixture(scope="session")
def definitions() -> tuple[FlowDefinition, ...]:
    return load_definitions([ROOT / "schemas" / "flows"])
