"""Collector health: lag per partition, records/s, dead letters by reason, validation and store
write latency, over time. Dead letters can be browsed here; replaying them is a command to run
(``choreoscope deadletters replay``), since the dashboard only reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from collector.humanize import TIME_ZONE_NOTE, format_bytes, format_count, format_time
from collector.member import Status
from collector.settings import load_settings
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.charts import bucket_bars, time_lines
from dashboard.collector_queries import list_collectors
from dashboard.markup import md, md_code
from dashboard.queries import (
    DEAD_LETTER_LIMIT,
    dead_letter,
    dead_letter_bounds,
    dead_letter_counts,
    dead_letters,
    dead_letters_over_time,
    distinct,
    fed_by_simulator,
    format_duration,
    lag_by_partition,
    lag_over_time,
    latest_metric,
    metric_series,
    replay_command,
    validation_over_time,
)
from dashboard.table import readable, show

WINDOWS = {"last 15 minutes": timedelta(minutes=15), "last hour": timedelta(hours=1),
           "last 6 hours": timedelta(hours=6), "last 24 hours": timedelta(hours=24)}
ALL = "(all)"
REFRESH = timedelta(seconds=10)


def _line(rows: list[dict[str, object]], y: str, title: str,
          colour: str | None = "series") -> None:
    st.altair_chart(time_lines(rows, y, y_title=title, color=colour), width="stretch")


def _several(rows: list[dict[str, Any]]) -> bool:
    """Whether more than one collector took these samples (then a line each)."""
    return len({r["collector"] for r in rows}) > 1


def _metric(store: Store, name: str, title: str, window: timedelta) -> None:
    """One metric over the window: a line per collector when several took it."""
    last = latest_metric(store, name)
    rows = [] if last is None else metric_series(store, name, since=last - window)
    st.markdown(f"**{title}**")
    if rows:
        _line(rows, "value", title, "collector" if _several(rows) else None)
    else:
        st.caption(f"No {title} samples yet: the collector writes them every few seconds.")


def _lag(store: Store, window: timedelta) -> None:
    st.subheader("Consumer lag per partition")
    lag = lag_by_partition(store)
    if not lag:
        if fed_by_simulator(store):
            st.caption("Not applicable: the simulator feeds the collector in process, with no "
                       "consumer group to lag behind a topic.")
        else:
            st.caption("No lag samples yet (the Kafka collector writes them every few seconds).")
        return
    c1, c2 = st.columns(2)
    c1.metric("Total lag", f"{sum(r['lag'] for r in lag):,}")
    c2.metric("Partitions", len(lag))
    show(lag, key="lag_table", columns={"topic": "Topic", "partition": "Partition",
                                        "lag": "Lag (records)", "collector": "Read by",
                                        "at": "Sampled (UTC)"})
    last = latest_metric(store, "consumer_lag")
    rows = [] if last is None else lag_over_time(store, since=last - window)
    if rows:
        st.markdown("**Total lag per collector**" if _several(rows) else "**Total lag**")
        _line(rows, "lag", "lag (records)", "collector" if _several(rows) else None)


def _bounds(store: Store) -> None:
    """What the ``[dead_letters]`` bounds did: kept, dropped (age, budget), truncated."""
    b = dead_letter_bounds(store)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Stored", f"{b.stored:,}")
    c2.metric("Stored size", format_bytes(b.bytes))
    c3.metric("Dropped by bounds", f"{b.dropped_age + b.dropped_budget:,}",
              help=f"{b.dropped_age:,} past dead_letters.max_age_days, "
                   f"{b.dropped_budget:,} over the dead_letters.max_bytes budget")
    c4.metric("Truncated", f"{b.truncated:,}",
              help="raw bytes cut to dead_letters.max_raw_bytes")


def _dead_letters(store: Store, window: timedelta) -> None:
    st.subheader("Dead letters")
    _bounds(store)
    counts = dead_letter_counts(store)
    if not counts:
        st.success("No dead letters.")
        return
    show(counts, key="dead_letter_counts", columns={
        "reason": "Reason", "dead_letters": "Dead letters", "latest": "Latest (UTC)"})
    over_time = dead_letters_over_time(store, window=window)
    if over_time:
        st.altair_chart(bucket_bars(over_time, "dead_letters", y_title="dead letters per minute",
                                    color="reason"), width="stretch")
    c1, c2 = st.columns(2)
    reasons = [ALL, *(r["reason"] for r in counts)]
    reason = c1.selectbox("Reason", reasons, key="dl_reason")
    topics = [ALL, *distinct(store, "dead_letters", "topic")]
    topic = c2.selectbox("Topic", topics, key="dl_topic")
    chosen_reason = None if reason == ALL else reason
    chosen_topic = None if topic == ALL else topic
    rows = dead_letters(store, reason=chosen_reason, topic=chosen_topic)
    note = f" (newest {DEAD_LETTER_LIMIT})" if len(rows) == DEAD_LETTER_LIMIT else ""
    st.markdown(f"**{len(rows)} dead letters{note}**, newest first")
    show(rows, key="dead_letter_list", columns={
        "id": "Id", "reason": "Reason", "topic": "Topic", "partition": "Partition",
        "offset": "Offset", "received_at": "Received (UTC)", "detail": "Detail",
        "loc_source": "Read from"})
    url = load_settings().store
    st.markdown("Replay these (the dashboard is read-only; run this where the collector runs):")
    st.code(replay_command(url, reason=chosen_reason, topic=chosen_topic), language="bash")
    if rows:
        _one_dead_letter(store, [int(r["id"]) for r in rows], url)


def _one_dead_letter(store: Store, ids: list[int], url: str) -> None:
    chosen = st.selectbox("Show dead letter", ids, key="dl_id")
    one = None if chosen is None else dead_letter(store, int(chosen))
    if one is None:
        return
    where = (one["loc_source"] if one["topic"] is None
             else f"{one['topic']}[{one['partition']}]@{one['offset']}")
    st.markdown(f"**#{one['id']}** · {md_code(one['reason'])} · from {md_code(where)} · received "
                f"{format_time(one['received_at'])}")
    st.text(one["detail"])
    if one["key"] is not None:
        st.markdown(f"key: {md_code(one['key'])}")
    if one["headers"]:
        show([{"header": k, "value": v} for k, v in one["headers"]], key="dl_headers",
             columns={"header": "Header", "value": "Value"})
    if one["text"] is None and one["raw_withheld"]:
        st.caption(f"Bytes not kept: {md(one['raw_withheld'])}. The replay re-reads the record "
                   "from the broker while it retains it.")
    elif one["text"] is None:
        st.caption("Bytes not kept (the capture policy is not 'full').")
    else:
        cut = (f" of {one['raw_size']} (cut at dead_letters.max_raw_bytes; the replay re-reads "
               "the whole record)") if one["raw_truncated"] else ""
        st.caption(f"{one['size']} bytes{cut}" + (", the first 4096 shown"
                                                  if one["size"] > 4096 else ""))
        st.code(one["text"], language=None)
    st.code(replay_command(url, dl_id=one["id"]), language="bash")


def _validation(store: Store, window: timedelta) -> None:
    st.subheader("Validation and store latency")
    names = distinct(store, "metrics", "name")
    _metric(store, "store_write_seconds", "store write (seconds per transaction)", window)
    latency = [n for n in names if n.startswith("validation") and n.endswith("seconds")]
    for name in latency:
        _metric(store, name, "validation (seconds per event)" if name == "validation_seconds"
                else name.replace("_", " "), window)
    if not latency:
        st.caption("No validation latency samples in the store.")
    rows = validation_over_time(store, window=window)
    if rows:
        st.markdown("**Schema violations per minute**")
        st.altair_chart(bucket_bars(rows, "violations", y_title="violations per minute"),
                        width="stretch")


def _tap(store: Store, window: timedelta) -> None:
    """A broker tap's own figures (RabbitMQ: tap queue depth, consumers, dropped at the
    bound; with the firehose, published and delivered rates per exchange), when the collector
    reads such a broker."""
    last = latest_metric(store, "tap")
    if last is None:
        return
    st.subheader("Broker tap")
    rows = metric_series(store, "tap", since=last - window)
    latest = {r["figure"]: r["value"] for r in rows}
    per_exchange = {f: v for f, v in latest.items() if ":" in str(f)}
    latest = {f: v for f, v in latest.items() if f not in per_exchange}
    rows = [r for r in rows if r["figure"] in latest]
    columns = st.columns(max(len(latest), 1))
    for column, (figure, value) in zip(columns, sorted(latest.items()), strict=False):
        column.metric(str(figure).replace("_", " "), f"{value:,.0f}")
    if latest.get("rabbitmq_dropped"):
        st.warning("The tap queue's bound (rabbitmq.queue_max_bytes) dropped messages: the "
                   "collector fell behind or was stopped; those messages were not collected.")
    _line(rows, "value", "tap")
    if per_exchange:
        st.markdown("**Per exchange (RabbitMQ's firehose), messages per second**")
        table: dict[str, dict[str, float]] = {}
        for figure, value in per_exchange.items():
            name, _, exchange = str(figure).partition(":")
            kind = "published/s" if name == "rabbitmq_published_per_s" else "delivered/s"
            table.setdefault(exchange, {"published/s": 0.0, "delivered/s": 0.0})[kind] = value
        st.dataframe([{"exchange": e, **v} for e, v in sorted(table.items())], hide_index=True)


def _collectors(store: Store) -> None:
    """The group's collectors (one row per ``choreoscope collect`` process): running, stopped
    (it said so on a clean exit) or silent, flagged (it stopped heartbeating without saying
    so: crashed, hung or cut off). Earlier runs a restart replaced are counted, not listed."""
    st.subheader("Collectors")
    found = list_collectors(store, now=datetime.now(UTC))
    rows = found.listed
    if not rows:
        st.caption("No collector has reported yet (each `choreoscope collect` writes its row "
                   "every kafka.metrics_every_s seconds).")
        return
    silent = [r for r in rows if r["silent"]]
    if silent:
        st.error(_silence(silent[0]) if len(silent) == 1 else _silences(silent))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Collectors", len(rows))
    c2.metric("Silent", len(silent))
    c3.metric("Stopped", sum(r["status"] is Status.STOPPED for r in rows))
    c4.metric("Groups", len({r["group"] for r in rows}))
    # a static table that wraps its cells (a data grid hid the last columns behind a sideways
    # scroll): the last heartbeat as "N s ago", short headers, partitions as runs
    # (orders[0-5]), the group only when there are several; the start time is in the
    # collector's id (host:pid:started)
    columns = {"status": "Status", "collector_id": "Collector", "group": "Group",
               "ago": "Heard from", "lag": "Lag", "records_per_second": "Records/s",
               "records": "Read", "roles": "Roles", "partitions": "Partitions"}
    if len({r["group"] for r in rows}) == 1:
        del columns["group"]
        st.caption(f"Group {md_code(rows[0]['group'])}.")
    st.table(readable([{**r, "status": _status(r),
                        "ago": f"{format_duration(r['since_heartbeat_s'])} ago",
                        # as text: a static table shows a float column to four places and
                        # an integer column without thousands separators
                        "records": format_count(r["records"]), "lag": format_count(r["lag"]),
                        "records_per_second": _rate(r["records_per_second"])} for r in rows],
                      columns), hide_index=True)
    if found.replaced:
        st.caption(f"Not listed: {len(found.replaced)} earlier run(s) of these collectors, "
                   "replaced by a restart on the same host (" + ", ".join(
                       f"{md_code(r['collector_id'])} by {md_code(r['replaced_by'])}"
                       for r in found.replaced) + ").")


def _rate(per_second: float | None) -> str:
    return "" if per_second is None else f"{per_second:,.1f}"


def _status(row: dict[str, Any]) -> str:
    if row["status"] is Status.STOPPED:
        return f"stopped at {row['stopped_at']:%H:%M}"
    return "SILENT" if row["silent"] else "running"


_NAMED_SILENT = 5  # silent collectors named in the page's one box (the table flags each)


def _silences(rows: list[dict[str, Any]]) -> str:
    """One box for several silent collectors (one box each buried the page under red when a
    whole group went down): how many, which (the first few), for how long."""
    groups = sorted({str(r["group"]) for r in rows})
    one_group = len(groups) == 1
    named = ", ".join(
        md_code(r["collector_id"]) + ("" if one_group else f" ({md_code(r['group'])})")
        for r in rows[:_NAMED_SILENT])
    more = f" and {len(rows) - _NAMED_SILENT} more" if len(rows) > _NAMED_SILENT else ""
    of = f" of group {md_code(groups[0])}" if one_group else ""
    least, most = (format_duration(f(r["since_heartbeat_s"] for r in rows)) for f in (min, max))
    quiet = least if least == most else f"{least} to {most}"
    said = (f"{len(rows)} collectors{of} are silent: {named}{more}. No heartbeat for {quiet}, "
            "and none said it stopped; the table below flags each one.")
    if all(r["roles"] == "simulator" for r in rows):
        return said
    whose = "the group's" if one_group else "their groups'"
    return (said + f" Their partitions move to {whose} other collectors once the broker's "
            "session times out.")


def _silence(row: dict[str, Any]) -> str:
    said = (f"Collector {md_code(row['collector_id'])} of group {md_code(row['group'])} is "
            f"silent: no heartbeat for {format_duration(row['since_heartbeat_s'])} (more than "
            f"{format_duration(row['silent_after_s'])}) and it did not say it stopped.")
    if row["roles"] == "simulator":  # in process: no consumer group to hand partitions over
        return said
    return (said + " Its partitions move to the group's other collectors once the broker's "
            "session times out.")


def _health(store: Store, window: timedelta) -> None:
    _collectors(store)
    _lag(store, window)
    _tap(store, window)
    st.subheader("Throughput")
    _metric(store, "records_per_second", "records/s", window)
    _metric(store, "dead_letters_per_second", "dead letters/s", window)
    _dead_letters(store, window)
    _validation(store, window)


st.title("Collector health")
store = store_or_help()
if store is not None:
    left, right = st.columns([3, 1])
    window = WINDOWS[left.selectbox("Window", list(WINDOWS), index=1, key="health_window")]
    live = right.toggle(f"Refresh every {REFRESH.seconds} s", key="health_live")
    st.caption("Each window ends at the latest sample of its series. " + TIME_ZONE_NOTE)
    st.fragment(run_every=REFRESH if live else None)(_health)(store, window)
