"""Issue 14, "A fault boundary around every record": one record never stops the collector.

Each poison record sits among valid events in one batch that goes through the real decoder,
validator, flow tracker and SQLite store; the poison becomes a dead letter with its reason and
every valid event around it is stored. Before the fix, the 300-level payload and the extreme
times raised from the store's encoding (a crash loop on every restart).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.envelope import CaptureRules, Decoder, EnvelopeRules, Limits, build_rules
from collector.flows.definition import load_definitions
from collector.flows.tracker import FlowTracker
from collector.model import DeadLetter, Event, Location, Observation
from collector.pipeline import Pipeline
from collector.settings import load_settings
from collector.store.base import Position, Store, open_store
from collector.store.sqlite import event_from_row

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def cloudevent(i: int, **over: Any) -> bytes:
    doc: dict[str, Any] = {
        "specversion": "1.0", "id": f"e-{i}", "type": "OrderPlaced", "source": "shop",
        "time": "2026-01-01T10:00:00Z", "correlationid": f"c-{i}", "data": {"n": i}}
    doc.update(over)
    # the standard library writes what orjson cannot (300 levels, integers past 64 bits)
    return json.dumps({k: v for k, v in doc.items() if v is not None},
                      separators=(",", ":"), ensure_ascii=False).encode()


def observation(value: bytes, offset: int, headers: tuple[tuple[str, bytes], ...] = ()
                ) -> Observation:
    return Observation(Location("kafka", "orders", 0, offset), RECEIVED, value,
                       headers=headers, timestamp=RECEIVED)


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()  # and its checkpoint thread


def pipeline(store: Store, rules: EnvelopeRules | None = None) -> Pipeline:
    from collector.validate import load_validator

    settings = load_settings(store=store.url, schemas_dir=str(ROOT / "schemas"))
    tracker = FlowTracker(tuple(load_definitions([ROOT / "schemas" / "flows"])))
    return Pipeline(store, Decoder(rules or build_rules(settings)), tracker=tracker,
                    validate=load_validator(settings))


def run_between_valid(store: Store, poison: bytes, rules: EnvelopeRules | None = None,
                      headers: tuple[tuple[str, bytes], ...] = ()) -> dict[str, Any]:
    """The poison at offset 5 between ten valid events; answers its dead letter row."""
    records = [observation(cloudevent(i), i) for i in range(5)]
    records.append(observation(poison, 5, headers))
    records += [observation(cloudevent(i), i + 1) for i in range(5, 10)]
    pipeline(store, rules).process(records, [Position("kafka:g", "orders", 0, 11)])
    ids = {r["id"] for r in store.query("SELECT id FROM events")}
    assert {f"e-{i}" for i in range(10)} <= ids
    assert store.positions("kafka:g") == {("orders", 0): 11}
    letters = store.query('SELECT reason, detail, "offset" FROM dead_letters')
    assert [d["offset"] for d in letters] == [5]
    return letters[0]


def test_a_payload_nested_300_levels_is_a_dead_letter_and_the_rest_is_stored(
        store: Store) -> None:
    letter = run_between_valid(store, cloudevent(99, data=nested(300)))
    assert letter["reason"] == "too-deep"
    assert "max_depth = 200" in letter["detail"]


def test_a_payload_nested_to_the_limit_is_stored_whole(store: Store) -> None:
    deep = nested(190)
    pipeline(store).process([observation(cloudevent(99, data=deep), 0)])
    [row] = store.query("SELECT * FROM events WHERE id = 'e-99'")
    assert event_from_row(row).data == deep


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                  "1899-12-31T23:59:59Z", "2200-01-01T00:00:01Z"])
def test_a_time_outside_the_limits_is_a_dead_letter_and_the_rest_is_stored(
        store: Store, time: str) -> None:
    letter = run_between_valid(store, cloudevent(99, time=time))
    assert letter["reason"] == "invalid-envelope"
    assert "limits.min_time" in letter["detail"]


def test_an_exception_while_decoding_is_an_unstorable_dead_letter(store: Store) -> None:
    # an integer of 5,000 digits: valid JSON, but past Python's int-from-text limit
    poison = cloudevent(99, data={"n": 7}).replace(b'"n":7', b'"n":' + b"9" * 5000)
    letter = run_between_valid(store, poison)
    assert letter == {"reason": "unstorable", "offset": 5,
                      "detail": "unstorable: ValueError while decoding"}


def test_the_unstorable_dead_letter_keeps_no_raw_bytes_where_redaction_applies(
        store: Store) -> None:
    poison = cloudevent(99, data={"n": 7}).replace(b'"n":7', b'"n":' + b"9" * 5000)
    rules = EnvelopeRules(capture=CaptureRules(redact=("/data/email",)))
    run_between_valid(store, poison, rules)
    [row] = store.query("SELECT raw FROM dead_letters")
    assert row["raw"] is None


def test_integers_beyond_64_bits_are_stored_exactly(store: Store) -> None:
    data = {"big": 10**30, "negative": -(2**63) - 1, "u64": 2**64 - 1, "list": [10**40, 1.5]}
    doc = orjson.loads(cloudevent(1))
    doc["data"] = data
    pipeline(store).process([observation(json.dumps(doc).encode(), 0)])
    [row] = store.query("SELECT * FROM events")
    assert "1000000000000000000000000000000" in row["data"]
    assert event_from_row(row).data == data


def test_limits_come_from_the_settings() -> None:
    settings = load_settings(limits={"max_depth": 12, "min_time": "2000-01-01T00:00:00Z",
                                     "max_record_bytes": 777})
    limits = build_rules(settings).limits
    assert (limits.max_depth, limits.max_record_bytes) == (12, 777)
    assert limits.min_time == datetime(2000, 1, 1, tzinfo=UTC)
    assert Limits().max_depth == 200


def test_the_depth_limit_must_stay_below_what_orjson_writes() -> None:
    from collector.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"limits\.max_depth"):
        load_settings(limits={"max_depth": 300})
    with pytest.raises(ValueError, match="max_depth"):
        Limits(max_depth=255)


def test_a_top_level_max_record_bytes_still_sets_the_limit() -> None:
    assert load_settings(max_record_bytes=123).limits.max_record_bytes == 123


# -- headers ------------------------------------------------------------------------------------


def test_a_correlation_header_that_is_not_utf8_is_skipped_for_the_next_rule(
        store: Store) -> None:
    bad = (("x-correlation-id", b"\xff\xfe\xfd"),)
    pipeline(store).process([observation(cloudevent(1, correlationid="from-extension"), 0, bad),
                             observation(cloudevent(2, correlationid=None), 1, bad)])
    [row] = store.query("SELECT correlation_id FROM events")
    assert row["correlation_id"] == "from-extension"
    [letter] = store.query("SELECT reason FROM dead_letters")
    assert letter["reason"] == "no-correlation"  # not one shared id for unrelated records


def test_a_binary_attribute_header_that_is_not_utf8_is_a_dead_letter_naming_it() -> None:
    from collector.envelope import decode

    headers = (("ce_specversion", b"1.0"), ("ce_id", b"\xff\xfe"), ("ce_type", b"T"),
               ("ce_source", b"s"), ("x-correlation-id", b"c"))
    result = decode(observation(b'{"a":1}', 0, headers), EnvelopeRules())
    assert isinstance(result, DeadLetter)
    assert "header ce_id is not UTF-8" in result.detail


def test_a_structured_event_with_a_stray_ce_specversion_header_is_structured() -> None:
    from collector.envelope import decode

    headers = (("ce_specversion", b"1.0"),
               ("content-type", b"application/cloudevents+json; charset=utf-8"))
    result = decode(observation(cloudevent(3), 0, headers), EnvelopeRules())
    assert isinstance(result, Event), result
    assert (result.id, result.data) == ("e-3", {"n": 3})


# -- CloudEvents data and times -----------------------------------------------------------------


def stored(store: Store, *records: Observation) -> list[Event]:
    pipeline(store).process(list(records))
    return [event_from_row(r) for r in store.query("SELECT * FROM events ORDER BY \"offset\"")]


def test_data_base64_is_decoded_by_its_content_type(store: Store) -> None:
    json_b64 = base64.b64encode(b'{"x": [1, 2]}').decode()
    text_b64 = base64.b64encode("héllo".encode()).decode()
    bin_b64 = base64.b64encode(b"\x00\xff\x10").decode()
    events = stored(
        store,
        observation(cloudevent(1, data=None, data_base64=json_b64,
                               datacontenttype="application/json"), 0),
        observation(cloudevent(2, data=None, data_base64=text_b64,
                               datacontenttype="text/plain"), 1),
        observation(cloudevent(3, data=None, data_base64=bin_b64,
                               datacontenttype="application/octet-stream"), 2),
        # the SDK's Kafka binding moves datacontenttype to the content-type header
        observation(cloudevent(4, data=None, data_base64=json_b64), 3,
                    (("content-type", b"application/json"),)),
    )
    assert [e.data for e in events] == [{"x": [1, 2]}, "héllo", b"\x00\xff\x10", {"x": [1, 2]}]
    assert store.query("SELECT count(*) AS n FROM dead_letters")[0]["n"] == 0


def binary(i: int, content_type: bytes | None, value: bytes) -> Observation:
    headers = [("ce_specversion", b"1.0"), ("ce_id", f"b-{i}".encode()), ("ce_type", b"Note"),
               ("ce_source", b"notes"), ("ce_correlationid", b"c")]
    if content_type is not None:
        headers.append(("content-type", content_type))
    return observation(value, i, tuple(headers))


def test_non_json_data_in_binary_mode_is_an_event_with_text_or_bytes(store: Store) -> None:
    events = stored(store, binary(0, b"text/plain; charset=utf-8", "plain text ✓".encode()),
                    binary(1, b"application/octet-stream", b"\xde\xad\xbe\xef"),
                    binary(2, b"text/plain", b"\xffnot utf-8"),
                    binary(3, b"application/json", b'{"ok": true}'))
    assert [e.data for e in events] == ["plain text ✓", b"\xde\xad\xbe\xef", b"\xffnot utf-8",
                                        {"ok": True}]
    assert store.query("SELECT count(*) AS n FROM dead_letters")[0]["n"] == 0
    rows = store.query("SELECT data, data_bytes FROM events WHERE id = 'b-1'")
    assert rows == [{"data": None, "data_bytes": b"\xde\xad\xbe\xef"}]


def test_json_declared_but_not_json_is_still_a_dead_letter(store: Store) -> None:
    stored(store, binary(0, b"application/json", b"{cut sho"))
    assert store.query("SELECT reason FROM dead_letters") == [{"reason": "not-json"}]


def test_nanoseconds_are_kept_as_sent_beside_the_microsecond_time(store: Store) -> None:
    [e, plain] = stored(store,
                        observation(cloudevent(1, time="2026-01-01T10:00:00.123456789Z"), 0),
                        observation(cloudevent(2, time="2026-01-01T10:00:00.5Z"), 1))
    assert e.occurred_at == datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert e.time_text == "2026-01-01T10:00:00.123456789Z"
    assert plain.time_text is None


# -- every place that reads data ----------------------------------------------------------------


def test_the_message_browser_and_the_flow_panel_show_text_bytes_and_exact_integers(
        store: Store) -> None:
    from collector.messages import message
    from dashboard.flow_queries import _shown

    stored(store, binary(0, b"text/plain", b"plain words"),
           binary(1, b"application/octet-stream", b"\x00\x01\xff"),
           observation(cloudevent(2, data={"n": 10**30}), 2))
    pairs = (("notes", "b-0"), ("notes", "b-1"), ("shop", "e-2"))
    shown = {i: message(store, source=s, event_id=i) for s, i in pairs}
    assert shown["b-0"] is not None
    assert shown["b-0"].payload == "plain words"
    assert shown["b-1"] is not None
    assert shown["b-1"].payload_kept
    assert shown["b-1"].payload == b"\x00\x01\xff".decode("utf-8", "replace")
    assert shown["e-2"] is not None
    assert shown["e-2"].payload == {"n": 10**30}
    # st.json reads a string as JSON text: a text payload reaches it serialized
    assert json.loads(_shown("plain words")) == "plain words"
    assert json.loads(_shown(b"\x00\x01\xff")) == "3 bytes of non-JSON content: 00 01 ff"
    assert _shown({"n": 10**30}) == {"n": 10**30}


def test_only_schema_validation_flags_non_json_data_of_a_type_with_a_json_schema(
        store: Store) -> None:
    def order(i: int, content_type: bytes, value: bytes) -> Observation:
        headers = (("ce_specversion", b"1.0"), ("ce_id", f"o-{i}".encode()),
                   ("ce_type", b"OrderPlaced"), ("ce_source", b"shop"),
                   ("ce_correlationid", b"c"), ("content-type", content_type))
        return observation(value, i, headers)

    events = stored(store, order(0, b"application/octet-stream", b"\x01\x02"),
                    order(1, b"text/plain", b"words"), order(2, b"application/octet-stream",
                                                           b"\x03"))
    assert [e.data for e in events] == [b"\x01\x02", "words", b"\x03"]
    flagged = store.query("SELECT id, keyword, message FROM violations ORDER BY id")
    assert {v["id"] for v in flagged} == {"o-0", "o-1", "o-2"}
    assert "bytes of non-JSON content" in flagged[0]["message"]
    assert store.query("SELECT count(*) AS n FROM dead_letters")[0]["n"] == 0
