"""The Kafka tap's broker link: up or down, one log line per change, and how long to back off.

It logs under the tap's name (``collector.kafka.tap``), where its lines were before it had a
module of its own: log configurations and tests select them by that name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["Link"]

logger = logging.getLogger("collector.kafka.tap")


class Link:
    """The broker link's state: logs one line per change, and how long to back off."""

    def __init__(self, where: str, monotonic: Callable[[], float]) -> None:
        self.where = where
        self.up = True
        self._monotonic = monotonic
        self._since = monotonic()
        self.backoff = 0.5

    def ok(self) -> None:
        if not self.up:
            logger.warning("Kafka at %s reachable again after %.1f s; resuming", self.where,
                           self._monotonic() - self._since)
            self.up, self._since = True, self._monotonic()
        self.backoff = 0.5

    def failed(self, reason: str) -> None:
        if self.up:
            logger.warning("Kafka at %s unreachable (%s); retrying with backoff", self.where,
                           reason)
            self.up, self._since = False, self._monotonic()
        self.backoff = min(self.backoff * 2, 30.0)
