"""The ``collectors`` table on both backends: each process's heartbeat upserted by its id, the
latest kept; the Collector health page lists the group's collectors, flags a silent one, shows
one that stopped cleanly as stopped, and lists a restarted one once."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.kafka.health import with_collector
from collector.member import Membership, Status
from collector.store import Batch, open_store
from dashboard.collector_queries import collectors, list_collectors
from dashboard.queries import lag_over_time, metric_series

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def _two_collectors(url: str, now: datetime) -> None:
    alive = Membership("h1:1:a", "choreo", now - timedelta(hours=1), 10.0)
    gone = Membership("h2:2:b", "choreo", now - timedelta(hours=1), 10.0)
    reader, tracker = alive.role("reader"), alive.role("tracker")
    store = open_store(url)
    try:
        store.write(Batch(collectors=[
            reader.beat({("orders", 0): 4}, 10, now - timedelta(seconds=15)),
            gone.role("reader").beat({("orders", 1): 9}, 10, now - timedelta(minutes=5))]))
        tracker.beat({("choreo.flows", 2): 1}, 3, now - timedelta(seconds=4))
        store.write(Batch(collectors=[reader.beat({("orders", 0): 2}, 160, now)]))
        # a late write of an older heartbeat (the other role's thread) changes nothing
        store.write(Batch(collectors=[reader.beat({("orders", 0): 7}, 0, now - timedelta(
            seconds=20))]))
    finally:
        store.close()


def test_heartbeats_upsert_by_collector_and_a_silent_one_is_flagged(store_url: str) -> None:
    _two_collectors(store_url, T0)
    store = open_store(store_url, read_only=True)
    try:
        rows = collectors(store, now=T0 + timedelta(seconds=20))
        later = collectors(store, now=T0 + timedelta(days=2))
    finally:
        store.close()
    assert [(r["collector_id"], r["silent"]) for r in rows] == [
        ("h1:1:a", False), ("h2:2:b", True)]
    alive = rows[0]
    assert alive["partitions"] == "reader: orders[0]; tracker: choreo.flows[2]"
    assert (alive["lag"], alive["records_per_second"], alive["heartbeat_at"]) == (3, 10.0, T0)
    assert alive["roles"] == "reader, tracker"
    assert rows[1]["since_heartbeat_s"] == 320.0
    assert later == []  # not heard from for a day: no longer listed


def test_retention_deletes_collectors_not_heard_from_since_the_cutoff(store_url: str) -> None:
    _two_collectors(store_url, T0)
    store = open_store(store_url)
    try:
        store.delete_older_than(T0 - timedelta(minutes=1), 100)
        left = store.query("SELECT collector_id FROM collectors")
    finally:
        store.close()
    assert left == [{"collector_id": "h1:1:a"}]


def test_health_page_lists_the_collectors_and_flags_the_silent_one(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_collectors(store_url, datetime.now(UTC))
    monkeypatch.setenv("CHOREOSCOPE_STORE", store_url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Collectors"], metrics["Silent"]) == ("2", "1")
    (table,) = [d.value.to_dict("records") for d in at.table
                if "Collector" in d.value.columns]
    assert [(r["Collector"], r["Status"]) for r in table] == [
        ("h1:1:a", "running"), ("h2:2:b", "SILENT")]
    (error,) = [e.value for e in at.error]
    assert "h2:2:b" in error
    assert "is silent: no heartbeat for 5 min" in error


def _stopped_and_restarted(url: str, now: datetime) -> None:
    """On host h3: a run killed 10 min ago and its restart, which then stopped cleanly 2 min
    ago after reading 500 records; on host h4, one that stopped 1 min ago and no restart."""
    killed = Membership("h3:7:a", "choreo", now - timedelta(hours=1), 10.0, host="h3")
    again = Membership("h3:8:b", "choreo", now - timedelta(minutes=9), 10.0, host="h3")
    done = Membership("h4:9:c", "choreo", now - timedelta(minutes=30), 10.0, host="h4")
    store = open_store(url)
    try:
        store.write(Batch(collectors=[
            killed.role("single").beat({("orders", 0): 1}, 40, now - timedelta(minutes=10)),
            again.role("single").beat({("orders", 0): 0}, 500, now - timedelta(minutes=3)),
            done.role("single").beat({("orders", 1): 0}, 70, now - timedelta(minutes=2))]))
        store.write(Batch(collectors=[again.stop(now - timedelta(minutes=2)),
                                      done.stop(now - timedelta(minutes=1))]))
    finally:
        store.close()


def test_a_clean_stop_is_stopped_not_silent_and_a_restart_replaces_its_predecessor(
        store_url: str) -> None:
    _stopped_and_restarted(store_url, T0)
    store = open_store(store_url, read_only=True)
    try:
        found = list_collectors(store, now=T0)
        every = collectors(store, now=T0)
    finally:
        store.close()
    assert [(r["collector_id"], r["status"]) for r in every] == [
        ("h3:7:a", Status.SILENT), ("h4:9:c", Status.STOPPED), ("h3:8:b", Status.STOPPED)]
    assert [(r["collector_id"], r["status"], r["records"], r["records_per_second"],
             r["stopped_at"], r["partitions"]) for r in found.listed] == [
        ("h4:9:c", Status.STOPPED, 70, None, T0 - timedelta(minutes=1), ""),
        ("h3:8:b", Status.STOPPED, 500, None, T0 - timedelta(minutes=2), "")]
    assert [(r["collector_id"], r["replaced_by"]) for r in found.replaced] == [
        ("h3:7:a", "h3:8:b")]


def test_health_page_shows_stopped_at_and_no_alarm_for_a_clean_stop(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _stopped_and_restarted(store_url, now)
    monkeypatch.setenv("CHOREOSCOPE_STORE", store_url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error  # the killed run was restarted: no alarm
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Collectors"], metrics["Silent"], metrics["Stopped"]) == ("2", "0", "2")
    (table,) = [d.value.to_dict("records") for d in at.table
                if "Collector" in d.value.columns]
    stopped = now - timedelta(minutes=2)
    assert [(r["Collector"], r["Status"], r["Read"]) for r in table] == [
        ("h4:9:c", f"stopped at {now - timedelta(minutes=1):%H:%M}", "70"),
        ("h3:8:b", f"stopped at {stopped:%H:%M}", "500")]
    captions = " ".join(str(c.value) for c in at.caption)
    assert "1 earlier run(s) of these collectors, replaced by a restart" in captions
    assert "h3:7:a" in captions


def test_health_page_draws_each_collectors_rates_and_says_who_read_each_partition(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    store = open_store(store_url)
    try:
        for cid, rate, partition in (("h5:1:a", 120.0, 0), ("h6:2:b", 80.0, 1)):
            samples = [(name, labels, value, now - timedelta(seconds=s))
                       for s in (20, 10, 0) for name, labels, value in (
                           ("records_per_second", {}, rate + s),
                           ("dead_letters_per_second", {}, 0.0),
                           ("consumer_lag", {"topic": "orders",
                                             "partition": str(partition)}, float(s)))]
            store.write(Batch(metrics=with_collector(samples, cid)))
    finally:
        store.close()
    monkeypatch.setenv("CHOREOSCOPE_STORE", store_url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    (lag,) = [d.value.to_dict("records") for d in at.dataframe
              if "Read by" in d.value.columns]
    assert [(r["Partition"], r["Read by"], r["Lag (records)"]) for r in lag] == [
        (0, "h5:1:a", 0), (1, "h6:2:b", 0)]
    charts = {(spec := json.loads(e.proto.spec))["encoding"]["y"]["title"]: (
        spec, e.proto.SerializeToString()) for e in at.main
        if getattr(e, "type", None) == "vega_lite_chart"}
    rates, data = charts["records/s"]
    assert rates["encoding"]["color"]["field"] == "collector"  # a line per collector
    assert b"h5:1:a" in data
    assert b"h6:2:b" in data
    lag_chart = charts["lag (records)"][0]  # the total lag of each collector over time
    assert lag_chart["encoding"]["color"]["field"] == "collector"
    # all zeros: the axis spans 0 to 1, not a band around zero
    assert charts["dead letters/s"][0]["encoding"]["y"]["scale"] == {"domain": [0, 1]}


def test_lag_over_time_sums_each_collectors_partitions_and_series_keep_the_newest(
        store_url: str) -> None:
    samples = [("consumer_lag", {"topic": "orders", "partition": str(p)}, float(10 * s + p),
                T0 + timedelta(seconds=s)) for s in range(4) for p in range(3)]
    store = open_store(store_url)
    try:
        store.write(Batch(metrics=with_collector(samples, "h7:1:a")))
        store.write(Batch(metrics=with_collector(samples[-3:], "h8:1:b")))
        totals = lag_over_time(store, since=T0 + timedelta(seconds=2))
        newest = metric_series(store, "consumer_lag", since=T0, limit=9)
    finally:
        store.close()
    assert [(r["at"], r["collector"], r["lag"]) for r in totals] == [
        (T0 + timedelta(seconds=2), "h7:1:a", 63.0), (T0 + timedelta(seconds=3), "h7:1:a", 93.0),
        (T0 + timedelta(seconds=3), "h8:1:b", 93.0)]
    assert [r["at"] for r in newest] == [T0 + timedelta(seconds=2)] * 3 + [
        T0 + timedelta(seconds=3)] * 6  # the newest 9 of 15, oldest first


def test_several_silent_collectors_share_one_box_and_each_is_flagged_in_the_table(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole group gone quiet: one red box saying how many and naming the first few (a box
    each pushed the table below the fold), and every one flagged in the table."""
    now = datetime.now(UTC)
    alive = Membership("h0:1:a", "shop", now - timedelta(hours=1), 10.0)
    quiet = [Membership(f"h{i}:2:b", "billing", now - timedelta(hours=1), 10.0)
             for i in range(1, 8)]
    store = open_store(store_url)
    try:
        store.write(Batch(collectors=[alive.role("single").beat({("orders", 0): 0}, 5, now)] + [
            m.role("single").beat({("bills", i): 0}, 5, now - timedelta(minutes=5 + i))
            for i, m in enumerate(quiet)]))
    finally:
        store.close()
    monkeypatch.setenv("CHOREOSCOPE_STORE", store_url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Silent"] == "7"
    (error,) = [e.value for e in at.error]
    assert error.startswith("7 collectors of group `billing` are silent: `h1:2:b`, `h2:2:b`")
    assert error.count(":2:b`") == 5
    assert re.search(r"and 2 more\. No heartbeat for 5 min( \d+ s)? to 11 min( \d+ s)?, and "
                     "none said it stopped", error), error
    (table,) = [d.value.to_dict("records") for d in at.table if "Collector" in d.value.columns]
    assert sorted(r["Status"] for r in table) == ["SILENT"] * 7 + ["running"]
