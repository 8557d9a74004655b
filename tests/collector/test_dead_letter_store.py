"""Dead letters in the store: header bytes kept exactly, raw bytes cut to a bound, a size budget
and an age bound applied in the write transaction, and what they dropped or cut counted."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.model import DeadLetter, DeadLetterReason, Location
from collector.store import Batch, open_store
from collector.store.dead_letters import DeadLetterBounds, decode_headers, encode_headers
from tests.collector._old_store import store_before

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"4111-1111-1111-1111"


def letter(i: int, *, raw: bytes | None = b"x" * 100, at: datetime = T0,
           headers: tuple[tuple[str, bytes], ...] = ()) -> DeadLetter:
    return DeadLetter(DeadLetterReason.NOT_JSON, "not JSON", Location("kafka", "orders", 0, i),
                      at, raw, b"k", headers)


def usage_matches_rows(store: object) -> None:
    rows = store.query("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes "  # type: ignore[attr-defined]
                       "FROM dead_letters")[0]
    usage = store.dead_letter_usage()  # type: ignore[attr-defined]
    assert (usage.stored, usage.bytes) == (rows["n"], rows["bytes"])


def test_header_bytes_round_trip_exactly_and_utf8_stays_readable() -> None:
    headers = (("x-correlation-id", b"\xff\xfe\xfd"), ("kind", "café".encode()), ("empty", b""))
    text = encode_headers(headers)
    assert "café" in text  # readable where it is text
    assert decode_headers(text) == headers
    assert decode_headers('[["old", "plain text"]]') == (("old", b"plain text"),)  # older rows


def test_invalid_utf8_header_is_stored_as_bytes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.write(Batch(dead_letters=[letter(1, headers=(("x-correlation-id", b"\xff\xfe"),))]))
        (row,) = store.query("SELECT headers FROM dead_letters")
    finally:
        store.close()
    assert decode_headers(row["headers"]) == (("x-correlation-id", b"\xff\xfe"),)
    assert "\ufffd" not in row["headers"]


def test_raw_bytes_are_cut_to_the_bound_with_their_size_kept_and_counted(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}",
                       dead_letters=DeadLetterBounds(max_raw_bytes=64))
    try:
        store.write(Batch(dead_letters=[letter(1, raw=b"y" * 1000), letter(2, raw=b"z" * 10)]))
        store.write(Batch(dead_letters=[letter(1, raw=b"y" * 1000)]))  # the same one again
        rows = store.query("SELECT raw, raw_size, raw_truncated FROM dead_letters "
                           'ORDER BY "offset"')
        usage = store.dead_letter_usage()
        usage_matches_rows(store)
    finally:
        store.close()
    assert [(len(r["raw"]), r["raw_size"], r["raw_truncated"]) for r in rows] == [
        (64, 1000, 1), (10, 10, 0)]
    assert usage.truncated == 1


def test_a_flood_stays_within_the_budget_dropping_the_oldest(tmp_path: Path) -> None:
    bounds = DeadLetterBounds(max_bytes=50_000, max_raw_bytes=1000)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", dead_letters=bounds)
    try:
        for batch in range(20):
            store.write(Batch(dead_letters=[letter(batch * 100 + i, raw=b"r" * 1000)
                                            for i in range(100)]))
            assert store.dead_letter_usage().bytes <= bounds.max_bytes
        usage = store.dead_letter_usage()
        offsets = [r["offset"] for r in store.query(
            'SELECT "offset" FROM dead_letters ORDER BY "offset"')]
        usage_matches_rows(store)
    finally:
        store.close()
    assert usage.stored == len(offsets) > 0
    assert usage.dropped_budget == 2000 - usage.stored
    assert usage.dropped_age == 0
    assert offsets == list(range(2000 - len(offsets), 2000))  # the newest are kept


def test_old_dead_letters_age_out_on_write_and_on_a_tick(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}",
                       dead_letters=DeadLetterBounds(max_age=timedelta(days=7)))
    try:
        store.write(Batch(dead_letters=[letter(1, at=T0 - timedelta(days=30)),
                                        letter(2, at=T0 - timedelta(days=9)),
                                        letter(3, at=T0 - timedelta(days=1))]))
        after_write = [r["offset"] for r in store.query('SELECT "offset" FROM dead_letters')]
        assert store.trim_dead_letters(T0 + timedelta(days=5)) == 0
        assert store.trim_dead_letters(T0 + timedelta(days=6, hours=1)) == 1
        usage = store.dead_letter_usage()
        usage_matches_rows(store)
    finally:
        store.close()
    assert sorted(after_write) == [3]  # judged at the batch's newest receive time
    assert (usage.stored, usage.dropped_age, usage.dropped_budget) == (0, 3, 0)


def test_replay_deletion_and_retention_keep_the_usage_exact(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.write(Batch(dead_letters=[letter(i, at=T0 + timedelta(minutes=i))
                                        for i in range(10)]))
        ids = [r["dl_id"] for r in store.query("SELECT dl_id FROM dead_letters LIMIT 3")]
        assert store.delete_dead_letters(ids) == 3
        usage_matches_rows(store)
        store.delete_older_than(T0 + timedelta(minutes=5), 1000)
        usage_matches_rows(store)
        assert store.dead_letter_usage().stored == 5
    finally:
        store.close()


def test_a_dropped_dead_letters_bytes_leave_no_trace_in_the_files(tmp_path: Path) -> None:
    """secure_delete: the freed pages of dropped rows are zeroed, so after a checkpoint the
    bytes are in neither the database file nor its WAL."""
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}", dead_letters=DeadLetterBounds(max_bytes=20_000))
    try:
        store.write(Batch(dead_letters=[letter(0, raw=b"secret " + SECRET + b" " * 3000)]))
        assert SECRET in b"".join(p.read_bytes() for p in tmp_path.iterdir())  # can fail
        for batch in range(5):
            store.write(Batch(dead_letters=[letter(1 + batch * 10 + i, raw=b"n" * 3000)
                                            for i in range(10)]))
        assert store.query('SELECT COUNT(*) AS n FROM dead_letters WHERE "offset" = 0')[0][
            "n"] == 0
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    everything = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"nnnn" in everything
    assert SECRET not in everything


def test_settings_bounds_are_on_by_default() -> None:
    from collector.settings import Settings
    from collector.store.dead_letters import bounds_of

    bounds = bounds_of(Settings())
    assert bounds.max_age == timedelta(days=7)
    assert bounds.max_bytes == 256 * 1024 * 1024
    assert bounds.max_raw_bytes == 64 * 1024


@pytest.mark.parametrize("bad", ["data/email", "header:"])
def test_a_redact_entry_must_be_a_pointer_or_a_header(bad: str) -> None:
    from collector.exceptions import ConfigError
    from collector.settings import load_settings

    with pytest.raises(ConfigError, match=r"capture\.redact"):
        load_settings(None, capture={"redact": (bad,)})


def test_what_the_bounds_dropped_and_cut_reaches_the_metrics(tmp_path: Path) -> None:
    from collector.kafka.health import Health
    from collector.pipeline import PipelineStats

    store = open_store(f"sqlite:///{tmp_path / 's.db'}",
                       dead_letters=DeadLetterBounds(max_bytes=5000, max_raw_bytes=500))
    try:
        store.write(Batch(dead_letters=[letter(i, raw=b"r" * 900) for i in range(20)]))
        usage = store.dead_letter_usage()
    finally:
        store.close()
    health = Health(monotonic=lambda: 0.0)
    samples = health.sample(PipelineStats(), {}, True, T0, usage)
    health.sample(PipelineStats(), {}, True, T0, usage)  # the same totals: counted once
    value = health.registry.get_sample_value
    assert usage.dropped_budget > 0
    assert value("choreoscope_dead_letters_dropped_total", {"bound": "budget"}) == (
        usage.dropped_budget)
    assert value("choreoscope_dead_letters_truncated_total") == 20
    assert value("choreoscope_dead_letters_stored_bytes") == usage.bytes <= 5000
    assert ("dead_letters_dropped", {"bound": "budget"}, float(usage.dropped_budget),
            T0) in samples
    assert ("dead_letters_truncated", {}, 20.0, T0) in samples


def test_replay_against_an_unreachable_broker_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from collector.cli import main

    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url, dead_letters=DeadLetterBounds(max_raw_bytes=10))
    try:  # cut short, so the replay must re-read it from the broker
        store.write(Batch(dead_letters=[letter(1, raw=b"{" * 100)]))
    finally:
        store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["deadletters", "replay", "--store", url, "--bootstrap-servers",
                 f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"choreoscope: cannot re-read records from Kafka at 127.0.0.1:{port}")
    assert "Traceback" not in err


def test_dead_letters_stored_before_the_bounds_are_counted_after_the_upgrade(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(store_before(path, 70)) as db, db:  # as it was before migration 070
        db.execute("INSERT INTO dead_letters (reason, detail, loc_source, topic, partition, "
                   "\"offset\", received_at, raw, key, headers) VALUES ('not-json', 'old', "
                   "'kafka', 'orders', 0, 1, '2026-03-01T12:00:00.000000Z', ?, NULL, "
                   "'[[\"kind\", \"old\"]]')", (b"r" * 500,))
    store = open_store(f"sqlite:///{path}")
    try:
        usage = store.dead_letter_usage()
        usage_matches_rows(store)
        (row,) = store.query("SELECT raw_size, size FROM dead_letters")
    finally:
        store.close()
    assert usage.stored == 1
    assert row["raw_size"] == 500
    assert usage.bytes == row["size"] > 500
