"""The Kafka edge: the tap that reads a running system's topics, and a publisher for the simulator.

The only package that imports kafka-python (ruff ``TID251`` keeps it so). The tap turns records
into `collector.model.Observation` values; nothing past it sees a kafka-python object.
"""

from __future__ import annotations

__all__: list[str] = []
