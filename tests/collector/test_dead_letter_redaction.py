"""Redaction holds for the bytes a dead letter keeps: records redaction cannot parse keep no raw
bytes where redaction rules apply (unless ``capture.dead_letter_raw``), and redacted headers
are replaced."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from collector.envelope import CaptureRules, EnvelopeRules, Limits, dead_letter, decode
from collector.model import DeadLetter, DeadLetterReason, Location, Observation

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EMAIL = b"jane.secret@example.org"
REDACT = ("/data/email",)
CE = orjson.dumps({"specversion": "1.0", "id": "e-1", "type": "OrderPlaced", "source": "s",
                   "correlationid": "c-1", "data": {"email": EMAIL.decode()}})
POISON = {
    "torn": CE[:-3],
    "confluent-torn": b"\x00\x00\x00\x00\x07" + CE[:-3],
    "not-utf8": b"\xff" + CE,
    "too-large-torn": CE[:-3] + b" " * 5000,
}


def obs(value: bytes, headers: tuple[tuple[str, bytes], ...] = ()) -> Observation:
    return Observation(Location("kafka", "orders", 0, 7), T0, value, b"k", headers)


def rules(**capture: object) -> EnvelopeRules:
    return EnvelopeRules(capture=CaptureRules(**capture),  # type: ignore[arg-type]
                         limits=Limits(max_record_bytes=4000))


def dead(result: object) -> DeadLetter:
    assert isinstance(result, DeadLetter)
    return result


@pytest.mark.parametrize("kind", list(POISON))
def test_an_unparsable_record_keeps_no_bytes_where_redaction_applies(kind: str) -> None:
    letter = dead(decode(obs(POISON[kind]), rules(redact=REDACT)))
    assert letter.raw is None
    assert letter.raw_withheld is not None
    assert "capture.dead_letter_raw" in letter.raw_withheld
    assert letter.location == Location("kafka", "orders", 0, 7)  # replay re-reads it there


@pytest.mark.parametrize("kind", list(POISON))
def test_dead_letter_raw_true_or_no_redaction_rules_keep_the_bytes(kind: str) -> None:
    value = POISON[kind]
    assert dead(decode(obs(value), rules(redact=REDACT, dead_letter_raw=True))).raw == value
    assert dead(decode(obs(value), rules())).raw == value
    # header-only rules do not hide payloads: no pointer could reach into them anyway
    assert dead(decode(obs(value), rules(redact=("header:x-api-key",)))).raw == value


def test_a_parsable_dead_letter_keeps_its_bytes_redacted() -> None:
    value = orjson.dumps({**orjson.loads(CE), "correlationid": None})
    letter = dead(decode(obs(value), rules(redact=REDACT)))
    assert letter.reason is DeadLetterReason.NO_CORRELATION
    assert letter.raw is not None
    assert EMAIL not in letter.raw
    assert b"[redacted]" in letter.raw
    assert letter.raw_withheld is None


def test_configured_headers_and_redacted_binary_attributes_are_redacted_in_dead_letters() -> None:
    headers = (("X-Api-Key", b"sk-live-123"), ("ce_specversion", b"1.0"), ("ce_id", b"b-1"),
               ("ce_type", b"T"), ("ce_source", b"s"), ("ce_customertoken", b"tok-999"),
               ("kind", b"\xff\xfe"))
    letter = dead(decode(obs(b"{torn", headers),
                         rules(redact=("header:x-api-key", "/customertoken"))))
    kept = dict(letter.headers)
    assert kept["X-Api-Key"] == b"[redacted]"
    assert kept["ce_customertoken"] == b"[redacted]"
    assert kept["ce_id"] == b"b-1"
    assert kept["kind"] == b"\xff\xfe"  # bytes as they came


def test_the_shared_constructor_applies_the_same_policy() -> None:
    """For dead letters made after decoding (e.g. an unstorable record)."""
    o = obs(CE, (("x-api-key", b"sk"),))
    capture = CaptureRules(redact=("/data/email", "header:x-api-key"))
    letter = dead_letter(o, DeadLetterReason.INVALID_ENVELOPE, "RecursionError", capture)
    assert letter.raw is None
    assert letter.raw_withheld
    assert dict(letter.headers)["x-api-key"] == b"[redacted]"
    assert dead_letter(o, DeadLetterReason.INVALID_ENVELOPE, "x", CaptureRules()).raw == CE
    assert dead_letter(o, DeadLetterReason.INVALID_ENVELOPE, "x",
                       CaptureRules(policy="none")).raw is None


def test_an_unstorable_record_keeps_no_bytes_and_no_payload_value_in_its_reason() -> None:
    from collector.envelope import Decoder

    decoder = Decoder(rules(redact=REDACT))
    letter = decoder.fault(obs(CE), ValueError(f"cannot store {EMAIL.decode()}"), "tracking")
    assert letter.reason is DeadLetterReason.UNSTORABLE
    assert letter.detail == "unstorable: ValueError while tracking"
    assert letter.raw is None
    assert letter.raw_withheld
    assert Decoder(rules()).fault(obs(CE), ValueError("x"), "tracking").raw == CE
