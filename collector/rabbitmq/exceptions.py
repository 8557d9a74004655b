"""The RabbitMQ edge's errors: one root, translated from pika's at the edge."""

from __future__ import annotations

from collector.exceptions import InputError, TapError

__all__ = ["RabbitEdgeError", "RabbitUnusable"]


class RabbitEdgeError(TapError):
    """Root of the errors the RabbitMQ tap, publisher and admin commands raise."""


class RabbitUnusable(RabbitEdgeError, InputError):
    """At start-up the broker could not be reached within ``rabbitmq.connect_timeout_s``, refused
    the credentials, or the bindings or tap queue do not fit: the settings or the broker must
    change (one line, exit code 2)."""
