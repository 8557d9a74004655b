"""The Collector health page shows what the dead letters' bounds did (dropped, truncated), why a
dead letter has no bytes, and header bytes that are not UTF-8 as bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.model import DeadLetter, DeadLetterReason, Location
from collector.store import Batch, open_store
from collector.store.dead_letters import DeadLetterBounds

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_health_page_counts_dropped_and_truncated_dead_letters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url, dead_letters=DeadLetterBounds(max_bytes=30_000, max_raw_bytes=1000))
    try:
        for b in range(4):  # 40 records of 2,000 bytes: cut to 1,000, the oldest dropped
            store.write(Batch(dead_letters=[DeadLetter(
                DeadLetterReason.NOT_JSON, "not JSON", Location("kafka", "orders", 0, b * 10 + i),
                T0 + timedelta(seconds=b), b"q" * 2000) for i in range(10)]))
        store.write(Batch(dead_letters=[DeadLetter(
            DeadLetterReason.NOT_UTF8, "not UTF-8 (byte 0)", Location("kafka", "orders", 0, 99),
            T0 + timedelta(seconds=9), None, None, (("x-correlation-id", b"\xff\xfe"),),
            raw_withheld="redaction rules apply")]))
        usage = store.dead_letter_usage()
        newest = store.query("SELECT MAX(dl_id) AS n FROM dead_letters")[0]["n"]
    finally:
        store.close()
    assert usage.dropped_budget > 0
    monkeypatch.setenv("CHOREOSCOPE_STORE", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dropped by bounds"] == f"{usage.dropped_budget:,}"
    assert metrics["Truncated"] == "40"
    assert metrics["Stored"] == f"{usage.stored:,}"

    at.selectbox(key="dl_id").select(newest).run()
    captions = "\n".join(c.value for c in at.caption)
    assert "Bytes not kept: redaction rules apply" in captions
    (headers,) = [d.value.to_dict("records") for d in at.dataframe
                  if "Header" in d.value.columns]
    assert headers == [{"Header": "x-correlation-id", "Value": repr(b"\xff\xfe")}]
