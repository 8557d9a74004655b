"""The tap's librdkafka edge without a broker: settings mapped from kafka-python's names, its
errors and log lines made short and secret-free."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from pydantic import SecretStr

from collector.kafka import _rdkafka
from collector.kafka.exceptions import KafkaEdgeError, KafkaUnreachable
from collector.kafka.tap import KafkaTap, TapOptions, attempt_end, rdkafka_config
from collector.settings import KafkaSettings


def _sasl_ssl(tmp_path: Path, *, check_hostname: bool) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers="b1:9093,b2:9093", client_id="cs", security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512", sasl_username="collector",
        sasl_password=SecretStr("s3cret-sasl"), ssl_cafile=tmp_path / "ca.pem",
        ssl_certfile=tmp_path / "client.pem", ssl_keyfile=tmp_path / "client.key",
        ssl_password=SecretStr("s3cret-key"), ssl_check_hostname=check_hostname,
        topics=("orders",), group_id="g")


def test_sasl_and_ssl_settings_map_to_librdkafka_names(tmp_path: Path) -> None:
    config = rdkafka_config(TapOptions.from_settings(_sasl_ssl(tmp_path, check_hostname=True)))
    assert {k: v for k, v in config.items() if k.startswith(("bootstrap", "client", "sasl",
                                                             "ssl", "security"))} == {
        "bootstrap.servers": "b1:9093,b2:9093",
        "client.id": "cs",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "collector",
        "sasl.password": "s3cret-sasl",
        "ssl.ca.location": str(tmp_path / "ca.pem"),
        "ssl.certificate.location": str(tmp_path / "client.pem"),
        "ssl.key.location": str(tmp_path / "client.key"),
        "ssl.key.password": "s3cret-key",
        "ssl.endpoint.identification.algorithm": "https",
    }
    unchecked = rdkafka_config(TapOptions.from_settings(_sasl_ssl(tmp_path,
                                                                  check_hostname=False)))
    assert unchecked["ssl.endpoint.identification.algorithm"] == "none"
    assert (config["reconnect.backoff.ms"], config["reconnect.backoff.max.ms"],
            config["retry.backoff.ms"]) == (100, 10_000, 100)


def test_the_consumer_settings_follow_the_options() -> None:
    options = TapOptions(topics=("t",), group_id="grp", start="latest", session_timeout_ms=6000,
                         metadata_max_age_ms=1500, client={"bootstrap_servers": ["k:9092"]})
    config = rdkafka_config(options)
    assert config["group.id"] == "grp"
    assert config["auto.offset.reset"] == "latest"
    assert config["enable.auto.commit"] is False
    assert config["allow.auto.create.topics"] is False
    assert config["enable.partition.eof"] is False
    assert config["session.timeout.ms"] == 6000
    assert config["heartbeat.interval.ms"] == 1200
    assert config["topic.metadata.refresh.interval.ms"] == 1500
    assert config["partition.assignment.strategy"] == "range,roundrobin"  # eager, not cooperative
    assert rdkafka_config(TapOptions(topics=("t",)))["auto.offset.reset"] == "earliest"


def test_a_client_setting_without_a_librdkafka_name_is_refused() -> None:
    with pytest.raises(KafkaEdgeError, match="sasl_kerberos_service_name"):
        rdkafka_config(TapOptions(topics=("t",), client={"bootstrap_servers": ["k:9092"],
                                                         "sasl_kerberos_service_name": "x"}))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_secret_reaches_the_log_or_the_error_when_the_broker_is_away(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}",
                             security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                             sasl_username="collector", sasl_password=SecretStr("s3cret-sasl"),
                             topics=("orders",), connect_timeout_s=1.5)
    caplog.set_level(logging.DEBUG)
    tap = KafkaTap(TapOptions.from_settings(settings), lambda _: {})
    with pytest.raises(KafkaUnreachable) as raised:
        tap.open()
    assert raised.value.reason == f"127.0.0.1:{port}: connection refused"
    assert "s3cret" not in str(raised.value)
    assert caplog.records, "librdkafka's own lines reach the (DEBUG) log"
    assert "s3cret" not in caplog.text


def test_a_connection_attempt_ends_at_the_give_up_time_or_five_seconds_on() -> None:
    """The attempt that reaches the connect timeout ends at the give-up time itself, from one
    clock reading: `KafkaTap._connect` read the clock twice for it, so the attempt could end a
    microsecond short of the give-up time; the check after it then found time left, logged
    "unreachable; retrying" and asked once more before the one-line error (CI failure of
    tests/collector/test_collect_startup.py, stop 28)."""
    assert attempt_end(1000.0, 1003.0) == 1003.0
    assert attempt_end(1000.25, 1003.0) == 1003.0
    assert attempt_end(10.0, None) == 15.0
    assert attempt_end(10.0, 100.0) == 15.0
    assert attempt_end(10.0, 10.05) == 10.1
    assert attempt_end(10.0, 9.0) == 10.1  # past the give-up time: one short last ask


def test_librdkafka_errors_and_log_lines_read_the_same_every_time() -> None:
    auth = KafkaError(KafkaError._AUTHENTICATION,
                      "sasl_plaintext://127.0.0.1:41437/bootstrap: SASL authentication error: "
                      "Authentication failed: Invalid username or password (after 301ms in "
                      "state AUTH_REQ)")
    assert auth.code() in _rdkafka.REFUSED
    assert _rdkafka.reason_of(auth) == ("SASL authentication error: Authentication failed: "
                                        "Invalid username or password")
    tls = KafkaError(KafkaError._SSL,
                     "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL "
                     "routines::certificate verify failed: broker certificate could not be "
                     "verified (after 4ms in state SSL_HANDSHAKE, 2 identical error(s) "
                     "suppressed)")
    assert _rdkafka.is_untrusted(tls)
    assert _rdkafka.reason_of(tls) == ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                                       "failed: broker certificate could not be verified")

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    keep = Keep()
    _rdkafka.LOGGER.addHandler(keep)
    try:
        for ms in (301, 4):  # librdkafka's own call: log(level, "%s [%s] %s", fac, name, text)
            _rdkafka.LOGGER.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1",
                                "[thrd:sasl_plaintext://127.0.0.1:41437/bootstrap]: "
                                "sasl_plaintext://127.0.0.1:41437/bootstrap: SASL "
                                f"authentication error: Authentication failed (after {ms}ms "
                                "in state AUTH_REQ)")
    finally:
        _rdkafka.LOGGER.removeHandler(keep)
    assert seen == ["SASL authentication error: Authentication failed"] * 2


def test_a_close_that_blocks_is_left_behind_after_its_bound_and_said(
        caplog: pytest.LogCaptureFixture) -> None:
    """librdkafka's consumer close can block for good (a broker restarted under it): the tap
    stops anyway, after the bound, and says so."""
    release = threading.Event()
    caplog.set_level(logging.WARNING, logger="collector.kafka.tap")
    started = time.monotonic()
    try:
        assert _rdkafka.close_within(release.wait, 0.3, "the Kafka tap") is False
        waited = time.monotonic() - started
    finally:
        release.set()
    assert 0.3 <= waited < 2.0
    assert "the Kafka tap: librdkafka did not close the consumer within 0.3 s" in caplog.text


def test_a_close_that_returns_or_raises_is_waited_for() -> None:
    closed: list[str] = []
    assert _rdkafka.close_within(lambda: closed.append(threading.current_thread().name), 5.0,
                                 "t") is True
    assert closed == ["t-close"]

    def refused() -> None:
        raise RuntimeError("consumer already closed")

    with pytest.raises(RuntimeError, match="already closed"):
        _rdkafka.close_within(refused, 5.0, "t")
