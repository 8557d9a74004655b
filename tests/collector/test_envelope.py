"""Envelope decoding: every shape, every correlation rule, every poison record, redaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from collector.envelope import (
    REDACTED,
    CaptureRules,
    Decoder,
    EnvelopeRules,
    Limits,
    Locator,
    TopicRules,
    decode,
    parse_traceparent,
)
from collector.model import DeadLetter, DeadLetterReason, Event, Location, Observation

RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KAFKA_TS = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{SPAN}-01".encode()


def obs(value: bytes | dict[str, Any], *, topic: str = "orders", key: bytes | None = None,
        headers: tuple[tuple[str, bytes], ...] = (), offset: int = 7) -> Observation:
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    return Observation(location=Location("kafka", topic, 0, offset), received_at=RECEIVED,
                       value=raw, key=key, headers=headers, timestamp=KAFKA_TS)


def cloudevent(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "specversion": "1.0", "id": "e-1", "type": "OrderPlaced", "source": "order-service",
        "time": "2026-01-01T10:00:00.123Z", "subject": "order/42",
        "dataschema": "schemas/OrderPlaced/v1.json", "correlationid": "c-42",
        "causationid": "e-0", "datacontenttype": "application/json",
        "data": {"order_id": "42", "amount": 10.5, "customer": {"email": "a@b.c"}},
    }
    doc.update(over)
    return {k: v for k, v in doc.items() if v is not None}


def event(result: Event | DeadLetter) -> Event:
    assert isinstance(result, Event), result
    return result


def dead(result: Event | DeadLetter) -> DeadLetter:
    assert isinstance(result, DeadLetter), result
    return result


RULES = EnvelopeRules()


# -- the shapes -----------------------------------------------------------------------------------


def test_cloudevents_structured_gives_every_attribute() -> None:
    e = event(decode(obs(cloudevent(), headers=(("traceparent", TRACEPARENT),)), RULES))
    assert (e.id, e.type, e.source) == ("e-1", "OrderPlaced", "order-service")
    assert e.occurred_at == datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert (e.correlation_id, e.causation_id) == ("c-42", "e-0")
    assert (e.subject, e.dataschema) == ("order/42", "schemas/OrderPlaced/v1.json")
    assert (e.trace_id, e.span_id) == (TRACE, SPAN)
    assert e.data == {"order_id": "42", "amount": 10.5, "customer": {"email": "a@b.c"}}
    assert e.location == Location("kafka", "orders", 0, 7)
    assert e.received_at == RECEIVED


def test_cloudevents_binary_mode_reads_ce_headers() -> None:
    headers = (("ce_specversion", b"1.0"), ("ce_id", b"e-9"), ("ce_type", b"PaymentProcessed"),
               ("ce_source", b"payment-service"), ("ce_time", b"2026-01-01T10:00:01Z"),
               ("ce_correlationid", b"c-7"), ("ce_causationid", b"e-8"),
               ("content-type", b"application/json"), ("traceparent", TRACEPARENT))
    e = event(decode(obs(b'{"amount": 3}', headers=headers), RULES))
    assert (e.id, e.type, e.source, e.correlation_id, e.causation_id) == (
        "e-9", "PaymentProcessed", "payment-service", "c-7", "e-8")
    assert e.occurred_at == datetime(2026, 1, 1, 10, 0, 1, tzinfo=UTC)
    assert e.data == {"amount": 3}
    assert e.trace_id == TRACE


def test_eventbridge_shape() -> None:
    doc = {"version": "0", "id": "eb-1", "detail-type": "OrderShipped", "source": "shipping",
           "account": "1", "time": "2026-01-01T10:00:00Z", "region": "eu-west-1",
           "resources": [], "detail": {"order": "42", "corr": "c-1"}}
    rules = EnvelopeRules(correlation=(Locator.parse("/detail/corr"),))
    e = event(decode(obs(doc), rules))
    assert (e.id, e.type, e.source, e.correlation_id) == ("eb-1", "OrderShipped", "shipping", "c-1")
    assert e.data == {"order": "42", "corr": "c-1"}


PLAIN_TOPIC = TopicRules(
    type=Locator.parse("/eventType"), id=Locator.parse("/meta/id"),
    time=Locator.parse("/occurredAt"), source=Locator.parse("header:x-producer"),
    correlation=(Locator.parse("/meta/correlation"),))


def test_plain_json_found_by_pointers_and_headers_per_topic() -> None:
    rules = EnvelopeRules(topics={"legacy": PLAIN_TOPIC})
    doc = {"eventType": "OrderPlaced", "meta": {"id": 17, "correlation": "c-5"},
           "occurredAt": 1767261600000, "order": {"id": "42"}}
    e = event(decode(obs(doc, topic="legacy", headers=(("X-Producer", b"legacy-orders"),)),
                     rules))
    assert (e.id, e.type, e.source) == ("17", "OrderPlaced", "legacy-orders")
    assert e.correlation_id == "c-5"
    assert e.occurred_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert e.data == doc


def test_plain_json_without_time_or_source_uses_record_timestamp_and_topic() -> None:
    rules = EnvelopeRules(topics={"*": TopicRules(
        type=Locator.parse("/t"), id=Locator.parse("/i"), correlation=(Locator("key"),))})
    e = event(decode(obs({"t": "X", "i": "1"}, topic="legacy", key=b"k-1"), rules))
    assert (e.source, e.occurred_at, e.correlation_id) == ("legacy", KAFKA_TS, "k-1")


def test_confluent_wire_format_json_is_decoded_and_the_schema_id_reported() -> None:
    value = b"\x00" + (1234).to_bytes(4, "big") + orjson.dumps(cloudevent(dataschema=None))
    e = event(decode(obs(value), RULES))
    assert e.dataschema == "confluent:1234"
    assert e.id == "e-1"


@pytest.mark.parametrize(
    ("value", "headers", "reason", "detail"),
    [
        pytest.param(b"\xff\xfe\x00garbage", (), DeadLetterReason.NOT_UTF8, "not UTF-8",
                     id="not-utf8"),
        pytest.param(b"{not json", (), DeadLetterReason.NOT_JSON, "not JSON", id="not-json"),
        pytest.param(b"\x00\x00\x00\x00\x07\x02\x8a\xff", (), DeadLetterReason.NOT_JSON,
                     "schema id 7", id="confluent-avro"),
        pytest.param(orjson.dumps({"hello": "world"}), (), DeadLetterReason.UNKNOWN_ENVELOPE,
                     "neither CloudEvents", id="unknown-envelope"),
        pytest.param(orjson.dumps([1, 2]), (), DeadLetterReason.UNKNOWN_ENVELOPE,
                     "neither CloudEvents", id="json-array"),
        pytest.param(orjson.dumps(cloudevent(correlationid=None)), (),
                     DeadLetterReason.NO_CORRELATION,
                     "tried header:x-correlation-id, extension:correlationid",
                     id="no-correlation"),
        pytest.param(orjson.dumps(cloudevent(id=None)), (), DeadLetterReason.INVALID_ENVELOPE,
                     "CloudEvents: no id", id="ce-without-id"),
        pytest.param(orjson.dumps(cloudevent(time="yesterday")), (),
                     DeadLetterReason.INVALID_ENVELOPE, "not RFC 3339", id="bad-time"),
        pytest.param(b"not json", (("ce_specversion", b"1.0"),), DeadLetterReason.NOT_JSON,
                     "not JSON", id="binary-not-json"),
        pytest.param(b"{}", (("ce_specversion", b"1.0"), ("ce_id", b"1")),
                     DeadLetterReason.INVALID_ENVELOPE, "no type", id="binary-without-type"),
        pytest.param(b"x" * 1001, (), DeadLetterReason.TOO_LARGE, "1001 bytes", id="too-large"),
    ],
)
def test_poison_records_become_dead_letters(value: bytes, headers: tuple[tuple[str, bytes], ...],
                                            reason: DeadLetterReason, detail: str) -> None:
    rules = EnvelopeRules(limits=Limits(max_record_bytes=1000))
    d = dead(decode(obs(value, key=b"k", headers=headers), rules))
    assert d.reason is reason
    assert detail in d.detail
    assert (d.location, d.received_at, d.key, d.headers) == (
        Location("kafka", "orders", 0, 7), RECEIVED, b"k", headers)
    assert d.raw == value  # capture "full" by default: the bytes are kept for replay


def test_a_plain_topic_record_missing_its_id_is_an_invalid_envelope() -> None:
    rules = EnvelopeRules(topics={"legacy": PLAIN_TOPIC})
    d = dead(decode(obs({"eventType": "X", "meta": {"correlation": "c"}}, topic="legacy"), rules))
    assert d.reason is DeadLetterReason.INVALID_ENVELOPE
    assert "id at /meta/id" in d.detail


def test_a_plain_topic_without_type_and_id_rules_is_rejected_as_unknown() -> None:
    rules = EnvelopeRules(topics={"legacy": TopicRules(envelope="plain")})
    d = dead(decode(obs({"a": 1}, topic="legacy"), rules))
    assert d.reason is DeadLetterReason.UNKNOWN_ENVELOPE


# -- correlation ----------------------------------------------------------------------------------

CE_NO_CORR = cloudevent(correlationid=None, data={"order_id": "42", "corr": "c-ptr"})


@pytest.mark.parametrize(
    ("rules", "key", "headers", "expected"),
    [
        pytest.param(["header:x-correlation-id"], None, (("X-Correlation-ID", b"c-hdr"),),
                     "c-hdr", id="header-case-insensitive"),
        pytest.param(["/data/corr"], None, (), "c-ptr", id="pointer"),
        pytest.param(["key"], b"c-key", (), "c-key", id="key"),
        pytest.param(["extension:partitionkey"], None, (), "pk", id="extension"),
        pytest.param(["traceparent"], None, (("traceparent", TRACEPARENT),), TRACE,
                     id="traceparent"),
        pytest.param(["header:absent", "/data/absent", "key"], b"c-key", (), "c-key",
                     id="first-that-matches"),
        pytest.param(["/data/corr", "key"], b"c-key", (), "c-ptr", id="order-matters"),
        pytest.param(["/data/order_id"], None, (), "42", id="scalar-to-text"),
    ],
)
def test_correlation_rules_are_tried_in_order(rules: list[str], key: bytes | None,
                                              headers: tuple[tuple[str, bytes], ...],
                                              expected: str) -> None:
    envelope = EnvelopeRules(correlation=tuple(Locator.parse(r) for r in rules))
    doc = {**CE_NO_CORR, "partitionkey": "pk"}
    e = event(decode(obs(doc, key=key, headers=headers), envelope))
    assert e.correlation_id == expected


def test_a_topic_overrides_the_correlation_rules() -> None:
    rules = EnvelopeRules(
        correlation=(Locator("key"),),
        topics={"payments": TopicRules(correlation=(Locator.parse("/data/corr"),))})
    assert event(decode(obs(CE_NO_CORR, topic="payments", key=b"k"), rules)).correlation_id \
        == "c-ptr"
    assert event(decode(obs(CE_NO_CORR, topic="orders", key=b"k"), rules)).correlation_id == "k"


def test_adding_a_rule_lets_a_rejected_record_pass() -> None:
    record = obs(CE_NO_CORR)
    assert dead(decode(record, RULES)).reason is DeadLetterReason.NO_CORRELATION
    fixed = RULES.with_correlation(Locator.parse("/data/corr"))
    assert event(decode(record, fixed)).correlation_id == "c-ptr"


def test_empty_or_structured_values_are_not_correlation_ids() -> None:
    rules = EnvelopeRules(correlation=(Locator.parse("/data/empty"), Locator.parse("/data/obj"),
                                       Locator("key")))
    doc = cloudevent(correlationid=None, data={"empty": "", "obj": {"a": 1}})
    assert event(decode(obs(doc, key=b"fallback"), rules)).correlation_id == "fallback"


# -- business keys, traceparent, time -------------------------------------------------------------


def test_business_keys_per_event_type_and_for_all_types() -> None:
    rules = EnvelopeRules(business_keys={
        "OrderPlaced": (("order_id", Locator.parse("/data/order_id")),
                        ("missing", Locator.parse("/data/nope"))),
        "*": (("subject", Locator.parse("/subject")),),
        "PaymentProcessed": (("payment_id", Locator.parse("/data/payment_id")),),
    })
    e = event(decode(obs(cloudevent()), rules))
    assert e.business_keys == (("order_id", "42"), ("subject", "order/42"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (TRACEPARENT, (TRACE, SPAN)),
        (b"00-" + b"0" * 32 + b"-" + SPAN.encode() + b"-01", None),
        (b"00-xyz-abc-01", None),
        (b"garbage", None),
        (f"00-{TRACE.upper()}-{SPAN}-01".encode(), (TRACE, SPAN)),
        # the canonical form is read by slicing, every other shape as before: the same answers
        (TRACEPARENT.decode(), (TRACE, SPAN)),
        (f" 00-{TRACE}-{SPAN}-01 ".encode(), (TRACE, SPAN)),
        (f"00-{TRACE}-{SPAN}-01-extra".encode(), (TRACE, SPAN)),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE}-{SPAN[:-1]}g-01".encode(), None),
    ],
)
def test_traceparent(header: bytes, expected: tuple[str, str] | None) -> None:
    assert parse_traceparent(header) == expected


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-01-01T10:00:00Z", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T12:00:00+02:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01t10:00:00z", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T10:00:00.123456789Z", datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        (1767261600, datetime(2026, 1, 1, 10, tzinfo=UTC)),
        (1767261600000, datetime(2026, 1, 1, 10, tzinfo=UTC)),
        (None, KAFKA_TS),
    ],
)
def test_event_time_formats(time: Any, expected: datetime) -> None:
    e = event(decode(obs(cloudevent(time=time)), RULES))
    assert e.occurred_at == expected
    assert e.occurred_at.tzinfo is not None


# -- capture and redaction ------------------------------------------------------------------------

SECRET = "a@b.c"


def test_redaction_reaches_data_and_business_keys() -> None:
    rules = EnvelopeRules(
        capture=CaptureRules(redact=("/data/customer/email", "/data/items/*/card")),
        business_keys={"*": (("email", Locator.parse("/data/customer/email")),)})
    doc = cloudevent(data={"customer": {"email": SECRET}, "items": [{"card": "4111"}, {"x": 1}]})
    e = event(decode(obs(doc), rules))
    assert e.data == {"customer": {"email": REDACTED}, "items": [{"card": REDACTED}, {"x": 1}]}
    assert e.business_keys == (("email", REDACTED),)


@pytest.mark.parametrize("policy", ["full", "sampled", "none"])
def test_redaction_reaches_dead_letters_and_raw_is_kept_only_under_full(policy: str) -> None:
    rules = EnvelopeRules(capture=CaptureRules(policy=policy,  # type: ignore[arg-type]
                                               redact=("/data/customer/email",)))
    d = dead(decode(obs(cloudevent(correlationid=None)), rules))
    assert d.reason is DeadLetterReason.NO_CORRELATION
    if policy == "full":
        assert d.raw is not None
        assert SECRET.encode() not in d.raw
        assert orjson.loads(d.raw)["data"]["customer"]["email"] == REDACTED
    else:
        assert d.raw is None


def test_redaction_reaches_binary_mode_and_confluent_dead_letters() -> None:
    rules = EnvelopeRules(capture=CaptureRules(redact=("/data/customer/email",)))
    headers = (("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_type", b"T"),
               ("ce_source", b"s"))
    body = orjson.dumps({"customer": {"email": SECRET}})
    d = dead(decode(obs(body, headers=headers), rules))
    assert d.reason is DeadLetterReason.NO_CORRELATION
    assert d.raw is not None
    assert SECRET.encode() not in d.raw
    prefixed = b"\x00\x00\x00\x00\x05" + orjson.dumps(cloudevent(correlationid=None))
    d = dead(decode(obs(prefixed), rules))
    assert d.raw is not None
    assert d.raw.startswith(b"\x00\x00\x00\x00\x05")
    assert SECRET.encode() not in d.raw


def test_a_too_large_json_record_is_redacted_too() -> None:
    rules = EnvelopeRules(limits=Limits(max_record_bytes=50),
                          capture=CaptureRules(redact=("/data/customer/email",)))
    d = dead(decode(obs(cloudevent()), rules))
    assert d.reason is DeadLetterReason.TOO_LARGE
    assert d.raw is not None
    assert SECRET.encode() not in d.raw


def test_capture_policy_none_and_sampled() -> None:
    none = EnvelopeRules(capture=CaptureRules(policy="none"))
    assert event(decode(obs(cloudevent()), none)).data is None
    sampled = EnvelopeRules(capture=CaptureRules(policy="sampled", sample_every=4))
    kept = [event(decode(obs(cloudevent(id=f"e-{i}")), sampled)).data is not None
            for i in range(400)]
    assert 40 < sum(kept) < 160  # about one in four
    again = [event(decode(obs(cloudevent(id=f"e-{i}")), sampled)).data is not None
             for i in range(400)]
    assert kept == again  # a redelivered event gets the same answer


def test_decoding_does_not_depend_on_anything_but_its_input() -> None:
    record = obs(cloudevent(), headers=(("traceparent", TRACEPARENT),))
    decoder = Decoder(RULES)
    assert decoder(record) == decode(record, RULES) == decode(replace(record), RULES)


@pytest.mark.parametrize(
    "text", ["/a/b", "header:x", "key", "extension:foo", "traceparent", "pointer:/a~1b", ""])
def test_locators_round_trip(text: str) -> None:
    loc = Locator.parse(text)
    assert Locator.parse(str(loc)) == loc


@pytest.mark.parametrize("text", ["a/b", "header:", "keys", "extension", "traceparent:x", "x:y"])
def test_bad_locators_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="locator"):
        Locator.parse(text)


# -- record keys and headers (issue 16: the message browser shows them) ---------------------------


def test_an_event_keeps_its_record_key_and_headers_as_text() -> None:
    e = event(decode(obs(cloudevent(), key=b"ORD-42", headers=(
        ("x-tenant", b"acme"), ("traceparent", TRACEPARENT), ("bin", b"\xff1"))), RULES))
    assert e.key == "ORD-42"
    assert e.headers == (("x-tenant", "acme"), ("traceparent", TRACEPARENT.decode()),
                         ("bin", "\\xff1"))
    assert event(decode(obs(cloudevent()), RULES)).key is None


def test_headers_and_key_are_redacted_by_the_capture_rules() -> None:
    rules = EnvelopeRules(capture=CaptureRules(
        redact=("header:Authorization", "key", "/data/customer/email")))
    record = obs(cloudevent(), key=SECRET.encode(), headers=(
        ("authorization", b"Bearer s3cret"), ("x-tenant", b"acme")))
    e = event(decode(record, rules))
    assert e.key == REDACTED
    assert e.headers == (("authorization", REDACTED), ("x-tenant", "acme"))
    d = dead(decode(replace(record, value=b"not json"), rules))
    assert d.key == REDACTED.encode()
    assert dict(d.headers)["authorization"] == REDACTED.encode()


def test_a_pointer_to_a_binary_mode_attribute_redacts_its_header() -> None:
    rules = EnvelopeRules(capture=CaptureRules(redact=("/customer",)))
    headers = (("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_type", b"T"),
               ("ce_source", b"s"), ("ce_correlationid", b"c"), ("ce_customer", b"jane"))
    e = event(decode(obs(b'{"a": 1}', headers=headers), rules))
    assert dict(e.headers)["ce_customer"] == REDACTED
    assert dict(e.headers)["ce_id"] == "1"


@pytest.mark.parametrize("entry", ["extension:x", "traceparent", "data/x", "header:"])
def test_only_pointers_headers_and_the_key_can_be_redacted(entry: str) -> None:
    with pytest.raises(ValueError, match=r"redact|locator|header"):
        CaptureRules(redact=(entry,))


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("2026-01-05T08:00:06.705320Z", None), ("2026-01-05T08:00:06.7053201Z", True),
     ("2026-01-05T08:00:06.123456789+02:00", True), ("2026-01-05T08:00:06Z", None),
     ("2026-01-05T08:00:06.12345Z", None), ("x.1234567", True), ("x.", None)],
)
def test_time_text_only_when_finer_than_microseconds(sent: str, kept: bool | None) -> None:
    from collector._payload import precise_text

    assert precise_text(sent) == (sent if kept else None)
