"""``choreoscope rabbitmq remove-tap``: delete the tap's queue (its bindings go with it) and
its drops queue and exchange, so nothing of the collector is left on the broker."""

from __future__ import annotations

import pika
import pika.exceptions

from collector.rabbitmq._connect import parameters, where
from collector.rabbitmq.exceptions import RabbitEdgeError, RabbitUnusable
from collector.rabbitmq.tap import tap_queue
from collector.settings import RabbitMQSettings

__all__ = ["remove_tap"]


def remove_tap(settings: RabbitMQSettings, group_id: str) -> int:
    """Delete the tap of ``group_id``; the messages its queue held (now gone)."""
    assert settings.url is not None
    queue = tap_queue(group_id)
    try:
        conn = pika.BlockingConnection(parameters(settings))
    except pika.exceptions.AMQPConnectionError as exc:
        raise RabbitUnusable(f"cannot connect to RabbitMQ at {where(settings.url)}: "
                              f"{exc or 'connection refused or timed out'}") from exc
    try:
        ch = conn.channel()
        held = ch.queue_delete(queue).method.message_count
        ch.queue_delete(f"{queue}.dropped")
        ch.exchange_delete(f"{queue}.dropped")
        return int(held)
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise RabbitEdgeError(f"removing the tap queue {queue} failed: {exc!r}") from exc
    finally:
        if conn.is_open:
            conn.close()
