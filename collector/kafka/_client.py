"""kafka-python client configuration from the settings: connection and security passthrough.

Secrets travel as `pydantic.SecretStr` until the very dict handed to kafka-python; `masked`
gives the same dict with every secret replaced, for log lines.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kafka.errors import (
    AuthorizationError,
    KafkaConnectionError,
    SaslAuthenticationFailedError,
    UnsupportedSaslMechanismError,
)

from collector.settings import KafkaSettings

__all__ = ["REFUSED", "KafkaNoiseFilter", "SecretFilter", "client_config", "connect_failure",
           "masked", "reason_of", "secrets_of", "unreachable_reason", "watch_client"]

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


REFUSED = (SaslAuthenticationFailedError, UnsupportedSaslMechanismError, AuthorizationError)
"""Errors that mean the brokers refuse the credentials: retrying cannot help."""

_UNTRUSTED = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")
"""kafka-python's handshake error holds the ssl module's only as text."""

class _ClientWatch(logging.Handler):
    """What kafka-python logs but does not raise while it bootstraps (it retries every
    connection failure, a refused password included, until its timeout): the last error, and
    whether the brokers refused the credentials.

    A broker that refuses SASL credentials answers with an error and closes the connection;
    kafka-python mostly sees only the close. So, before the first bootstrap succeeded, a SASL
    connection lost after the broker answered ApiVersions (a Kafka listener, TCP and TLS fine),
    seen twice, counts as a refusal too."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: BaseException | None = None
        self.refused: BaseException | None = None
        self.untrusted: BaseException | None = None
        """A TLS handshake that failed verifying a certificate (kafka-python wraps it)."""
        self._lost_in_sasl = 0

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in (*args, record.exc_info[1] if record.exc_info else None):
            if isinstance(arg, BaseException):
                self.last = arg
                if isinstance(arg, REFUSED):
                    self.refused = arg
                elif any(word in str(arg) for word in _UNTRUSTED):
                    self.untrusted = arg
            elif _lost_in_sasl(arg) and "lost" in str(record.msg):
                self._lost_in_sasl += 1
                if self._lost_in_sasl >= 2 and self.refused is None:
                    self.refused = KafkaConnectionError(
                        "the broker closed every connection during SASL authentication; "
                        "the credentials are most likely wrong")


def _lost_in_sasl(conn: object) -> bool:
    """Whether kafka-python's connection object (a log argument), while bootstrapping, is a
    SASL connection that the broker closed after answering ApiVersions (its broker version is
    known): the step between is authentication."""
    return bool(getattr(conn, "sasl_enabled", False) and not getattr(conn, "connected", True)
                and getattr(conn, "broker_version_data", None) is not None)


_WATCHING = threading.Lock()
_watchers: list[_ClientWatch] = []
_saved: list[tuple[int, bool]] = []


@contextmanager
def watch_client() -> Iterator[_ClientWatch]:
    """A `_ClientWatch` on kafka-python's loggers while it connects; meanwhile they log
    warnings for it, and (unless the log level is DEBUG) nothing to the user. Watches may
    overlap (the tap and the alert publisher connect on their own threads): the loggers are
    restored when the last one ends."""
    client = logging.getLogger("kafka")
    watch = _ClientWatch()
    with _WATCHING:
        if not _watchers:
            _saved.append((client.level, client.propagate))
            if client.getEffectiveLevel() > logging.WARNING:
                client.setLevel(logging.WARNING)
            if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
                client.propagate = False  # its retries are the watch's business
        _watchers.append(watch)
        client.addHandler(watch)
    try:
        yield watch
    finally:
        with _WATCHING:
            client.removeHandler(watch)
            _watchers.remove(watch)
            if not _watchers:
                level, propagate = _saved.pop()
                client.setLevel(level)
                client.propagate = propagate


_ERROR_CODE = re.compile(r"^\[Error -?\d+\] ")


def reason_of(exc: BaseException) -> str:
    """kafka-python's error as a short reason (its class name when it says nothing else)."""
    text, prefix = " ".join(str(exc).split()), f"{type(exc).__name__}: "
    text = _ERROR_CODE.sub("", text)
    while text.startswith(prefix):  # kafka-python's errors repeat their class name
        text = text[len(prefix):]
    return text or type(exc).__name__


def unreachable_reason(client: Mapping[str, Any], exc: BaseException) -> str:
    """Why the brokers cannot be reached: the first bootstrap server a TCP connection fails to
    (``127.0.0.1:9999: connection refused``), else what kafka-python said (a TLS handshake
    that failed, a listener that does not speak Kafka)."""
    for server in (str(s).strip() for s in client.get("bootstrap_servers", [])):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "localhost", int(port)),
                                          timeout=2):
                pass
        except ValueError:
            return f"{server}: not HOST:PORT"
        except OSError as err:
            return f"{server}: {(err.strerror or str(err) or type(err).__name__).lower()}"
    return reason_of(exc)


def connect_failure(client: Mapping[str, Any], watch: _ClientWatch,
                    exc: BaseException) -> str:
    """Why a client could not connect, as one phrase: refused credentials, an untrusted
    certificate, or an unreachable broker (see `unreachable_reason`)."""
    refused = exc if isinstance(exc, REFUSED) else watch.refused
    if refused is not None:
        return f"the brokers refused the credentials ({reason_of(refused)})"
    if watch.untrusted is not None:
        return f"the TLS handshake failed ({reason_of(watch.untrusted)})"
    return unreachable_reason(client, watch.last or exc)


_CONNECTION = re.compile(r"<[^>]*>:?\s*")
