"""Poison records against the real broker: each becomes a dead letter, the tap goes on; replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.cli import main
from collector.envelope import EnvelopeRules, Limits
from collector.kafka.producer import publish
from collector.store.base import open_store
from tests.kafka._support import Rec, cloudevent, collect_until, make_collector

pytestmark = pytest.mark.kafka

POISON = {
    "not-utf8": b"\xff\xfe\x00\x01binary",
    "not-json": b'{"specversion": "1.0", "id": "torn',
    "too-large": orjson.dumps({"blob": "x" * 3000}),
    "no-correlation": cloudevent(900, None, data={"order_ref": "ref-900"}),
    "unknown-envelope": orjson.dumps({"hello": "world"}),
    "invalid-envelope": orjson.dumps({"specversion": "1.0", "type": "X", "source": "s"}),
    "confluent-avro": b"\x00\x00\x00\x00\x2a\x02\x06abc",
}
EXPECTED_REASON = {**{k: k for k in POISON}, "confluent-avro": "not-json"}


def test_each_poison_record_becomes_a_dead_letter_and_the_good_ones_after_it_pass(
        kafka: Any, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records, good = [], []
    for n, (kind, value) in enumerate(POISON.items()):
        records.append(Rec(topic, value, b"one-partition", (("kind", kind.encode()),)))
        for j in range(3):  # good records right after each poison one
            i = n * 10 + j
            records.append(Rec(topic, cloudevent(i, f"c-{i}"), b"one-partition"))
            good.append(f"e-{i}")
    publish(records, kafka.bootstrap)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    try:
        run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}",
                             rules=EnvelopeRules(limits=Limits(max_record_bytes=2000)))
        collect_until(run, len(records))
        stored = sorted(r["id"] for r in store.query("SELECT id FROM events"))
        letters = store.query('SELECT dl_id, reason, topic, partition, "offset", headers '
                              'FROM dead_letters ORDER BY "offset"')
    finally:
        store.close()
    assert stored == sorted(good)
    kinds = [dict(orjson.loads(r["headers"]))["kind"] for r in letters]
    assert kinds == list(POISON)
    assert [r["reason"] for r in letters] == [EXPECTED_REASON[k] for k in kinds]
    (partition,) = {r["partition"] for r in letters}
    assert {r["topic"] for r in letters} == {topic}
    assert [r["offset"] for r in letters] == [n * 4 for n in range(len(POISON))]

    # list and show name every dead letter with where it came from
    assert main(["deadletters", "list", "--store", url]) == 0
    listed = capsys.readouterr().out
    for kind in EXPECTED_REASON.values():
        assert kind in listed
    assert f"{topic}[{partition}]@0" in listed
    no_corr = next(r["dl_id"] for r in letters if r["reason"] == "no-correlation")
    assert main(["deadletters", "show", str(no_corr), "--store", url]) == 0
    assert "ref-900" in capsys.readouterr().out

    # replay with the same configuration: nothing passes, nothing is lost
    assert main(["deadletters", "replay", "--store", url]) == 0
    assert "0 now stored" in capsys.readouterr().out

    # the user adds a correlation rule; the record it rejected now passes, the rest stay
    config = tmp_path / "choreoscope.toml"
    config.write_text('[envelope]\ncorrelation = ["header:x-correlation-id", '
                      '"extension:correlationid", "/data/order_ref"]\n')
    assert main(["--config", str(config), "deadletters", "replay", "--store", url]) == 0
    assert "1 now stored" in capsys.readouterr().out
    store = open_store(url)
    try:
        (event,) = store.query("SELECT correlation_id, topic, \"offset\" FROM events "
                               "WHERE id = 'e-900'")
        left = [r["reason"] for r in store.query("SELECT reason FROM dead_letters")]
    finally:
        store.close()
    assert event == {"correlation_id": "ref-900", "topic": topic, "offset": 12}
    assert sorted(left) == sorted(v for k, v in EXPECTED_REASON.items() if k != "no-correlation")
    # replaying again changes nothing
    assert main(["--config", str(config), "deadletters", "replay", "--store", url]) == 0
    assert "0 now stored" in capsys.readouterr().out


def test_a_dead_letter_cut_short_is_replayed_whole_from_the_broker(
        kafka: Any, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from collector.store.dead_letters import DeadLetterBounds

    big = {"order_ref": "ref-77", "lines": ["l" * 50] * 40}
    publish([Rec(topic, cloudevent(77, None, data=big), b"k")], kafka.bootstrap)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url, dead_letters=DeadLetterBounds(max_raw_bytes=100))
    try:
        run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}")
        collect_until(run, 1)
        (letter,) = store.query("SELECT length(raw) AS n, raw_size, raw_truncated "
                                "FROM dead_letters")
    finally:
        store.close()
    assert letter["n"] == 100
    assert letter["raw_size"] > 2000
    assert letter["raw_truncated"] == 1

    config = tmp_path / "choreoscope.toml"
    config.write_text('[envelope]\ncorrelation = ["/data/order_ref"]\n')
    assert main(["--config", str(config), "deadletters", "replay", "--store", url,
                 "--bootstrap-servers", kafka.bootstrap]) == 0
    assert "1 now stored" in capsys.readouterr().out
    store = open_store(url, read_only=True)
    try:
        (event,) = store.query("SELECT correlation_id, data FROM events")
        assert store.query("SELECT dl_id FROM dead_letters") == []
    finally:
        store.close()
    assert event["correlation_id"] == "ref-77"
    assert orjson.loads(event["data"]) == big  # the whole record, not the 100 bytes kept
