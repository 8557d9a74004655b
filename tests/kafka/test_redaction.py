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
        keys = store.query("SELECT name, value FROM business_keys ORDER BY id, name")
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
