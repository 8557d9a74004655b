"""The NATS edge's errors: one root, translated from nats-py's at the edge."""

from __future__ import annotations

from collector.exceptions import InputError, TapError

__all__ = ["NatsEdgeError", "NatsUnusable"]


class NatsEdgeError(TapError):
    """Root of the errors the NATS tap and publisher raise."""


class NatsUnusable(NatsEdgeError, InputError):
    """At start-up the server could not be reached within ``nats.connect_timeout_s``, refused
    the credentials, or a stream does not exist (one line, exit code 2)."""
