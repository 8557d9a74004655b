"""librdkafka (confluent-kafka) for the tap: its configuration from kafka-python's argument
names, what its errors mean, and its log lines made fit for the collector's log.

The tap reads with librdkafka: its C client parses records at a fraction of kafka-python's CPU
(1.5-2.1 against 11.6-14.0 CPU µs a record on the bench topic). The producer, the fetcher, the
health probe and the repartitioning producer stay on kafka-python (``_client``), so
``TapOptions.client`` keeps kafka-python's names and is mapped here.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from collector.kafka.exceptions import KafkaEdgeError

__all__ = ["CLOSE_WITHIN", "LOGGER", "REFUSED", "UNREACHABLE", "close_within", "error_of",
           "is_untrusted", "rdkafka_client", "reason_of"]

_NAMES = {
    "client_id": "client.id",
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "reconnect_backoff_ms": "reconnect.backoff.ms",
    "reconnect_backoff_max_ms": "reconnect.backoff.max.ms",
    "retry_backoff_ms": "retry.backoff.ms",
}
"""kafka-python's connection and security argument names (``_client.client_config``) and
librdkafka's for the same setting."""


def rdkafka_client(client: Mapping[str, Any]) -> dict[str, Any]:
    """librdkafka's connection and security settings from kafka-python's arguments. A name it
    does not know is an error: nothing the user configured is dropped silently."""
    config: dict[str, Any] = {}
    for name, value in client.items():
        if value is None:
            continue
        if name == "bootstrap_servers":
            servers = [value] if isinstance(value, str) else list(value)
            config["bootstrap.servers"] = ",".join(str(s).strip() for s in servers)
        elif name == "ssl_check_hostname":
            config["ssl.endpoint.identification.algorithm"] = "https" if value else "none"
        elif name in _NAMES:
            config[_NAMES[name]] = value
        else:
            raise KafkaEdgeError(f"the Kafka tap has no librdkafka setting for {name!r}")
    return config


def _codes(*names: str) -> frozenset[int]:
    """librdkafka's error codes by name (its local ones start with "_")."""
    return frozenset(int(getattr(KafkaError, name)) for name in names)


REFUSED = _codes("_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED")
"""Errors that mean the brokers refuse the credentials: retrying cannot help."""

UNREACHABLE = _codes("_ALL_BROKERS_DOWN", "_TRANSPORT", "_RESOLVE", "_TIMED_OUT", "_SSL",
                     "_WAIT_COORD", "REQUEST_TIMED_OUT", "COORDINATOR_NOT_AVAILABLE",
                     "NOT_COORDINATOR")
"""Errors that mean the brokers cannot be reached now (others are about what was asked)."""


def error_of(exc: KafkaException) -> KafkaError:
    """The `KafkaError` a `KafkaException` carries."""
    err = exc.args[0] if exc.args else None
    if isinstance(err, KafkaError):
        return err
    return KafkaError(int(getattr(KafkaError, "_FAIL")), str(exc))  # noqa: B009


def is_untrusted(err: KafkaError) -> bool:
    """Whether a TLS handshake failed verifying the broker's certificate."""
    return "certificate verify failed" in err.str().lower()


_WHERE = re.compile(r"^(?:\[thrd:[^\]]*\]:\s*)?(?:[a-z_]+://)?[^\s:/]+:\d+/[^\s:]+:\s*")
"""librdkafka's "[thrd:...]: sasl_plaintext://host:port/bootstrap: " prefix."""
_AFTER = re.compile(r"\s*\(after \d+ms in state [A-Z_]+(?:, \d+ identical error\(s\) "
                    r"suppressed)?\)\s*$")
"""librdkafka's "(after 301ms in state AUTH_REQ)" suffix: it changes with every attempt."""


def _bare(text: str) -> str:
    """librdkafka's text without its connection prefix and timing suffix."""
    return _AFTER.sub("", _WHERE.sub("", text))


def reason_of(err: KafkaError) -> str:
    """librdkafka's error as a short reason, without the connection it happened on and how
    long that took (an untrusted certificate named as Python's ssl module names it)."""
    text = _bare(err.str())
    if is_untrusted(err):
        at = text.lower().find("certificate verify failed")
        return "[SSL: CERTIFICATE_VERIFY_FAILED] " + text[at:]
    return text or err.name()


class _Lines(logging.Filter):
    """librdkafka's log record ``("%s [%s] %s", facility, client, text)`` as its text alone,
    without the connection and the attempt's timing, so that the same failure reads the same
    every time (the collector's `KafkaNoiseFilter` shows each distinct one once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 3 and record.msg == "%s [%s] %s":
            record.msg, record.args = _bare(str(args[2])), None
        return True


LOGGER = logging.getLogger("kafka.rdkafka")
"""librdkafka's log (a child of kafka-python's, so the collector's filters and
``_client.watch_client`` treat both alike)."""
if not any(isinstance(f, _Lines) for f in LOGGER.filters):
    LOGGER.addFilter(_Lines())


_logger = logging.getLogger("collector.kafka.tap")
"""The tap's own log (users' log settings name it), not librdkafka's lines (`LOGGER`)."""

CLOSE_WITHIN = 10.0
"""Seconds the tap waits for librdkafka's consumer close (leaving the group; the offsets were
committed before it): under a second when the broker answers."""


def close_within(close: Callable[[], object], seconds: float, what: str) -> bool:
    """Run ``close`` (a consumer's ``close``) on a thread of its own and wait for it at most
    ``seconds``: True once it returned (its exception re-raised), False when it is still
    blocked, left to finish in the background.

    librdkafka's ``rd_kafka_consumer_close`` can block for good (librdkafka issue 4519,
    confluent-kafka-python issue 1667, both open): here a collector stopping after its broker
    was stopped and started again waited in it for more than ten minutes
    (tests/kafka/test_resilience.py, in CI). A collector that cannot stop is worse than one
    that leaves the group late: its positions are stored, and the broker hands its partitions
    to the group's other members once the session timeout passes."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            close()
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    closer = threading.Thread(target=run, name=f"{what}-close", daemon=True)
    closer.start()
    closer.join(seconds)
    if closer.is_alive():
        _logger.warning("%s: librdkafka did not close the consumer within %g s; left closing "
                        "in the background (its partitions go to the group's other members "
                        "once the session timeout passes)", what, seconds)
        return False
    if failed:
        raise failed[0]
    return True

