"""Identities and alerts: instance ids from start events, stable alert ids, alert values."""

from __future__ import annotations

import hashlib
from datetime import datetime

from collector.flows._state import Flow, T
from collector.model import Alert, AlertKind

__all__ = ["alert_id", "build_alert", "instance_id"]


def instance_id(source: str, event_id: str) -> str:
    """A flow instance's id: derived from its start event's identity, so replays agree."""
    raw = f"{source}\x1f{event_id}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def alert_id(instance: str, kind: AlertKind, step: str | None) -> str:
    """The same finding about the same instance always has the same id."""
    raw = f"{instance}\x1f{kind.value}\x1f{step or ''}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def build_alert(flow: Flow, kind: AlertKind, step: str | None, at: datetime) -> Alert:
    """An alert about ``flow`` with its timings: start, deadline, SLA deadline, amount over."""
    over = flow.over
    return Alert(
        alert_id=alert_id(flow.iid, kind, step), kind=kind, instance_id=flow.iid,
        correlation_id=flow.corr, flow_type=flow.d.flow_type, step=step, at=at,
        details={
            "definition_version": flow.d.version,
            "started_at": flow.start[T].isoformat(),
            "deadline": None if flow.deadline is None else flow.deadline.isoformat(),
            "sla_deadline": flow.sla_deadline.isoformat(),
            "expected_next": list(flow.expected),
            "over_s": None if over is None else over.total_seconds(),
        },
    )
