"""Properties of the map's core: the order traffic arrives in never matters, and a window's
traffic split into pieces (per minute, per hour) adds up to the same map."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.eventmap import build_event_map
from catalog.traffic import LATENCY_BUCKETS_MS, EdgeKind, EdgeTraffic
from tests.catalog_map.conftest import T0
from tests.catalog_map.test_eventmap import WINDOW

rows = st.builds(
    lambda kind, svc, ev, topic, n, v, minute, bucket: EdgeTraffic(
        kind, f"svc-{svc}", f"T{ev}", f"topic-{topic}" if topic is not None else None, n,
        T0 + timedelta(minutes=minute), T0 + timedelta(minutes=minute, seconds=59),
        violations=min(v, n), errors=min(v, n),
        latency=tuple(n if i == bucket else 0 for i in range(len(LATENCY_BUCKETS_MS)))
        if kind == EdgeKind.CONSUME else ()),
    st.sampled_from([EdgeKind.PRODUCE, EdgeKind.CONSUME]), st.integers(0, 4), st.integers(0, 6),
    st.one_of(st.none(), st.integers(0, 2)), st.integers(1, 50), st.integers(0, 5),
    st.integers(0, 59), st.integers(0, len(LATENCY_BUCKETS_MS) - 1))


def snapshot(traffic: list[EdgeTraffic]) -> tuple[object, object]:
    g = build_event_map(traffic, window=WINDOW).graph
    return (sorted(g.nodes(data=True)),
            sorted((s, d, sorted(a.items())) for s, d, a in g.edges(data=True)))


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, max_size=25), st.randoms(use_true_random=False))
def test_the_order_of_traffic_rows_does_not_matter(traffic: list[EdgeTraffic], rnd) -> None:
    shuffled = list(traffic)
    rnd.shuffle(shuffled)
    assert snapshot(shuffled) == snapshot(traffic)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, max_size=25))
def test_a_row_split_in_two_gives_the_same_map(traffic: list[EdgeTraffic]) -> None:
    """Rollup rows of the same edge from different minutes merge into the same edge."""
    split: list[EdgeTraffic] = []
    for t in traffic:
        if t.count < 2:
            split.append(t)
            continue
        half = t.count // 2
        first_latency = tuple(half if x else 0 for x in t.latency)  # one bucket holds all
        rest_latency = tuple(t.count - half if x else 0 for x in t.latency)
        v = min(t.violations, half)
        split.append(EdgeTraffic(t.kind, t.service, t.event_type, t.topic, half, t.first_seen,
                                 t.first_seen, v, v, first_latency))
        split.append(EdgeTraffic(t.kind, t.service, t.event_type, t.topic, t.count - half,
                                 t.first_seen, t.last_seen, t.violations - v, t.errors - v,
                                 rest_latency))
    assert snapshot(split) == snapshot(traffic)
