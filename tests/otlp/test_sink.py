"""The span sink on a real SQLite store: group commit, a failed write answered and survived."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.model import Span, SpanKind
from collector.otlp.sink import Outcome, SpanSink
from collector.store.base import Store
from tests.otlp.conftest import stored_spans
from tests.otlp.test_receiver import _wait_until

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _spans(n: int, trace: str, **attributes: object) -> list[Span]:
    return [Span(trace, f"{i + 1:016x}", None, f"s{i}", SpanKind.INTERNAL, "svc", T0,
                 T0 + timedelta(milliseconds=i), attributes=attributes) for i in range(n)]


def test_queued_requests_share_one_commit(store: Store, store_url: str) -> None:
    sink = SpanSink(store).start()
    blocker = sqlite3.connect(Path(store_url.removeprefix("sqlite:///")), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    outcomes: list[Outcome] = []
    threads = [threading.Thread(target=lambda t=t: outcomes.append(sink.submit(_spans(2, t))))
               for t in ("a" * 32, "b" * 32, "c" * 32)]
    for t in threads:
        t.start()
    _wait_until(lambda: sink.pending == 6)
    blocker.execute("ROLLBACK")
    blocker.close()
    for t in threads:
        t.join(30)
    sink.close()
    assert outcomes == [Outcome.STORED] * 3
    assert sink.stats.requests == 3
    assert sink.stats.writes < 3  # queued requests shared a commit
    assert len(stored_spans(store)) == 6


def test_a_failed_write_is_answered_and_the_writer_survives(store: Store) -> None:
    sink = SpanSink(store).start()
    unstorable = _spans(1, "d" * 32, thing=object())  # not JSON: the store cannot write it
    assert sink.submit(unstorable) is Outcome.FAILED
    assert sink.submit(_spans(2, "e" * 32)) is Outcome.STORED
    sink.close()
    assert sink.stats.failed_writes == 1
    assert [r["trace_id"] for r in stored_spans(store)] == ["e" * 32] * 2


def test_a_closed_sink_refuses_and_empty_requests_need_no_write(store: Store) -> None:
    sink = SpanSink(store).start()
    assert sink.submit([]) is Outcome.STORED
    sink.close()
    assert sink.submit(_spans(1, "f" * 32)) is Outcome.SATURATED
    assert sink.stats.writes == 0
    assert stored_spans(store) == []


def test_span_times_are_stored_in_the_store_format(store: Store) -> None:
    """The same fixed UTC text as every other table, whatever the span's time zone."""
    from datetime import timezone

    from collector.store._time import to_text

    berlin = timezone(timedelta(hours=2))
    spans = [*_spans(1, "1" * 32), Span("2" * 32, "0" * 15 + "1", None, "s", SpanKind.INTERNAL,
                                        "svc", datetime(2026, 5, 1, 14, tzinfo=berlin),
                                        datetime(2026, 5, 1, 14, 0, 1, 5, tzinfo=berlin))]
    sink = SpanSink(store).start()
    assert sink.submit(spans) is Outcome.STORED
    sink.close()
    rows = stored_spans(store)
    assert [(r["start_at"], r["end_at"], r["duration_us"]) for r in rows] == [
        (to_text(s.start), to_text(s.end), round(s.duration.total_seconds() * 1e6))
        for s in sorted(spans, key=lambda s: s.start)]
    assert rows[1]["start_at"] == "2026-05-01T12:00:00.000000Z"
