"""kafka-python client configuration from the settings: connection and security passthrough.

Secrets travel as `pydantic.SecretStr` until the very dict handed to kafka-python; `masked`
gives the same dict with every secret replaced, for log lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from collector.settings import KafkaSettings

__all__ = ["KafkaNoiseFilter", "SecretFilter", "client_config", "masked", "secrets_of"]

_SECRET_KEYS = frozenset({"sasl_plain_password", "ssl_password"})


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """The connection and security arguments shared by the consumer and the producer."""
    config: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers.split(","),
        "client_id": kafka.client_id,
        "security_protocol": kafka.security_protocol,
        "reconnect_backoff_ms": 100,
        "reconnect_backoff_max_ms": 10_000,
        "retry_backoff_ms": 100,
    }
    if kafka.sasl_mechanism is not None:
        config["sasl_mechanism"] = kafka.sasl_mechanism
        config["sasl_plain_username"] = kafka.sasl_username
        if kafka.sasl_password is not None:
            config["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        config["ssl_check_hostname"] = kafka.ssl_check_hostname
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(kafka, name)
            if path is not None:
                config[name] = str(path)
        if kafka.ssl_password is not None:
            config["ssl_password"] = kafka.ssl_password.get_secret_value()
    return config


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration safe to log: secrets replaced by ``***``."""
    return {k: ("***" if k in _SECRET_KEYS and v is not None else v) for k, v in config.items()}


def secrets_of(kafka: KafkaSettings) -> list[str]:
    """The secret values in the settings (to keep them out of every log line)."""
    return [s.get_secret_value() for s in (kafka.sasl_password, kafka.ssl_password)
            if s is not None and s.get_secret_value()]


class SecretFilter(logging.Filter):
    """Replaces secret values by ``***`` in every record it sees, whoever logged it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            if any(secret in message for secret in self._secrets):
                for secret in self._secrets:
                    message = message.replace(secret, "***")
                record.msg, record.args = message, None
        return True


class KafkaNoiseFilter(logging.Filter):
    """Keeps kafka-python's own log records from the user (the tap logs one line per state
    change). Until ``started()`` says the tap is open, every one is dropped: a collector that
    cannot start says why in one line of its own. Afterwards, what the user must fix
    (authentication and TLS failures) is passed on once per distinct message, as the
    collector's own line without kafka-python's connection details."""

    _KEEP = ("auth", "sasl", "ssl", "certificate")

    def __init__(self, started: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._started = started

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kafka"):
            return True
        if record.levelno < logging.ERROR or not self._started():
            return False
        message = _CONNECTION.sub("", record.getMessage())  # drop "<KafkaTCPTransport [...]>:"
        if not any(word in message.lower() for word in self._KEEP) or message in self._seen:
            return False
        self._seen.add(message)
        record.name = "collector.kafka"
        record.msg, record.args = f"the Kafka client failed: {message}", None
        return True


_CONNECTION = re.compile(r"<[^>]*>:?\s*")
