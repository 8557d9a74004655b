"""The message browser's reads over a real SQLite store: filters, statuses, payloads, and what
of each partition the store holds."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from collector.messages import (
    MessageFilter,
    find_messages,
    message,
    parse_header_filter,
    partition_spans,
    topics,
)
from collector.model import (
    DeadLetter,
    DeadLetterReason,
    Event,
    EventIdentity,
    Location,
    Violation,
)
from collector.store import Batch, Position, Store, open_store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CLI = Path(sys.executable).parent / "choreoscope"


def _event(i: int, partition: int, offset: int, **over: object) -> Event:
    fields: dict[str, object] = {
        "id": f"e{i}", "type": "OrderPlaced" if i % 2 else "PaymentProcessed",
        "source": "order-service" if i % 2 else "payment-service",
        "occurred_at": T0 + timedelta(minutes=i), "correlation_id": f"c{i % 10}",
        "data": {"order_id": f"ORD-{i}", "note": "gift wrap" if i == 7 else "plain"},
        "location": Location("kafka", "orders", partition, offset), "received_at": T0,
        "key": f"ORD-{i % 10}", "headers": (("x-tenant", "acme" if i < 50 else "globex"),)}
    fields.update(over)
    return Event(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 's.db'}"
    writer = open_store(url)
    # partition 0 holds offsets 10..69 but not 30..34; partition 1 holds 0..39; offset 70 of
    # partition 0 is a dead letter; e5's payload was not captured
    events = [_event(i, 0, 10 + i + (5 if i >= 20 else 0)) for i in range(55)]
    events += [_event(100 + i, 1, i) for i in range(40)]
    events[5] = _event(5, 0, 15, data=None)
    events.append(_event(900, 0, 1, location=Location("kafka", "payments", 0, 1)))
    writer.write(Batch(
        events=events,
        dead_letters=[DeadLetter(DeadLetterReason.NOT_JSON, "not JSON",
                                 Location("kafka", "orders", 0, 70), T0 + timedelta(hours=3),
                                 b"garbage", b"ORD-3", (("x-tenant", b"acme"),))],
        violations=[Violation(EventIdentity("order-service", "e3"), "OrderPlaced",
                              "order-service", 1, "/amount", "required", "amount is required",
                              T0)],
        positions=[Position("kafka:g", "orders", 0, 80)]))
    writer.close()
    reader = open_store(url, read_only=True)
    yield reader
    reader.close()


def test_newest_first_with_events_and_dead_letters(store: Store) -> None:
    found = find_messages(store, MessageFilter(topic="orders"), limit=5)
    assert next(m.status for m in found) == "dead letter"
    assert [m.at for m in found] == sorted((m.at for m in found), reverse=True)
    assert found[0].key == "ORD-3"
    assert found[0].headers == (("x-tenant", "acme"),)
    assert found[0].reason == "not-json"


@pytest.mark.parametrize(("f", "ids"), [
    (MessageFilter(topic="orders", key="ORD-3"), ["", "e3", "e13", "e23", "e33", "e43", "e53",
                                                  "e103", "e113", "e123", "e133"]),
    (MessageFilter(topic="orders", correlation_id="c7"), [
        "e7", "e17", "e27", "e37", "e47", "e107", "e117", "e127", "e137"]),
    (MessageFilter(topic="orders", partition=0, offset_from=63, offset_to=69),
     ["e48", "e49", "e50", "e51", "e52", "e53", "e54"]),
    (MessageFilter(topic="orders", header=("x-tenant", "globex"), partition=0),
     ["e50", "e51", "e52", "e53", "e54"]),
    (MessageFilter(topic="orders", text="GIFT wrap"), ["e7"]),
    (MessageFilter(topic="orders", event_type="OrderPlaced", source="order-service",
                   since=T0 + timedelta(minutes=130), until=T0 + timedelta(minutes=136)),
     ["e131", "e133", "e135"]),
])
def test_each_filter_finds_exactly_its_messages(store: Store, f: MessageFilter,
                                                ids: list[str]) -> None:
    found = find_messages(store, f, limit=100)
    if f.text is not None or f.header is not None:  # within the window (default last hour)
        assert found == []  # these are older than the topic's last hour
        found = find_messages(store, replace(f, since=T0), limit=100)
    assert sorted(m.event_id or "" for m in found) == sorted(ids)


def test_the_text_search_defaults_to_the_last_hour_of_the_topic(store: Store) -> None:
    assert find_messages(store, MessageFilter(topic="orders", text="gift")) == []
    assert len(find_messages(store, MessageFilter(topic="orders", header=("x-tenant", None)),
                             limit=100)) == 41  # e100..e139 (the last hour) and the dead letter
    assert [m.event_id for m in find_messages(
        store, MessageFilter(topic="orders", text="ORD-139"))] == ["e139"]


def test_a_header_name_alone_matches_any_value_and_filters_are_parsed() -> None:
    assert parse_header_filter("x-tenant=acme") == ("x-tenant", "acme")
    assert parse_header_filter("x-tenant") == ("x-tenant", None)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_header_filter("=x")


def test_statuses_and_one_message_with_its_payload(store: Store) -> None:
    [m3] = find_messages(store, MessageFilter(topic="orders", key="ORD-3", partition=0,
                                              offset_to=13))
    assert m3.status == "violation"
    full = message(store, source="order-service", event_id="e3")
    assert full is not None
    assert full.payload == {"order_id": "ORD-3", "note": "plain"}
    assert full.violations[0]["pointer"] == "/amount"
    not_kept = message(store, source="order-service", event_id="e5")
    assert not_kept is not None
    assert not not_kept.payload_kept
    assert not_kept.payload is None
    dl = find_messages(store, MessageFilter(topic="orders", partition=0, offset_from=70))[0]
    shown = message(store, dead_letter_id=dl.dead_letter_id)
    assert shown is not None
    assert shown.payload == "garbage"


def test_partition_spans_say_what_the_store_holds(store: Store) -> None:
    p0, p1 = partition_spans(store, "orders")
    assert (p0.first_offset, p0.last_offset, p0.events, p0.dead_letters) == (10, 70, 55, 1)
    assert p0.gaps == ((30, 34),)
    assert p0.missing == 5
    notes = " | ".join(p0.notes())
    assert "offsets 0 to 9: not stored" in notes
    assert "5 offsets inside the stored range not captured (30 to 34)" in notes
    assert "offsets 71 to 79: read by the collector but not stored" in notes
    assert (p1.first_offset, p1.last_offset, p1.missing, p1.notes()) == (0, 39, 0, [])
    assert p0.first_at == T0
    assert p0.last_at == T0 + timedelta(minutes=54)
    assert topics(store) == ["orders", "payments"]


def test_filtered_queries_go_by_an_index(store: Store) -> None:
    from collector.messages import _event_rows

    plans = []
    for f in (MessageFilter(topic="orders", key="ORD-1"),
              MessageFilter(topic="orders", correlation_id="c1"),
              MessageFilter(topic="orders", partition=0, offset_from=1, offset_to=5),
              MessageFilter(topic="orders", since=T0)):
        captured: list[str] = []
        sql_store = _PlanStore(store, captured)
        _event_rows(sql_store, f, 10)  # type: ignore[arg-type]
        plans.extend(captured)  # a key: two queries, by the key and by the correlation id
    assert all("USING INDEX" in p or "USING COVERING INDEX" in p for p in plans), plans
    assert ["events_key" in plans[0], "events_correlation" in plans[1],
            "events_correlation" in plans[2], "events_topic_offset" in plans[3],
            "events_topic_time" in plans[4]] == [True] * 5


class _PlanStore:
    def __init__(self, store: Store, captured: list[str]) -> None:
        self.store, self.captured = store, captured

    def query(self, sql: str, params: object = ()) -> list[dict[str, object]]:
        rows = self.store.query("EXPLAIN QUERY PLAN " + sql, params)  # type: ignore[arg-type]
        self.captured.append(" ".join(str(r["detail"]) for r in rows))
        return []


def test_the_command_line_lists_filters_and_prints_json(store: Store, tmp_path: Path) -> None:
    url = store.url  # type: ignore[attr-defined]
    out = subprocess.run([str(CLI), "messages", "--store", url, "--topic", "orders", "--key",
                          "ORD-3", "--partition", "0", "--json", "--limit", "3"],
                         capture_output=True, text=True, check=True).stdout
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert [r["status"] for r in rows] == ["dead letter", "event", "event"]
    assert rows[1]["key"] == "ORD-3"
    assert rows[1]["payload"] == {"order_id": "ORD-53", "note": "plain"}
    assert rows[1]["payload_kept"] is True
    not_kept = subprocess.run([str(CLI), "messages", "--store", url, "--topic", "orders",
                               "--key", "ORD-5", "--partition", "0", "--offset-to", "15",
                               "--json"], capture_output=True, text=True, check=True).stdout
    assert [(r["event_id"], r["payload_kept"], r["payload"])
            for r in map(orjson.loads, not_kept.splitlines())] == [("e5", False, None)]
    assert rows[1]["headers"] == [["x-tenant", "globex"]]
    text = subprocess.run([str(CLI), "messages", "--store", url, "--topic", "orders",
                           "--header", "x-tenant=acme", "--limit", "2", "--since",
                           T0.isoformat()],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    assert text[0].split()[:3] == ["PARTITION", "OFFSET", "TIME"]
    assert "x-tenant=acme" in text[1]
    assert len(text) == 3
    spans = subprocess.run([str(CLI), "messages", "--store", url, "--topic", "orders",
                            "--partitions"], capture_output=True, text=True, check=True).stdout
    assert "offsets 0 to 9: not stored" in spans
    bad = subprocess.run([str(CLI), "messages", "--store", url, "--topic", "orders", "--since",
                          "yesterday"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "choreoscope messages: --since 'yesterday': expected ISO 8601, e.g. "
        "2026-01-05T08:00:00Z"]


def test_a_record_keyed_by_its_correlation_id_is_found_by_key_and_costs_no_key_index(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    writer = open_store(url)
    writer.write(Batch(events=[
        _event(1, 0, 1, key="c1"),  # keyed by its correlation id
        _event(2, 0, 2, key="c1"),  # another event's correlation id as its key
        _event(11, 0, 3, key="c1")]))  # correlation c1 too, keyed by it
    writer.close()
    store = open_store(url, read_only=True)
    try:
        found = find_messages(store, MessageFilter(topic="orders", key="c1"))
        indexed = store.query("SELECT COUNT(*) AS n FROM events INDEXED BY events_key "
                              "WHERE key = 'c1' AND key <> correlation_id")[0]["n"]
    finally:
        store.close()
    assert [m.event_id for m in found] == ["e11", "e2", "e1"]
    assert indexed == 1
