"""Listing commands: a header line over the rows, humanised amounts, and --json everywhere
(deadletters list --json has the fields of deadletters show --json)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from collector.cli import main
from collector.model import DeadLetter, DeadLetterReason, FlowSnapshot, FlowStatus, Location
from collector.store import Batch, open_store

T0 = datetime(2026, 1, 5, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    store.write(Batch(
        dead_letters=[DeadLetter(DeadLetterReason.NO_CORRELATION, f"no correlation id {i}",
                                 Location("kafka", "orders", 0, i), T0, b'{"a": 1}',
                                 b"ORD-1", (("x-tenant", b"acme"), ("bin", b"\xff")))
                      for i in range(3)],
        flows=[FlowSnapshot("i1", "c-1", "order", 1, FlowStatus.STUCK, T0, T0, "OrderPlaced", 1,
                            stuck_step="OrderPlaced", stuck_since=T0,
                            expected_next=("PaymentProcessed",))]))
    store.close()
    return url


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_deadletters_list_json_has_the_fields_of_show_json(
        store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "deadletters", "list", "--store", store_url, "--json")
    assert code == 0
    listed = [orjson.loads(line) for line in out.splitlines()]
    assert [r["offset"] for r in listed] == [2, 1, 0]
    code, out = _run(capsys, "deadletters", "show", str(listed[0]["id"]), "--store", store_url,
                     "--json")
    assert code == 0
    shown = orjson.loads(out)
    assert shown == listed[0]
    assert shown["key"] == "ORD-1"
    assert shown["headers"] == [["x-tenant", "acme"], ["bin", repr(b"\xff")]]
    assert shown["text"] == '{"a": 1}'


def test_deadletters_list_has_a_header_line_and_times_to_the_second(
        store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "deadletters", "list", "--store", store_url, "--limit", "2")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:3] == ["ID", "REASON", "FROM"]
    assert len(lines) == 3
    assert "2026-01-05 08:00:00  no correlation id 2" in lines[1]
    assert ".123456" not in out


def test_flows_stuck_has_a_header_line_and_a_humanised_age(
        store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    at = (T0 + timedelta(minutes=3, seconds=16)).isoformat()
    code, out = _run(capsys, "flows", "stuck", "--store", store_url, "--at", at)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("CORRELATION ID\tFLOW TYPE\tWAITING AFTER")
    assert lines[1].split("\t")[-1] == "3 min 16 s"
    assert "2026-01-05 08:00:00" in lines[1]
