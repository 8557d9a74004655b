"""The Kafka edge's errors: one root, translated from kafka-python's at the edge."""

from __future__ import annotations

from collector.exceptions import TapError

__all__ = ["KafkaEdgeError", "PublishError"]


class KafkaEdgeError(TapError):
    """Root of the errors the Kafka tap and publisher raise."""


class PublishError(KafkaEdgeError):
    """Records could not be published (the broker is unreachable or refused them)."""

    def __init__(self, bootstrap_servers: str, reason: str) -> None:
        super().__init__(f"cannot publish to Kafka at {bootstrap_servers}: {reason}")
        self.bootstrap_servers = bootstrap_servers
        self.reason = reason
