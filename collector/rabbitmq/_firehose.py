"""RabbitMQ's firehose (``amq.rabbitmq.trace``), read when ``[rabbitmq] firehose = true``: pure
bookkeeping of its messages, no pika.

With tracing on for a virtual host (``rabbitmqctl trace_on -p VHOST``), the broker publishes a
copy of every message published to any exchange (routing key ``publish.<exchange>``) and of
every delivery to any consumer (``deliver.<queue>``), with headers ``exchange_name`` and
``routing_keys``. From those the tap counts published and delivered messages per exchange (the
health page's rates) and learns which queue receives which stored topic
(``rabbitmq:EXCHANGE/ROUTING_KEY``): the queue names its consuming service
(``rabbitmq.consumer_pattern``), which gives the event map consumer edges without spans.

The collector's own queues (``choreoscope.*``) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collector.rabbitmq._message import stored_name
from collector.store.base import ConsumerSeen

__all__ = ["TRACE_EXCHANGE", "Firehose", "service_of"]

TRACE_EXCHANGE = "amq.rabbitmq.trace"
OWN_PREFIX = "choreoscope."


def service_of(queue: str, pattern: re.Pattern[str]) -> str:
    """The consuming service a queue's name gives: the pattern's ``service`` group, or the
    whole name when the pattern does not match."""
    m = pattern.search(queue)
    return m.group("service") if m is not None and m.group("service") else queue


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Firehose:
    """Counts per exchange and consumers seen, from trace messages as they come; `rates` and
    `drain` hand them on (the tap's `figures` and `consumers`)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.published: dict[str, int] = {}
        self.delivered: dict[str, int] = {}
        self._consumers: dict[tuple[str, str], datetime] = {}
        self._last: tuple[float, dict[str, int], dict[str, int]] | None = None

    def record(self, routing_key: str, headers: Mapping[str, Any] | None, at: datetime) -> None:
        """One trace message: ``routing_key`` as the trace exchange gave it, its headers."""
        kind, _, name = routing_key.partition(".")
        headers = headers or {}
        exchange = _text(headers.get("exchange_name", name if kind == "publish" else ""))
        if exchange.startswith(OWN_PREFIX) or exchange == TRACE_EXCHANGE:
            return
        if kind == "publish":
            self.published[exchange] = self.published.get(exchange, 0) + 1
        elif kind == "deliver" and name and not name.startswith(OWN_PREFIX):
            self.delivered[exchange] = self.delivered.get(exchange, 0) + 1
            service = service_of(name, self.pattern)
            for key in headers.get("routing_keys") or ():
                self._consumers[(service, stored_name(exchange, _text(key)))] = at

    def drain(self) -> list[ConsumerSeen]:
        """The consumers seen since the last call."""
        seen, self._consumers = self._consumers, {}
        return [ConsumerSeen(service, topic, at) for (service, topic), at in sorted(seen.items())]

    def rates(self, monotonic: float) -> dict[str, float]:
        """Published and delivered messages per second and exchange since the last call
        (figures ``rabbitmq_published_per_s:EXCHANGE`` and ``rabbitmq_delivered_per_s:...``);
        the first call answers the totals' names with 0 (no interval yet)."""
        last = self._last
        self._last = (monotonic, dict(self.published), dict(self.delivered))
        out: dict[str, float] = {}
        for figure, now, before in (
                ("rabbitmq_published_per_s", self.published, last[1] if last else None),
                ("rabbitmq_delivered_per_s", self.delivered, last[2] if last else None)):
            for exchange, n in now.items():
                if last is None or monotonic <= last[0]:
                    out[f"{figure}:{exchange}"] = 0.0
                else:
                    rate = (n - (before or {}).get(exchange, 0)) / (monotonic - last[0])
                    out[f"{figure}:{exchange}"] = round(rate, 3)
        return out
