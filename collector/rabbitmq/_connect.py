"""Connection parameters from ``[rabbitmq]``, and the URL as logs may show it (pika's own
types stay in this package)."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import pika

from collector.settings import RabbitMQSettings

__all__ = ["parameters", "where"]


def where(url: str) -> str:
    """``HOST:PORT/VHOST`` of an AMQP URL: no user, no password."""
    parts = urlsplit(url)
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    return f"{parts.hostname}:{port}{parts.path or '/'}"


def parameters(settings: RabbitMQSettings, *, timeout: float | None = None
               ) -> pika.URLParameters:
    """pika's parameters for ``settings.url``, credentials and TLS applied."""
    assert settings.url is not None
    params = pika.URLParameters(settings.url)
    if settings.username or settings.password:
        user = settings.username or params.credentials.username
        password = (settings.password.get_secret_value() if settings.password
                    else params.credentials.password)
        params.credentials = pika.PlainCredentials(user, password)
    if settings.url.startswith("amqps://"):
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
        if settings.ssl_certfile:
            context.load_cert_chain(str(settings.ssl_certfile),
                                    str(settings.ssl_keyfile) if settings.ssl_keyfile else None)
        params.ssl_options = pika.SSLOptions(context, urlsplit(settings.url).hostname)
    t = timeout if timeout is not None else settings.connect_timeout_s
    params.socket_timeout = t
    params.stack_timeout = t
    params.blocked_connection_timeout = max(t, 30.0)
    params.connection_attempts = 1
    params.heartbeat = 30
    return params
