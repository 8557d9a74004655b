"""The Kafka edge's errors: one root, translated from the client libraries' at the edge."""

from __future__ import annotations

from collector.exceptions import InputError, TapError

__all__ = ["KafkaAuthFailed", "KafkaEdgeError", "KafkaUnreachable", "PublishError"]


class KafkaEdgeError(TapError):
    """Root of the errors the Kafka tap and publisher raise."""


class PublishError(KafkaEdgeError):
    """Records could not be published (the broker is unreachable or refused them)."""

    def __init__(self, bootstrap_servers: str, reason: str) -> None:
        super().__init__(f"cannot publish to Kafka at {bootstrap_servers}: {reason}")
        self.bootstrap_servers = bootstrap_servers
        self.reason = reason


class KafkaUnreachable(KafkaEdgeError):
    """At start-up, the brokers could not be reached within ``kafka.connect_timeout_s``."""

    def __init__(self, where: str, seconds: float, reason: str) -> None:
        super().__init__(f"cannot connect to Kafka at {where} within {seconds:g} s: {reason} "
                         "(check kafka.bootstrap_servers and that the broker is up; "
                         "kafka.connect_timeout_s sets how long to try)")
        self.where = where
        self.seconds = seconds
        self.reason = reason


class KafkaAuthFailed(KafkaEdgeError, InputError):
    """The brokers refused the collector's credentials, or their TLS certificate is not
    trusted: never retried, the settings must change (exit code 2)."""

    def __init__(self, where: str, reason: str, *, tls: bool = False) -> None:
        if tls:
            message = (f"the TLS handshake with Kafka at {where} failed: {reason} (check "
                       "kafka.ssl_cafile, ssl_certfile, ssl_keyfile and ssl_check_hostname)")
        else:
            message = (f"Kafka at {where} refused to authenticate the collector: {reason} "
                       "(check kafka.security_protocol, sasl_mechanism, sasl_username and "
                       "sasl_password)")
        super().__init__(message)
        self.where = where
        self.reason = reason
        self.tls = tls
