"""The scale-out package's errors."""

from __future__ import annotations

from collector.exceptions import CollectorError

__all__ = ["ForwardRecordError", "ScaleOutError"]


class ScaleOutError(CollectorError):
    """Root of the scale-out errors."""


class ForwardRecordError(ScaleOutError):
    """A record of the internal topic is not a forwarded event (another writer, a newer
    format): the tracker makes it a dead letter."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"internal topic record at {where}: {reason}")
        self.where, self.reason = where, reason
