"""The compact record a reader forwards to the internal topic for each event it stored: what
the flow tracker needs of an event and nothing more. Pure.

A JSON array, version first: ``[1, id, type, source, occurred_at, correlation_id,
causation_id, sequence]``. The record's key is the correlation id (`collector.kafka.
repartition` picks the partition from it), so every event of a flow reaches one tracker.
"""

from __future__ import annotations

from typing import Any

import orjson

from collector.model import Event, Observation
from collector.scaleout.exceptions import ForwardRecordError
from collector.store._time import from_text, to_text

__all__ = ["VERSION", "decode_forwarded", "encode_forwarded"]

VERSION = 1


def encode_forwarded(e: Event) -> bytes:
    """The internal topic's value for ``e``."""
    return orjson.dumps([VERSION, e.id, e.type, e.source, to_text(e.occurred_at),
                         e.correlation_id, e.causation_id, e.sequence])


def decode_forwarded(o: Observation) -> Event:
    """The event a record of the internal topic stands for (no payload: the reader stored it),
    located where the tracker read it; raises `ForwardRecordError` for anything else."""
    try:
        fields: Any = orjson.loads(o.value)
    except orjson.JSONDecodeError as exc:
        raise ForwardRecordError(str(o.location), "not JSON") from exc
    if not isinstance(fields, list) or len(fields) != 8 or fields[0] != VERSION:
        raise ForwardRecordError(str(o.location), f"not a version {VERSION} forwarded event")
    _, eid, kind, source, at, corr, cause, seq = fields
    if not all(isinstance(x, str) for x in (eid, kind, source, at, corr)):
        raise ForwardRecordError(str(o.location), "id, type, source, time or correlation "
                                 "id is not text")
    try:
        occurred = from_text(at)
    except ValueError as exc:
        raise ForwardRecordError(str(o.location), f"bad time {at!r}") from exc
    return Event(id=eid, type=kind, source=source, occurred_at=occurred, correlation_id=corr,
                 data=None, location=o.location, received_at=o.received_at,
                 causation_id=cause if isinstance(cause, str) else None,
                 sequence=seq if isinstance(seq, int) else None)
