"""Message browser: a topic's stored messages, newest first, like a topic browser over the
store (no consumer on the cluster). Filters by time window, partition, offset range, key,
header, event type, correlation id, producing service and payload text; a message opens into
its redacted payload and headers, with links to its flow and its catalog page, and for a dead
letter its reason and the replay command. Above the list, what the store holds of each
partition.

URL parameters: ``topic``, ``type``, ``source``, ``key``, ``correlation_id``, ``partition``,
``header`` (``NAME=VALUE``) and ``text`` fill the filters (the event map links here with
``messages?topic=T&type=EVENT`` and ``messages?source=SERVICE``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import streamlit as st

from collector.humanize import TIME_ZONE_NOTE, format_time, parse_time
from collector.messages import (
    DEFAULT_LIMIT,
    Message,
    MessageFilter,
    find_messages,
    latest,
    message,
    parse_header_filter,
    partition_spans,
    topics,
)
from collector.settings import load_settings
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.markup import md, md_code
from dashboard.queries import replay_command
from dashboard.table import show

ALL_TOPICS = "(all topics)"
WINDOWS: dict[str, timedelta | None] = {
    "everything stored": None, "last 15 minutes": timedelta(minutes=15),
    "last hour": timedelta(hours=1), "last 6 hours": timedelta(hours=6),
    "last 24 hours": timedelta(hours=24), "from .. to (UTC)": None}
CUSTOM = "from .. to (UTC)"
PARAMS = ("topic", "type", "source", "key", "correlation_id", "partition", "header", "text")


def _param(name: str) -> str:
    return str(st.query_params.get(name) or "")


def _url() -> tuple[str, ...]:
    return tuple(_param(p) for p in PARAMS)


def _seed_filters(names: list[str]) -> None:
    """Fill the filter widgets from the URL when it changed (a link followed), not on every
    rerun: what the user typed since stays."""
    wanted = _url()
    if st.session_state.get("msg_seeded") == wanted:
        return
    st.session_state["msg_seeded"] = wanted
    for name, value in zip(PARAMS, wanted, strict=True):
        if name != "topic":
            st.session_state[f"msg_{name}"] = value
    topic = wanted[0]
    if topic in names:
        st.session_state["msg_topic"] = topic
    elif any(wanted[1:]) or not names:  # a link that names no topic: every topic
        st.session_state["msg_topic"] = ALL_TOPICS
    elif st.session_state.get("msg_topic") not in (ALL_TOPICS, *names):
        st.session_state["msg_topic"] = names[0]


def _topic(names: list[str]) -> str | None:
    chosen = st.selectbox("Topic", [ALL_TOPICS, *names], key="msg_topic")
    topic = None if chosen == ALL_TOPICS else str(chosen)
    if (topic or "") != _param("topic"):  # the URL names the topic shown, without re-seeding
        st.query_params["topic"] = topic or ""
        st.session_state["msg_seeded"] = _url()
    return topic


def _filters(store: Store, topic: str | None) -> tuple[MessageFilter, str | None]:
    """The filter the widgets describe, or an error to show instead of results."""
    c1, c2, c3 = st.columns(3)
    window_name = c1.selectbox("Time window (ends at the newest message)", list(WINDOWS),
                               key="msg_window")
    window = WINDOWS[window_name]
    key = c2.text_input("Key (exact)", key="msg_key").strip() or None
    correlation = c3.text_input("Correlation id", key="msg_correlation_id").strip() or None
    c4, c5, c6 = st.columns(3)
    event_type = c4.text_input("Event type", key="msg_type").strip() or None
    header_text = c5.text_input("Header (NAME=VALUE or NAME)", key="msg_header").strip()
    text = c6.text_input("Text in the payload", key="msg_text").strip() or None
    c7, c8, c9, c10 = st.columns(4)
    partition_text = c7.text_input("Partition", key="msg_partition").strip()
    offset_from = c8.number_input("Offsets from", min_value=0, value=None, step=1,
                                  key="msg_offset_from")
    offset_to = c9.number_input("Offsets to", min_value=0, value=None, step=1,
                                key="msg_offset_to")
    source = c10.text_input("Producing service", key="msg_source").strip() or None
    error = None
    header = None
    if header_text:
        try:
            header = parse_header_filter(header_text)
        except ValueError as exc:
            error = str(exc)
    partition = None
    if partition_text:
        if partition_text.isdigit():
            partition = int(partition_text)
        else:
            error = f"partition {partition_text!r}: expected a number such as 0"
    since = until = None
    if window is not None:
        newest = latest(store, topic)
        since = None if newest is None else newest - window
    elif window_name == CUSTOM:
        since, until, problem = _range()
        error = error or problem
    f = MessageFilter(
        topic=topic, since=since, until=until, partition=partition,
        offset_from=None if offset_from is None else int(offset_from),
        offset_to=None if offset_to is None else int(offset_to), key=key, header=header,
        event_type=event_type, correlation_id=correlation, source=source, text=text)
    return f, error


def _range() -> tuple[datetime | None, datetime | None, str | None]:
    """The custom window's two ends (UTC when no zone is given), or what is wrong with one."""
    left, right = st.columns(2)
    ends: list[datetime | None] = []
    for col, label, key in ((left, "From (UTC)", "msg_from"), (right, "To (UTC)", "msg_to")):
        text = col.text_input(label, key=key, placeholder="2026-01-05 08:00:00").strip()
        if not text:
            ends.append(None)
            continue
        try:
            ends.append(parse_time(text))
        except ValueError:
            return None, None, f"{label} {text!r}: expected a time such as 2026-01-05 08:00:00"
    return ends[0], ends[1], None


