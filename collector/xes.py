"""Import an XES event log (IEEE 1849, optionally gzip-compressed) as business events.

The edge between a process-mining log and the flow engine: each ``<trace>`` is one flow (its
``concept:name`` is the correlation id), each ``<event>`` one business event whose type is its
``concept:name``. The event's position in its trace is the source sequence that orders ties, and
its location is ``Location("xes", FILE, 0, POSITION_IN_FILE)``. Streaming (``iterparse``), so a
large log never sits in memory whole.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from collector.exceptions import InputError
from collector.model import Event, Location

__all__ = ["XesError", "read_xes"]

_NAME = "concept:name"
_TIME = "time:timestamp"


class XesError(InputError):
    """An XES file cannot be read: names the file, the position and what is wrong."""


def _open(path: Path) -> IO[bytes]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _value(elem: ET.Element) -> Any:
    kind, raw = _local(elem.tag), elem.get("value")
    if raw is None:
        return None
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


def _attribute(elem: ET.Element, path: Path, position: int) -> Any:
    try:
        return _value(elem)
    except ValueError:
        kind, key = _local(elem.tag), elem.get("key", "")
        raise XesError(f"{path}: event {position}: <{kind} key={key!r}> has value "
                       f"{elem.get('value')!r}, not a valid {kind}") from None


def read_xes(path: str | Path, *, received_at: datetime, source: str | None = None,
             keep_attributes: bool = True) -> Iterator[Event]:
    """Yield the log's events, trace by trace, in file order.

    ``source`` names the producer in each event's identity (default: the file's name), so the
    same log imported twice gives the same identities. ``keep_attributes`` puts the event's
    other attributes (``org:resource`` ...) in its data.
    """
    path = Path(path)
    src = source or path.name
    position = 0
    try:
        with _open(path) as stream:
            context = ET.iterparse(stream, events=("start", "end"))  # noqa: S314
            _, root = next(context)
            case: str | None = None
            attrs: dict[str, Any] = {}
            depth = index = 0
            trace_depth = event_depth = -1
            for kind, elem in context:
                tag = _local(elem.tag)
                if kind == "start":
                    depth += 1
                    if tag == "trace":
                        trace_depth, case, index = depth, None, 0
                    elif tag == "event" and trace_depth >= 0:
                        event_depth, attrs = depth, {}
                    continue
                if depth == event_depth:
                    event_depth = -1
                    yield _event(attrs, case, index, position, src, str(path), received_at,
                                 keep_attributes)
                    index += 1
                    position += 1
                    elem.clear()
                elif depth == trace_depth:
                    trace_depth = -1
                    root.clear()
                elif depth == event_depth + 1 and event_depth >= 0:
                    attrs.setdefault(elem.get("key", ""), _attribute(elem, path, position))
                elif depth == trace_depth + 1 and elem.get("key") == _NAME and case is None:
                    case = elem.get("value")
                depth -= 1
    except (OSError, EOFError, ET.ParseError) as exc:
        raise XesError(f"{path}: cannot read XES after {position} events: {exc}") from exc


def _event(attrs: dict[str, Any], case: str | None, index: int, position: int, src: str,
           file: str, received_at: datetime, keep: bool) -> Event:
    where = f"{file}: event {position}"
    if case is None:
        raise XesError(f"{where}: its trace has no concept:name before its events")
    kind, stamp = attrs.pop(_NAME, None), attrs.pop(_TIME, None)
    if not isinstance(kind, str) or not isinstance(stamp, str):
        raise XesError(f"{where}: an event needs concept:name and time:timestamp")
    try:
        occurred = datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise XesError(f"{where}: time:timestamp {stamp!r} is not ISO 8601") from exc
    if occurred.tzinfo is None:
        raise XesError(f"{where}: time:timestamp {stamp!r} has no UTC offset")
    return Event(
        id=f"{case}#{index}", type=kind, source=src, occurred_at=occurred, correlation_id=case,
        data=attrs if keep else None, location=Location("xes", file, 0, position),
        received_at=received_at, sequence=index,
    )
