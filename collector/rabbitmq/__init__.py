"""The RabbitMQ edge: the tap that reads what is published to the configured exchanges through a
bounded queue of its own, a publisher for the simulator, and ``rabbitmq remove-tap``.

The only package that imports pika (ruff ``TID251`` keeps it so). Nothing past the tap sees a
pika object: `collector.rabbitmq._message` turns a delivery into an `Observation`.
"""

from __future__ import annotations

__all__: list[str] = []
