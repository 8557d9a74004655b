"""``choreoscope rabbitmq remove-tap``: delete the collector's tap queue (and its bindings, its
drops queue and exchange) from RabbitMQ, e.g. when the collector is retired or the queue's
bound changes."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "rabbitmq", help="manage the collector's RabbitMQ tap")
    sub = p.add_subparsers(dest="rabbitmq_command", metavar="COMMAND", required=True)
    r = sub.add_parser("remove-tap", help="delete the tap queue choreoscope.tap.GROUP and its "
                       "bindings (what it holds is lost)")
    r.add_argument("--amqp-url", metavar="URL", help="the broker (default: rabbitmq.url)")
    r.add_argument("--group-id", help="the collector's group (default: kafka.group_id)")
    r.set_defaults(handler=_remove_tap)


def _remove_tap(args: argparse.Namespace) -> int:
    from collector.exceptions import ConfigError
    from collector.rabbitmq.admin import remove_tap
    from collector.rabbitmq.tap import tap_queue
    from collector.settings import load_settings

    settings = load_settings(args.config, rabbitmq={"url": args.amqp_url},
                             kafka={"group_id": args.group_id})
    if settings.rabbitmq.url is None:
        raise ConfigError("rabbitmq.url", None, "the broker's AMQP URL (or --amqp-url)")
    group = settings.kafka.group_id
    held = remove_tap(settings.rabbitmq, group)  # unreachable: one line, exit 2
    print(f"removed the tap queue {tap_queue(group)} and its bindings ({held} messages it "
          "held are gone)")
    return 0
