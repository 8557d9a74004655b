"""Issue 19: per-minute flow rollups in scale-out. Each tracker writes the rows of its internal
partitions (part = the partition), so two trackers' rows summed give the one-process figures on
the same input: flows per minute, flow type and step, and how many were within their SLA or
deadline. When a tracker is killed and another takes its partitions over later, the minutes
it had not written yet are counted again, whole. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest

from collector.flows.definition import FlowDefinition, load_definitions
from collector.flows.query import restore_tracker, rollups
from collector.flows.tracker import FlowTracker
from collector.model import Event
from collector.store.base import Batch, Store, open_store
from tests.flows.conftest import ROOT, at, ev

HAPPY = ["OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
         "OrderCompleted"]
PARTS = 4
CHUNK_S = 30
END_S = 720
_DATABASES = itertools.count()


@pytest.fixture(scope="module")
def definitions() -> tuple[FlowDefinition, ...]:
    return load_definitions([ROOT / "schemas" / "flows"])


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    names = (f"rollups_{n}" for n in _DATABASES)

    def make() -> Store:
        if request.param == "sqlite":
            return open_store(f"sqlite:///{tmp_path / f'{next(names)}.db'}")
        server = request.getfixturevalue("postgres_server")
        return open_store(str(server.create_database(next(names))))

    return make


def part_of(correlation_id: str) -> int:
    return zlib.crc32(correlation_id.encode()) % PARTS


def _events() -> list[Event]:
    """300 orders over ten minutes: on time, late at a step (over its 10 s), over the 45 s SLA,
    or stuck after OrderPlaced."""
    rng = Random(19)
    out = []
    for i in range(300):
        t = rng.uniform(0, 600)
        out.append(ev(HAPPY[0], t, f"o{i}"))
        if rng.random() < 0.1:
            continue  # stuck
        for kind in HAPPY[1:]:
            t += rng.uniform(0.5, 14.0)
            out.append(ev(kind, t, f"o{i}"))
    return sorted(out, key=lambda e: e.occurred_at)


def _chunks(events: list[Event], start: int, end: int,
            parts: Iterable[int] = range(PARTS)) -> Iterable[tuple[list[Event], datetime]]:
    """The events of ``parts`` in event-time chunks from ``start`` to ``end`` s, each with the
    detection clock after it (its end)."""
    wanted = set(parts)
    for s in range(start, end, CHUNK_S):
        lo, hi = at(s), at(s + CHUNK_S)
        yield ([e for e in events if lo <= e.occurred_at < hi
                and part_of(e.correlation_id) in wanted], hi)


def _track(tracker: FlowTracker, store: Store,
           chunks: Iterable[tuple[list[Event], datetime]]) -> None:
    """What a collector does per batch: track, tick, write it all in one transaction."""
    for events, now in chunks:
        update = tracker.on_events(events)
        tick = tracker.on_tick(now)
        store.write(Batch(events=events, flows=[*update.flows, *tick.flows],
                          assignments=list(update.assignments),
                          alerts=[*update.alerts, *tick.alerts],
                          flow_rollups=[*update.rollups, *tick.rollups], detected_at=now))


def _figures(store: Store) -> dict[tuple[str, str, str], tuple[int, int]]:
    return {(r["minute"], r["flow_type"], r["step"]): (r["count"], r["within_sla"])
            for r in rollups(store)}


def _one_process(definitions: tuple[FlowDefinition, ...], store: Store,
                 events: list[Event]) -> dict[tuple[str, str, str], tuple[int, int]]:
    _track(FlowTracker(definitions), store, [*_chunks(events, 0, END_S), ([], at(4000))])
    return _figures(store)


def _tracker(definitions: tuple[FlowDefinition, ...]) -> FlowTracker:
    tracker = FlowTracker(definitions)
    tracker.rollup_part = part_of
    return tracker


def test_two_trackers_rows_sum_to_the_one_process_figures(
        definitions: tuple[FlowDefinition, ...], new_store: Callable[[], Store]) -> None:
    events = _events()
    single, scaled = new_store(), new_store()
    try:
        expected = _one_process(definitions, single, events)
        for owned in ({0, 1}, {2, 3}):
            _track(_tracker(definitions), scaled,
                   [*_chunks(events, 0, END_S, owned), ([], at(4000))])
        got = _figures(scaled)
        parts = {r["part"] for r in scaled.query("SELECT DISTINCT part FROM flow_rollups")}
    finally:
        single.close()
        scaled.close()
    assert sum(n for (_, _, step), (n, _) in expected.items() if step == "*") == 300
    assert any(ok < n for n, ok in expected.values())  # some late, breached or stuck
    assert parts == set(range(PARTS))
    assert got == expected


def test_a_killed_trackers_open_minutes_are_counted_whole_by_the_next_owner(
        definitions: tuple[FlowDefinition, ...], new_store: Callable[[], Store]) -> None:
    """x (partitions 0, 1) is killed at 5:00 with minutes 4:00 and 5:00 still open (not
    written); y (2, 3) goes on to 7:00, then takes over every partition: it restores from the
    store, reads x's backlog (judging it on the clock of its events, as the group clock held
    back by x's lagging partitions does) and counts 4:00 and 5:00 of x's partitions again,
    whole."""
    events = _events()
    single, scaled = new_store(), new_store()
    try:
        expected = _one_process(definitions, single, events)
        _track(_tracker(definitions), scaled, _chunks(events, 0, 300, {0, 1}))  # x, killed
        _track(_tracker(definitions), scaled, _chunks(events, 0, 420, {2, 3}))  # y
        lacking = _figures(scaled)
        y: Any = restore_tracker(scaled, definitions, clock=at(420), part_of=part_of,
                                 parts=set(range(PARTS)))
        _track(y, scaled, [*_chunks(events, 300, 420, {0, 1}),  # x's backlog first
                           *_chunks(events, 420, END_S), ([], at(4000))])
        got = _figures(scaled)
    finally:
        single.close()
        scaled.close()
    assert lacking != expected
    assert got == expected
    assert y.rollups.too_late == 0


def test_a_new_owner_counts_from_the_oldest_minute_a_part_lacks(
        definitions: tuple[FlowDefinition, ...], new_store: Callable[[], Store]) -> None:
    """Without the per-part bound (the minute after the newest stored row of x's parts), y
    would close every minute before its own clock's horizon and x's 4:00 and 5:00 rows would
    stay missing."""
    events = _events()
    store = new_store()
    try:
        _track(_tracker(definitions), store, _chunks(events, 0, 300, {0, 1}))
        _track(_tracker(definitions), store, _chunks(events, 0, 420, {2, 3}))
        newest = {r["part"]: r["m"] for r in store.query(
            "SELECT part, MAX(minute) AS m FROM flow_rollups GROUP BY part")}
        y = restore_tracker(store, definitions, clock=at(420), part_of=part_of,
                            parts=set(range(PARTS)))
    finally:
        store.close()
    assert {newest[p][:16] for p in (0, 1)} == {"2026-01-01T12:03"}
    assert {newest[p][:16] for p in (2, 3)} == {"2026-01-01T12:05"}
    assert y.rollups is not None
    assert y.rollups.closed_until == at(0) + timedelta(minutes=4)
