"""The Kafka edge: the tap that reads a running system's topics, and a publisher for the simulator.

The only package that imports kafka-python or confluent-kafka's consumer (ruff ``TID251`` keeps
it so). The tap reads with librdkafka (confluent-kafka) and turns records into
`collector.model.Observation` values; nothing past it sees a client library's object. The
publisher, fetcher, health probe and repartitioning producer use kafka-python.
"""

from __future__ import annotations

__all__: list[str] = []
