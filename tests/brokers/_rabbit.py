"""Helpers of the RabbitMQ tests: the CLI in a subprocess, the tap declared, a store read."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pika

from collector.rabbitmq.tap import RabbitTap, RabbitTapOptions
from collector.settings import RabbitMQSettings
from collector.store.base import open_store


def cli(*args: str, timeout: float = 600, env: dict[str, str] | None = None,
        ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "collector.cli", "--log-level", "WARNING",
                           *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, **(env or {})})
    if ok:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


SIMULATED_EXCHANGES = ("orders", "payments", "inventory", "shipping", "notifications",
                       "customers")


def declare_exchanges(url: str, names: tuple[str, ...] = SIMULATED_EXCHANGES,
                      kind: str = "topic") -> None:
    """What the services do at start-up: declare the exchanges they publish to."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        for name in names:
            ch.exchange_declare(name, kind, durable=True)
    finally:
        conn.close()


def declare_tap(url: str, group: str, **settings: Any) -> RabbitTap:
    """Open and close the tap once: its queue exists and is bound from now on (a tap only sees
    what is published after that, as with a real system). The exchanges must exist."""
    tap = RabbitTap(RabbitTapOptions(RabbitMQSettings(url=url, **settings), group))
    tap.open()
    tap.close()
    return tap


def query(url: str, sql: str) -> list[dict[str, Any]]:
    store = open_store(url, read_only=True)
    try:
        return [dict(r) for r in store.query(sql)]
    finally:
        store.close()