def _holdings(store: Store, topic: str) -> None:
    spans = partition_spans(store, topic)
    if not spans:
        return
    st.subheader("What the store holds of this topic")
    st.caption("The store is not the whole topic: it holds what the collector read and kept. "
               + TIME_ZONE_NOTE)
    show([{
        "partition": s.partition, "first_offset": s.first_offset, "last_offset": s.last_offset,
        "events": s.events, "dead_letters": s.dead_letters, "first_at": s.first_at,
        "last_at": s.last_at, "not stored": "; ".join(s.notes()),
    } for s in spans], key="msg_partitions", columns={
        "partition": "Partition", "first_offset": "First stored offset",
        "last_offset": "Last stored offset", "events": "Events", "dead_letters": "Dead letters",
        "first_at": "First stored (UTC)", "last_at": "Last stored (UTC)",
        "not stored": "Not stored"})


def _flow_link(m: Message) -> str | None:
    return None if m.correlation_id is None else f"search?id={quote(m.correlation_id, safe='')}"


def _list(found: list[Message]) -> None:
    st.caption(f"{len(found)} newest messages" + (
        f" (the newest {DEFAULT_LIMIT}; filter to see others)" if len(found) == DEFAULT_LIMIT
        else "") + ". " + TIME_ZONE_NOTE)
    show([{
        "partition": m.partition, "offset": m.offset, "at": m.at, "status": m.status,
        "what": m.event_type or m.reason, "key": m.key,
        "headers": ", ".join(f"{k}={v}" for k, v in m.headers),
        "correlation_id": m.correlation_id, "source": m.source, "flow": _flow_link(m),
        "topic": m.topic,
    } for m in found], key="msg_list", columns={
        "partition": "Partition", "offset": "Offset", "at": "Time (UTC)", "status": "Status",
        "what": "Event type / reason", "key": "Key", "headers": "Headers",
        "correlation_id": "Correlation id", "source": "Producer", "flow": "Flow",
        "topic": "Topic"}, links={"Flow": "open flow"})


