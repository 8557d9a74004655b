"""Connection options from ``[nats]`` (nats-py's own types stay in this package)."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

from collector.settings import NatsSettings

__all__ = ["connect_options", "where"]


def where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 4222}"


def connect_options(s: NatsSettings) -> dict[str, Any]:
    assert s.url is not None
    options: dict[str, Any] = {
        "servers": [s.url], "connect_timeout": s.connect_timeout_s,
        "allow_reconnect": True, "max_reconnect_attempts": -1, "reconnect_time_wait": 1,
        "name": "choreoscope-collector"}
    if s.user:
        options["user"] = s.user
    if s.password is not None:
        options["password"] = s.password.get_secret_value()
    if s.token is not None:
        options["token"] = s.token.get_secret_value()
    if s.url.startswith("tls://"):
        options["tls"] = ssl.create_default_context(
            cafile=str(s.ssl_cafile) if s.ssl_cafile else None)
    return options
