"""Issue 14: the fault boundary as a property. Arbitrary JSON (deep nesting, extreme times and
numbers, any Unicode, huge strings, wrong types for every envelope attribute), arbitrary bytes
and arbitrary header bytes go through the real decoder, validator, flow tracker and SQLite store,
between two valid events: nothing raises, every record ends as an event or a dead letter, and
the valid events around it are stored. Random generation seldom reaches 300 levels of nesting or
year 1 on its own, so those cases are pinned as explicit examples (and have strategies of their
own).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.envelope import Decoder, build_rules
from collector.flows.definition import load_definitions
from collector.flows.tracker import FlowTracker
from collector.model import Location, Observation
from collector.pipeline import Pipeline
from collector.settings import load_settings
from collector.store.base import Position, Store, open_store
from collector.validate import load_validator

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
_OFFSETS = itertools.count()

scalars = (st.none() | st.booleans() | st.text() | st.floats(allow_nan=False, allow_infinity=False)
           | st.integers() | st.integers(min_value=-(10**40), max_value=10**40)
           | st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 1e308, -1e-308, 0.0]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def nest(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for n in range(depth):
        value = {"k": value} if n % 2 else [value]
    return value


deep_values = st.builds(nest, st.integers(min_value=150, max_value=320), scalars)
huge_strings = st.integers(min_value=10_000, max_value=300_000).map(lambda n: "é" * n)
extreme_times = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z", "2026-01-01T10:00:00.123456789+14:00", "not a time",
    "2026-13-45T99:99:99Z", "", 0, -(10**20), 10**20, 1e300]) | st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat())
attribute = json_values | extreme_times | huge_strings

cloudevents = st.fixed_dictionaries(
    {"specversion": st.just("1.0")},
    optional={"id": attribute, "type": attribute | st.sampled_from(["OrderPlaced", "OrderPaid"]),
              "source": attribute, "time": extreme_times | attribute,
              "correlationid": attribute, "subject": attribute, "dataschema": attribute,
              "causationid": attribute, "datacontenttype": attribute,
              "data": json_values | deep_values | huge_strings, "data_base64": attribute,
              "traceparent": attribute})
header_names = st.sampled_from(["x-correlation-id", "ce_specversion", "ce_id", "ce_type",
                                "ce_source", "ce_time", "content-type", "traceparent"]) | st.text()
headers = st.lists(st.tuples(header_names, st.binary(max_size=40)), max_size=6).map(tuple)


def encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


values = (cloudevents.map(encode) | json_values.map(encode) | deep_values.map(encode)
          | st.binary(max_size=200))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path_factory.mktemp('props') / 'store.db'}")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def pipeline(store: Store) -> Pipeline:
    config = load_settings(store=store.url, schemas_dir=str(ROOT / "schemas"))
    tracker = FlowTracker(tuple(load_definitions([ROOT / "schemas" / "flows"])))
    return Pipeline(store, Decoder(build_rules(config)), tracker=tracker,
                    validate=load_validator(config))


def valid(n: int) -> Observation:
    doc = {"specversion": "1.0", "id": f"valid-{n}", "type": "OrderPlaced", "source": "shop",
           "time": "2026-01-01T10:00:00Z", "correlationid": f"valid-c-{n}", "data": {"n": n}}
    return Observation(Location("kafka", "props", 0, n), RECEIVED, encode(doc),
                       timestamp=RECEIVED)


PROPERTY = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(value=values, header_list=headers)
@example(value=encode({"specversion": "1.0", "id": "deep", "type": "OrderPlaced", "source": "s",
                       "correlationid": "c", "data": nest(300)}), header_list=())
@example(value=encode({"specversion": "1.0", "id": "y1", "type": "OrderPlaced", "source": "s",
                       "correlationid": "c", "time": "0001-01-01T00:00:00+01:00"}),
         header_list=())
@example(value=encode({"specversion": "1.0", "id": "y9999", "type": "OrderPlaced", "source": "s",
                       "correlationid": "c", "time": "9999-12-31T23:59:59-01:00"}),
         header_list=())
@example(value=encode({"specversion": "1.0", "id": "big", "type": "OrderPlaced", "source": "s",
                       "correlationid": "c", "data": {"n": 10**30}}),
         header_list=(("x-correlation-id", b"\xff\xfe\xfd"),))
@example(value=b'{"n": 1}', header_list=(("ce_specversion", b"1.0"), ("ce_id", b"\xff"),
                                         ("ce_type", b"T"), ("ce_source", b"s")))
def test_every_record_ends_as_an_event_or_a_dead_letter_and_its_neighbours_are_stored(
        store: Store, pipeline: Pipeline, value: bytes,
        header_list: tuple[tuple[str, bytes], ...]) -> None:
    before, at, after = next(_OFFSETS) * 3, 0, 0
    at, after = before + 1, before + 2
    poison = Observation(Location("kafka", "props", 0, at), RECEIVED, value,
                         headers=header_list, timestamp=RECEIVED)
    batch = pipeline.process([valid(before), poison, valid(after)],
                             [Position("props", "props", 0, after + 1)])
    assert len(batch.events) + len(batch.dead_letters) == 3
    stored = {r["id"] for r in store.query(
        "SELECT id FROM events WHERE source = 'shop' AND id IN (?, ?)",
        (f"valid-{before}", f"valid-{after}"))}
    assert stored == {f"valid-{before}", f"valid-{after}"}
    letters = store.query('SELECT reason FROM dead_letters WHERE topic = ? AND "offset" = ?',
                          ("props", at))
    events = [e for e in batch.events if e.location.offset == at]
    if events:  # an event: stored under its identity (or, unstorable, a dead letter)
        [event] = events
        rows = store.query("SELECT 1 FROM events WHERE source = ? AND id = ?",
                           (event.source, event.id))
        assert rows or letters, f"event {event.id!r} neither stored nor a dead letter"
    else:
        assert len(letters) == 1, "the record is neither an event nor a dead letter"
    assert store.positions("props") == {("props", 0): after + 1}
