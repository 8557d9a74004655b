"""The simulator's exceptions: one root, `SimulatorError`, under the collector's root."""

from __future__ import annotations

from collector.exceptions import CollectorError

__all__ = ["SimulatorError"]


class SimulatorError(CollectorError):
    """Root of every error the simulator raises on purpose (e.g. definitions it cannot play)."""
