"""Redacted paths never reach the store: checked on the bytes of the database files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.cli import main
from collector.kafka.producer import publish
from collector.store.base import open_store
from tests.kafka._support import Rec, cloudevent

pytestmark = pytest.mark.kafka

EMAIL = "jane.secret@example.org"
CARD = "4111-1111-1111-1111"


def test_redacted_values_are_nowhere_in_the_database_files(kafka: Any, topic: str,
                                                           tmp_path: Path) -> None:
    data = {"customer": {"email": EMAIL, "name": "Jane"}, "card": CARD, "order_id": "o-1"}
    binary_headers = (("ce_specversion", b"1.0"), ("ce_id", b"b-1"), ("ce_type", b"OrderPlaced"),
                      ("ce_source", b"order-service"), ("ce_correlationid", b"c-2"))
    publish([
        Rec(topic, cloudevent(1, "c-1", data=data)),                      # structured
        Rec(topic, orjson.dumps(data), None, binary_headers),             # binary mode
        Rec(topic, cloudevent(2, None, data=data)),                       # dead letter, JSON
        Rec(topic, cloudevent(3, "c-3", data={**data, "pad": "x" * 5000})),  # too large
    ], kafka.bootstrap)
    config = tmp_path / "choreoscope.toml"
    config.write_text(
        "max_record_bytes = 4000\n"
        '[capture]\npolicy = "full"\nredact = ["/data/customer/email", "/data/card"]\n'
        '[envelope.business_keys.OrderPlaced]\nemail = "/data/customer/email"\n'
        'order_id = "/data/order_id"\n')
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code = main(["--config", str(config), "collect", "--store", url, "--bootstrap-servers",
                 kafka.bootstrap, "--topics", topic, "--group-id", f"g-{topic}",
                 "--metrics-port", "0", "--until-idle", "1.5"])
    assert code == 0

    store = open_store(url)
    try:
        events = {r["id"]: orjson.loads(r["data"]) for r in store.query("SELECT id, data "
                                                                          "FROM events")}
        keys = store.query("SELECT name, value FROM business_keys ORDER BY name, value")
        letters = store.query("SELECT reason, raw FROM dead_letters ORDER BY reason")
    finally:
        store.close()
    # the data is stored, only the redacted paths are replaced
    assert events["e-1"] == {**data, "customer": {"email": "[redacted]", "name": "Jane"},
                             "card": "[redacted]"}
    assert events["b-1"]["card"] == "[redacted]"
    assert {"name": "email", "value": "[redacted]"} in keys
    assert {"name": "order_id", "value": "o-1"} in keys
    assert [r["reason"] for r in letters] == ["no-correlation", "too-large"]
    assert all(r["raw"] is not None for r in letters)  # kept ("full"), but redacted

    files = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
    assert files
    everything = b"".join(p.read_bytes() for p in files)
    assert b"Jane" in everything  # what is not redacted is there: the check can fail
    assert EMAIL.encode() not in everything
    assert CARD.encode() not in everything


API_KEY = "sk-live-0123456789"


def test_after_every_kind_of_poison_record_no_redacted_value_is_in_any_database_byte(
        kafka: Any, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Records redaction cannot parse keep no raw bytes (only their location); the replay
    re-reads them from the broker; redacted headers are replaced. Checked on the bytes of the
    database file, its WAL and (secure_delete) its freed pages."""
    ce = cloudevent(1, "c-1", data={"customer": {"email": EMAIL}, "card": CARD})
    secret_headers = (("x-api-key", API_KEY.encode()),)
    poison = [
        ce[:-3],                                        # cut short by 3 bytes
        b"\x00\x00\x00\x00\x07" + ce[:-3],              # the same, Confluent-framed
        b"\xff" + ce,                                   # not UTF-8
        ce[:-3] + b" " * 5000,                          # too large and not JSON
        cloudevent(2, None, data={"customer": {"email": EMAIL}, "card": CARD}),  # parsed
        cloudevent(4, "c-4", data={"customer": {"email": EMAIL}, "deep": "X"}).replace(
            b'"X"', b'{"a":' * 300 + b"1" + b"}" * 300),  # nested past limits.max_depth
        cloudevent(5, "c-5", data={"customer": {"email": EMAIL}, "card": CARD},
                   time="0001-01-01T00:00:00+01:00"),   # a time out of range
    ]
    publish([Rec(topic, value, b"k", secret_headers) for value in poison]
            + [Rec(topic, cloudevent(3, "c-3"), b"k")], kafka.bootstrap)
    config = tmp_path / "choreoscope.toml"
    config.write_text(
        "max_record_bytes = 4000\n"
        '[capture]\nredact = ["/data/customer/email", "/data/card", "header:x-api-key"]\n')
    url = f"sqlite:///{tmp_path / 'store.db'}"
    base = ["--config", str(config)]
    assert main([*base, "collect", "--store", url, "--bootstrap-servers", kafka.bootstrap,
                 "--topics", topic, "--group-id", f"g-{topic}", "--metrics-port", "0",
                 "--until-idle", "1.5"]) == 0

    def database_bytes(*, wal: bool = True) -> bytes:
        files = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
        assert any(p.name.endswith("-wal") for p in files) or not wal
        return b"".join(p.read_bytes() for p in files)

    store = open_store(url, read_only=True)
    try:
        letters = store.query('SELECT dl_id, reason, raw, raw_withheld, headers FROM '
                              'dead_letters ORDER BY "offset"')
        assert store.query("SELECT id FROM events") == [{"id": "e-3"}]
    finally:
        store.close()
    assert [r["reason"] for r in letters] == [
        "not-json", "not-json", "not-utf8", "too-large", "no-correlation", "too-deep",
        "invalid-envelope"]
    assert [r["raw"] is None for r in letters] == [True, True, True, True, False, True, False]
    assert [bool(r["raw_withheld"]) for r in letters] == [
        True, True, True, True, False, True, False]
    assert all(API_KEY not in r["headers"] for r in letters)
    everything = database_bytes()
    assert b"order-service" in everything  # what is not redacted is there: the check can fail
    for secret in (EMAIL, CARD, API_KEY):
        assert secret.encode() not in everything

    capsys.readouterr()
    assert main([*base, "deadletters", "show", "--store", url, str(letters[0]["dl_id"])]) == 0
    shown = capsys.readouterr().out
    assert "bytes:    not kept: redaction rules apply" in shown
    assert f"re-reads the record from {topic}[" in shown
    assert "header:   x-api-key: [redacted]" in shown

    # replay re-reads the withheld records from the broker (they are still not JSON)
    assert main([*base, "deadletters", "replay", "--store", url, "--reason", "not-json",
                 "--bootstrap-servers", kafka.bootstrap]) == 0
    assert "still rejected: 2 not-json" in capsys.readouterr().out
    everything = database_bytes(wal=False)  # a clean close checkpointed the WAL away
    for secret in (EMAIL, CARD, API_KEY):
        assert secret.encode() not in everything
