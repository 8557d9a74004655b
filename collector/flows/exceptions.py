"""The flow engine's exceptions: one root, `FlowError`, under the collector's root."""

from __future__ import annotations

from collector.exceptions import CollectorError

__all__ = ["FlowError"]


class FlowError(CollectorError):
    """Root of every error the flow engine raises on purpose."""
