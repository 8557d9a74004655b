"""Publish the alert outbox: FlowStuck, SlaBreached and FlowRecovered to Kafka and/or a webhook.

The flow tracker's alerts are written to the store's ``outbox`` in the same transaction as the
flow state that caused them. This edge reads the unsent ones in order, hands them to every sink,
and only then marks them sent. A crash between sending and marking re-sends them on the next
run: at least once, never lost. Each message is a CloudEvent whose ``id`` is the stable alert
id, so a receiver drops what it has seen.

Of several processes on one store (scale-out collectors, a ``flows publish`` beside a
collector), only the store's alert sender sends (`Store.hold_alert_sender`: a lock bound to
its connection or process, freed the moment it dies); the others wait for the role. So two
live processes never send one alert, and a sender killed between sending and marking has its
unmarked alerts sent again, with the same ids, by the next.
"""

from __future__ import annotations

import logging
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from collector.flows.exceptions import FlowError
from collector.store._time import from_text, to_text

if TYPE_CHECKING:
    from collector.settings import Settings

__all__ = ["AlertMessage", "AlertPump", "KafkaSink", "OutboxPublisher", "PublishFailed",
           "WebhookSink", "alert_message", "build_publisher"]

logger = logging.getLogger(__name__)

CONTENT_TYPE = b"application/cloudevents+json"
SOURCE = "choreoscope/flow-engine"


class PublishFailed(FlowError):
    """A sink did not take the alerts; they stay in the outbox and are sent again later."""


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One alert as a record: the shape `collector.kafka.producer.publish` takes."""

    alert_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: datetime | None


def alert_message(row: dict[str, Any], topic: str = "") -> AlertMessage:
    """An outbox row as a structured-mode CloudEvent (``id`` = the alert id)."""
    at = from_text(row["at"])
    details = orjson.loads(row["details"]) if row.get("details") else None
    body = {
        "specversion": "1.0", "id": row["alert_id"], "type": row["kind"], "source": SOURCE,
        "time": to_text(at), "subject": row["correlation_id"],
        "datacontenttype": "application/json",
        "data": {
            "alert_id": row["alert_id"], "kind": row["kind"], "instance_id": row["instance_id"],
            "correlation_id": row["correlation_id"], "flow_type": row["flow_type"],
            "step": row["step"], "at": to_text(at), "details": details,
        },
    }
    return AlertMessage(row["alert_id"], topic, row["correlation_id"].encode(),
                        orjson.dumps(body), (("content-type", CONTENT_TYPE),), at)


Sink = Callable[[Sequence[AlertMessage]], None]
"""Takes a batch of alerts or raises `PublishFailed`."""


class OutboxStore(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def hold_alert_sender(self) -> bool: ...


class OutboxPublisher:
    def __init__(self, store: OutboxStore, sinks: Sequence[Sink], *,
                 now: Callable[[], datetime], topic: str = "", batch_size: int = 500) -> None:
        self._store, self._sinks, self._now = store, tuple(sinks), now
        self._topic, self.batch_size = topic, batch_size
        self.sent = 0
        self.sender: bool | None = None
        """Whether this publisher is the store's alert sender (None: not asked yet)."""

    def publish_pending(self) -> int:
        """Send one batch of unsent alerts to every sink, then mark them; returns how many
        (none while another process is the store's alert sender)."""
        if not self._hold_sender():
            return 0
        rows = self._store.query(
            "SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY at, alert_id LIMIT ?",
            (self.batch_size,))
        if not rows:
            return 0
        messages = [alert_message(r, self._topic) for r in rows]
        for sink in self._sinks:
            sink(messages)
        marks = ",".join("?" * len(rows))
        self._store.execute(f"UPDATE outbox SET sent_at = ? WHERE alert_id IN ({marks})",  # noqa: S608
                            (to_text(self._now()), *(r["alert_id"] for r in rows)))
        self.sent += len(rows)
        return len(rows)

    def _hold_sender(self) -> bool:
        was, self.sender = self.sender, self._store.hold_alert_sender()
        if self.sender and not was:
            logger.info("this process sends the alert outbox (the store's alert sender)")
        elif not self.sender and was is None:
            logger.info("another process sends the alert outbox; taking over if it stops")
        return self.sender

    def drain(self) -> int:
        """Publish until nothing is left; returns how many."""
        total = 0
        while n := self.publish_pending():
            total += n
        return total

    def close(self) -> None:
        """Close the sinks that hold a connection (the Kafka producer)."""
        for sink in self._sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                close()


