"""Durations, times and amounts as the pages and commands show them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.humanize import (
    format_bytes,
    format_count,
    format_duration,
    format_overdue,
    format_time,
)


@pytest.mark.parametrize(("seconds", "text"), [
    (None, ""), (0, "0 s"), (0.0004, "0.4 ms"), (0.002, "2.0 ms"), (0.015, "15 ms"),
    (2.44, "2.4 s"), (12.34, "12 s"), (59.6, "1 min"), (61, "1 min 1 s"), (196, "3 min 16 s"),
    (180, "3 min"), (365.4, "6 min 5 s"), (3725, "1 h 2 min"), (3600, "1 h"),
    (90_000, "1 d 1 h"), (28_800_000, "333 d 8 h"), (-5, "0 s")])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_missing_duration_can_be_shown_as_a_dash() -> None:
    assert format_duration(None, empty="-") == "-"


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_every_duration_has_at_most_two_units_and_no_microseconds(seconds: float) -> None:
    text = format_duration(seconds)
    numbers = text.split()[::2]
    assert 1 <= len(numbers) <= 2
    assert all(len(n.split(".")[-1]) <= 1 or "." not in n for n in numbers)


def test_overdue_is_never_a_negative_time_left() -> None:
    assert format_overdue(-365.4) == "overdue by 6 min 5 s"
    assert format_overdue(12.2) == "12 s left"
    assert format_overdue(None) == ""


def test_times_are_to_the_second_in_one_stated_zone() -> None:
    at = datetime(2026, 12, 5, 21, 31, 37, 912345, tzinfo=UTC)
    assert format_time(at) == "2026-12-05 21:31:37 UTC"
    assert format_time("2026-12-05T21:31:37.912345Z") == "2026-12-05 21:31:37 UTC"
    assert format_time(at, with_zone=False) == "2026-12-05 21:31:37"
    paris = timezone(timedelta(hours=1), "CET")
    assert format_time(at, zone=paris) == "2026-12-05 22:31:37 CET"
    assert format_time(None) == ""


def test_counts_and_sizes() -> None:
    assert format_count(1234567) == "1,234,567"
    assert format_count(2.5) == "2.5"
    assert format_count(None) == ""
    assert [format_bytes(n) for n in (812, 4300, 18 * 1024 * 1024, 2**31)] == [
        "812 B", "4.2 KiB", "18.0 MiB", "2.0 GiB"]
