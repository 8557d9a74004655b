"""The RabbitMQ edge's errors: one root, translated from pika's at the edge."""

from __future__ import annotations

from collector.exceptions import TapError

__all__ = ["RabbitEdgeError"]


class RabbitEdgeError(TapError):
    """Root of the errors the RabbitMQ tap, publisher and admin commands raise."""