def _choice(m: Message) -> str:
    what = m.event_type or m.reason or ""
    where = f"partition {m.partition}, offset {m.offset}" if m.offset is not None else "-"
    return f"{where} · {what} · key {m.key or '(none)'} · {format_time(m.at)}"


def _detail(store: Store, found: list[Message]) -> None:
    st.subheader("Open a message")
    chosen = st.selectbox("Message", range(len(found)), format_func=lambda i: _choice(found[i]),
                          index=None, placeholder="Choose a message to see its payload",
                          key="msg_open")
    if chosen is None:
        return
    listed = found[chosen]
    m = message(store, source=listed.source, event_id=listed.event_id,
                dead_letter_id=listed.dead_letter_id)
    if m is None:
        st.warning("This message is no longer in the store (retention deleted it).")
        return
    _facts(m)
    if m.dead_letter_id is not None:
        _dead_letter(m)
    else:
        _event(m)


def _facts(m: Message) -> None:
    facts = [{"field": k, "value": str(v)} for k, v in (
        ("Topic", m.topic), ("Partition", m.partition), ("Offset", m.offset),
        ("Time", format_time(m.at)), ("Status", m.status), ("Key", m.key),
        ("Event type", m.event_type), ("Producer", m.source), ("Event id", m.event_id),
        ("Correlation id", m.correlation_id), ("Schema", m.schema)) if v is not None]
    show(facts, key="msg_facts", columns={"field": "Field", "value": "Value"},
         height=35 * (len(facts) + 1) + 3)
    if m.headers:
        st.markdown("**Headers** (values as stored, after redaction)")
        show([{"name": k, "value": v} for k, v in m.headers], key="msg_headers",
             columns={"name": "Header", "value": "Value"})
    else:
        st.caption("No headers.")


def _event(m: Message) -> None:
    links = st.columns(3)
    if m.correlation_id is not None:
        links[0].link_button("Open its flow", _flow_link(m) or "", icon=":material/route:")
    if m.event_type is not None:
        links[1].link_button("Catalog page of its type",
                             "event?" + urlencode({"type": m.event_type}),
                             icon=":material/menu_book:")
    if m.violations:
        st.markdown("**Schema violations**")
        show(list(m.violations), key="msg_violations")
    st.markdown("**Payload** (decoded, redacted as stored)")
    if not m.payload_kept:
        policy = load_settings().capture.policy
        st.info(f"No payload stored for this message: the capture policy ({md_code(policy)}) keeps "
                "none, or a sample of events that does not include this one.")
    else:
        st.json(m.payload, expanded=2)


def _dead_letter(m: Message) -> None:
    st.error(f"Dead letter: {md(m.reason)}. {md(m.detail or '')}")
    st.markdown("**Replay it** (the dashboard only reads; run this where the collector runs)")
    assert m.dead_letter_id is not None
    st.code(replay_command(load_settings().store, dl_id=m.dead_letter_id), language="bash")
    st.markdown("**Bytes as stored**")
    if not m.payload_kept:
        st.info("No bytes stored for this dead letter (the capture policy keeps none).")
    else:
        st.code(str(m.payload), language=None)


def _browse(store: Store) -> None:
    names = topics(store)
    _seed_filters(names)
    topic = _topic(names)
    f, error = _filters(store, topic)
    if error is not None:
        st.error(md(error))  # it quotes what was typed or came in the URL
        return
    if topic is not None:
        _holdings(store, topic)
    st.subheader("Messages, newest first")
    if (f.text is not None or f.header is not None) and f.since is None:
        st.caption("Payload text and header values are searched in the topic's last hour "
                   "(with a key, correlation id or offsets: a header everywhere); choose a "
                   "window to search another.")
    found = find_messages(store, f)
    if not found:
        st.info("No stored message matches these filters.")
        return
    _list(found)
    _detail(store, found)


st.title("Message browser")
store_ = store_or_help()
if store_ is not None:
    _browse(store_)
