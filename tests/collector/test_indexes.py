"""The queries the dashboard and `flows breaches` run on big stores are served by indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.store.base import open_store
from collector.store.sqlite import INSTANCE_EVENTS

PLANS = {
    "breach list": (
        "SELECT o.correlation_id FROM outbox o JOIN flows f ON f.instance_id = o.instance_id "
        "WHERE o.kind = 'SlaBreached' AND o.flow_type = 'order' ORDER BY f.sla_over_s DESC "
        "LIMIT 100", "outbox_kind"),
    "breach counts": (
        "SELECT flow_type, step, COUNT(*) FROM outbox WHERE kind = 'SlaBreached' "
        "GROUP BY flow_type, step", "COVERING INDEX outbox_kind"),
    "an instance's events": (
        INSTANCE_EVENTS.format(columns="*") + " ORDER BY occurred_at", "events_correlation"),
    "flows breaches": (
        "SELECT f.instance_id, o.alert_id FROM flows f LEFT JOIN outbox o ON o.instance_id = "
        "f.instance_id AND o.kind = 'SlaBreached' WHERE f.sla_breached = 1", "flows_breached"),
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_query_reads_by_index(tmp_path: Path, name: str) -> None:
    path = tmp_path / "store.db"
    open_store(f"sqlite:///{path}").close()  # applies every migration
    sql, index = PLANS[name]
    with sqlite3.connect(path) as db:
        params = ("i",) * sql.count("?")
        plan = " | ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert index in plan, plan
    assert "SCAN outbox" not in plan
    assert "SCAN o " not in plan
    assert "SCAN events" not in plan