class WebhookSink:
    """POSTs each alert as a CloudEvents JSON object; any answer but 2xx fails the batch."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url, self.timeout = url, timeout

    def __call__(self, messages: Sequence[AlertMessage]) -> None:
        for m in messages:
            request = urllib.request.Request(  # noqa: S310  (the URL is validated as http(s))
                self.url, data=m.value, method="POST",
                headers={"Content-Type": CONTENT_TYPE.decode(), "ce-id": m.alert_id})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                    status = answer.status
            except (urllib.error.URLError, OSError) as exc:
                raise PublishFailed(f"webhook {self.url}: {exc}") from exc
            if not 200 <= status < 300:
                raise PublishFailed(f"webhook {self.url}: answered {status}")


class KafkaSink:
    """Publishes the alerts to a topic (the Kafka edge: `collector.kafka.producer`), through one
    producer kept open until `close`; a batch not acknowledged within ``timeout`` seconds fails."""

    def __init__(self, bootstrap_servers: str, topic: str,
                 client: dict[str, Any] | None = None, *, timeout: float = 10.0) -> None:
        from collector.kafka.producer import RecordProducer

        self.servers, self.topic = bootstrap_servers, topic
        self._producer = RecordProducer(bootstrap_servers, client=client, partitions=1,
                                        timeout=timeout)

    def __call__(self, messages: Sequence[AlertMessage]) -> None:
        from collector.kafka.exceptions import PublishError

        try:
            self._producer.send([_on(m, self.topic) for m in messages])
        except PublishError as exc:
            raise PublishFailed(f"kafka {self.servers} topic {self.topic}: {exc}") from exc

    def close(self) -> None:
        self._producer.close()


def _on(m: AlertMessage, topic: str) -> AlertMessage:
    return AlertMessage(m.alert_id, topic, m.key, m.value, m.headers, m.timestamp)


class AlertPump:
    """Publishes the outbox beside a running collector, so a slow or dead sink never holds up
    ingestion.

    The collector calls `notify` after committing alerts; `start` runs a thread that sends what
    is pending (on notice, and every ``every`` seconds while something is left), and `stop`
    ends it. While nothing is known to be pending the outbox is not even queried, unless
    ``poll`` (other processes write it too: scale-out) or another process is the store's
    alert sender (then each round asks for the role, to take over when that one stops). A
    `PublishFailed` is logged once, then retried after a backoff doubling up to
    ``max_backoff`` seconds; the first success after failures is logged too. `pump` is one
    synchronous round (what the thread does each time it wakes).
    """

    def __init__(self, publisher: OutboxPublisher, *, monotonic: Callable[[], float],
                 max_batches: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 every: float = 1.0, poll: bool = False) -> None:
        self.publisher = publisher
        self._poll = poll
        self._mono, self._max_batches, self._every = monotonic, max_batches, every
        self._backoff, self._max_backoff = backoff, max_backoff
        self._pending = True  # a crashed run may have left alerts unsent
        self._failures = 0
        self._retry_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self) -> None:
        """Alerts were committed to the outbox: send them soon."""
        self._pending = True
        self._wake.set()

    def pump(self, batches: int | None = None) -> int:
        """Send what is pending, at most ``batches`` batches (``max_batches`` by default);
        returns how many alerts were sent."""
        if not self._pending or self._mono() < self._retry_at:
            return 0
        self._pending = False  # a notice arriving meanwhile sets it again
        sent = 0
        for _ in range(batches or self._max_batches):
            try:
                n = self.publisher.publish_pending()
            except PublishFailed as exc:
                self._failed(exc)
                return sent
            self._recovered()
            sent += n
            if n < self.publisher.batch_size:
                if self._poll or not self.publisher.sender:
                    self._pending = True  # look again next round
                return sent
        self._pending = True  # more are left
        return sent

    def start(self) -> AlertPump:
        self._thread = threading.Thread(target=self._run, name="choreoscope-alerts",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """End the thread (after the send in progress); False if it did not end in time."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def drain(self) -> int:
        """On a clean stop, after `stop`: everything pending, once; a failure is logged and the
        alerts stay in the outbox for the next run."""
        self._retry_at = 0.0
        return self.pump(batches=sys.maxsize)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._every)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.pump()
            except Exception as exc:  # the store failed: the thread goes on, retrying later
                if not self._failures:
                    logger.exception("reading the alert outbox failed")
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self._pending = True
        delay = min(self._max_backoff, self._backoff * 2 ** self._failures)
        if not self._failures:
            logger.warning("alerts not sent, they stay in the outbox (retrying with backoff): "
                           "%s", exc)
        self._failures += 1
        self._retry_at = self._mono() + delay

    def _recovered(self) -> None:
        if self._failures:
            logger.info("alerts sent again after %d failed attempts", self._failures)
            self._failures = 0


def build_publisher(settings: Settings, store: OutboxStore, *,
                    now: Callable[[], datetime]) -> OutboxPublisher | None:
    """The publisher the ``[alerts]`` settings ask for, or None when they name no sink."""
    conf = settings.alerts
    sinks: list[Sink] = []
    if conf.topic:
        from collector.kafka._client import client_config

        sinks.append(KafkaSink(settings.kafka.bootstrap_servers, conf.topic,
                               client_config(settings.kafka)))
    if conf.webhook_url:
        sinks.append(WebhookSink(conf.webhook_url, timeout=conf.webhook_timeout_s))
    if not sinks:
        return None
    return OutboxPublisher(store, sinks, now=now, topic=conf.topic or "",
                           batch_size=conf.batch_size)
