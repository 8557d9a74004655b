"""Configuration: one frozen settings object per process, read once by the entry point.

Precedence: command-line flag, then ``CHOREOSCOPE_*`` environment variables (nested keys with
``__``, e.g. ``CHOREOSCOPE_KAFKA__BOOTSTRAP_SERVERS``), then the TOML file (``--config``, else
``./choreoscope.toml`` when present), then the defaults below. A relative path in the file is
resolved from the file's folder (``collector._config_file``). An invalid value raises
`ConfigError` naming the key, the value (never a secret's) and what was expected; the CLI turns
it into exit code 2. ``docs/CONFIGURATION.md`` is generated from these models
(``choreoscope config docs``): every setting needs a description, and an example if it has no
default (``pydantic.Field(examples=[...])``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import pydantic
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from collector._config_file import MASK, ConfigFileSource, secret_keys, shown
from collector.exceptions import ConfigError

__all__ = ["AlertSettings", "CaptureSettings", "DashboardSettings", "DeadLetterSettings",
    "EnvelopeSettings", "KafkaSettings", "LimitsSettings", "NatsSettings", "OtlpSettings",
    "RabbitMQSettings",
    "RegistrySettings", "RetentionSettings", "ScaleOutSettings", "Settings",
    "TopicEnvelopeSettings", "load_settings", "require_schemas_dir"]

DEFAULT_CONFIG_FILE = "choreoscope.toml"
CONFIG_ENV = "CHOREOSCOPE_CONFIG"
"""The configuration file when no ``--config`` is given (not a setting: it names the file)."""


class _Section(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True,
                                       use_attribute_docstrings=True)


class DashboardSettings(_Section):
    """The Streamlit dashboard (``choreoscope dashboard``, ``make demo``)."""

    host: str = "127.0.0.1"
    """Address the dashboard listens on; it has no login of its own, so keep it local or put
    it behind an authenticating proxy."""
    port: int = pydantic.Field(default=8501, ge=1, le=65535)
    """Port of the dashboard (``--port``)."""


def _redactable(value: str) -> str:
    from collector.envelope import CaptureRules

    CaptureRules(redact=(value,))  # raises ValueError naming what is expected
    return value


_RedactText = Annotated[str, pydantic.AfterValidator(_redactable)]


class CaptureSettings(_Section):
    """What of a payload is stored: none, a sample, or everything, after redaction."""

    policy: Literal["none", "sampled", "full"] = "full"
    """What of each payload is stored: ``none``, ``sampled`` (one in ``sample_every``) or
    ``full``."""
    sample_every: int = pydantic.Field(default=100, ge=1)
    """With ``policy = "sampled"``: the payload of one record in this many is stored."""
    redact: tuple[_RedactText, ...] = ()
    """What is replaced by ``"[redacted]"`` before anything is stored: JSON Pointers into the
    event (``/data/customer/email``), record headers (``header:authorization``) and the record
    key (``key``). Headers and keys of stored events and dead letters obey the same list."""
    dead_letter_raw: bool = False
    """Keep the raw bytes of records that cannot be parsed even when redaction rules apply
    (redaction cannot find fields in them, so they may hold redacted values). Off by default:
    such a dead letter keeps its location, and ``choreoscope deadletters replay`` re-reads the
    record from the broker while the broker retains it."""


class LimitsSettings(_Section):
    """What one record may hold and still become an event; past a limit it is a dead letter
    with the reason, and reading goes on."""

    max_record_bytes: int = pydantic.Field(
        default=1_048_576, ge=1,
        description="Largest record (bytes) decoded; a larger one is a dead letter "
                    "(reason too-large).")
    max_depth: int = pydantic.Field(
        default=200, ge=1, le=254,
        description="Deepest nesting of objects and arrays in a record's JSON; a deeper record "
                    "is a dead letter (reason too-deep). At most 254, the deepest orjson writes.")
    min_time: pydantic.AwareDatetime = pydantic.Field(
        default=datetime(1900, 1, 1, tzinfo=UTC),
        description="Earliest event time accepted (RFC 3339 with an offset); an event before it "
                    "is a dead letter (reason invalid-envelope).",
        examples=["1900-01-01T00:00:00Z"])
    max_time: pydantic.AwareDatetime = pydantic.Field(
        default=datetime(2200, 1, 1, tzinfo=UTC),
        description="Latest event time accepted (RFC 3339 with an offset); an event after it "
                    "is a dead letter (reason invalid-envelope).",
        examples=["2200-01-01T00:00:00Z"])

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> LimitsSettings:
        if self.min_time >= self.max_time:
            raise ValueError("limits.min_time must be before limits.max_time")
        return self


def _locator(value: str) -> str:
    from collector.envelope import Locator

    Locator.parse(value)  # raises ValueError naming what is expected
    return value


_LocatorText = Annotated[str, pydantic.AfterValidator(_locator)]


class TopicEnvelopeSettings(_Section):
    """How one topic's records are read (``[envelope.topics.NAME]``; ``"*"`` for the rest).

    Values are locators: ``/json/pointer``, ``header:NAME``, ``key``, ``extension:NAME``,
    ``traceparent``. A topic with ``type`` and ``id`` is read as the team's own JSON shape.
    """

    envelope: Literal["auto", "cloudevents", "eventbridge", "plain"] = "auto"
    """The envelope of the topic's records; ``auto`` recognises CloudEvents (binary and
    structured) and EventBridge, else reads the record as ``plain`` JSON."""
    type: _LocatorText | None = pydantic.Field(default=None, examples=["/type"])
    """Where the event type is, e.g. ``/type`` or ``header:event-type``."""
    id: _LocatorText | None = pydantic.Field(default=None, examples=["/id"])
    """Where the event id is, e.g. ``/id`` or ``header:message-id``."""
    time: _LocatorText | None = pydantic.Field(default=None, examples=["/occurred_at"])
    """Where the event time is (RFC 3339), e.g. ``/occurred_at``; else the record's timestamp."""
    source: _LocatorText | None = pydantic.Field(default=None, examples=["header:producer"])
    """Where the producer's name is, e.g. ``/source`` or ``header:producer``."""
    causation: _LocatorText | None = pydantic.Field(default=None, examples=["/caused_by"])
    """Where the id of the event that caused this one is, e.g. ``/caused_by``."""
    data: _LocatorText | None = pydantic.Field(default=None, examples=["/payload"])
    """Where the business payload is, e.g. ``/payload``: what the event's schema validates and
    business keys read (``/data/...`` pointers). Without it a custom envelope's whole record is
    the data."""
    correlation: tuple[_LocatorText, ...] | None = pydantic.Field(
        default=None, examples=[["header:x-request-id", "/payload/order_id"]])
    """Correlation rules for this topic, tried in order; else ``envelope.correlation``."""


class EnvelopeSettings(_Section):
    """Envelope decoding: correlation rules tried in order, per-topic rules, business keys."""

    correlation: tuple[_LocatorText, ...] = ("header:x-correlation-id", "extension:correlationid")
    """Where a record's correlation id is, tried in order (first found wins)."""
    topics: dict[str, TopicEnvelopeSettings] = {}
    """Per-topic rules by topic name (``[envelope.topics.orders]``; ``"*"`` for the rest)."""
    business_keys: dict[str, dict[str, _LocatorText]] = {}
    """By event type (``"*"`` for all): name to pointer, e.g. ``order_id = "/data/order_id"``."""


_NOT_POSIX = re.compile(r"\\[dD]|\(\?|(?<!\\)[*+?}]\?")
"""What Python's `re` reads in a topic pattern and POSIX extended regular expressions do not (as
glibc's regcomp, which librdkafka uses, reads them): the digit classes, ``(?...)`` groups and
lazy quantifiers."""


class KafkaSettings(_Section):
    """The Kafka tap: the cluster, what to read, and the collector's own health endpoint."""

    bootstrap_servers: str = "127.0.0.1:9092"
    """The cluster's brokers, ``HOST:PORT[,HOST:PORT...]``."""
    topics: tuple[str, ...] = (
        "orders", "payments", "inventory", "shipping", "notifications", "customers")
    """Topics to read (ignored when ``topic_pattern`` is set)."""
    topic_pattern: str | None = pydantic.Field(default=None, examples=["^shop\\..*"])
    """A POSIX extended regular expression, matched from the start of a topic's name (the Kafka
    client, librdkafka, matches it); when set it replaces ``topics`` and new matching topics are
    read."""
    group_id: str = "choreoscope"
    """The collector's own consumer group (it never writes to the topics it reads)."""
    client_id: str = "choreoscope-collector"
    """The client id the brokers see (in their logs and quotas)."""
    start: str = "earliest"
    """Where a partition without a stored position starts: earliest, latest or an ISO time."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How to talk to the brokers: plain, TLS, SASL, or SASL over TLS."""
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = (
        pydantic.Field(default=None, examples=["SCRAM-SHA-512"]))
    """With a SASL protocol: the mechanism."""
    sasl_username: str | None = pydantic.Field(default=None, examples=["choreoscope"])
    """With a SASL protocol: the user name."""
    sasl_password: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["..."])
    """With a SASL protocol: the password; prefer ``CHOREOSCOPE_KAFKA__SASL_PASSWORD``."""
    ssl_cafile: Path | None = pydantic.Field(default=None, examples=["/etc/kafka/ca.pem"])
    """With TLS: the CA certificates (PEM) that sign the brokers' certificates; else the
    system's."""
    ssl_certfile: Path | None = pydantic.Field(default=None, examples=["/etc/kafka/client.pem"])
    """With TLS client authentication: the collector's certificate (PEM)."""
    ssl_keyfile: Path | None = pydantic.Field(default=None, examples=["/etc/kafka/client.key"])
    """With TLS client authentication: the collector's private key (PEM)."""
    ssl_password: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["..."])
    """The password of ``ssl_keyfile``, if it is encrypted."""
    ssl_check_hostname: bool = True
    """With TLS: check that a broker's certificate names the host connected to."""
    max_poll_records: int = pydantic.Field(default=5000, ge=1)
    """Most records one poll of the broker returns."""
    batch_max: int = pydantic.Field(default=20_000, ge=1)
    """Most records written in one store transaction."""
    batch_wait_ms: int = pydantic.Field(default=200, ge=0)
    """How long records are gathered for one store transaction (milliseconds)."""
    metrics_host: str = "127.0.0.1"
    """Address of the collector's health endpoint."""
    metrics_port: int = pydantic.Field(default=9464, ge=0, le=65535)
    """Prometheus text endpoint (``/metrics``); 0 turns it off."""
    metrics_every_s: float = pydantic.Field(default=10.0, gt=0)
    """How often health is sampled and stored (seconds)."""
    connect_timeout_s: float = pydantic.Field(default=30.0, gt=0)
    """At start-up, how long (seconds) the collector tries to reach the brokers before it exits
    with the reason; credentials the brokers refuse end it at once. Once it has started, a
    broker that goes away is waited for."""

    @pydantic.field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        if value in ("earliest", "latest"):
            return value
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("earliest, latest or an ISO 8601 time with offset") from None
        if at.tzinfo is None:
            raise ValueError("an ISO 8601 time with a UTC offset (e.g. 2026-01-01T00:00:00Z)")
        return value

    @pydantic.field_validator("topic_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"a regular expression ({exc})") from None
            found = _NOT_POSIX.search(value)
            if found is not None:
                raise ValueError(
                    f"a POSIX extended regular expression, which is how the Kafka client "
                    f"(librdkafka) matches topics: {found.group()!r} is Python's only and would "
                    f"match other topics or none (write [0-9] for \\d, [^0-9] for \\D, plain "
                    f"groups and greedy * + ? {{m,n}})")
        return value


class RetentionSettings(_Section):
    """Events, spans and dead letters older than ``max_age_days`` are deleted in batches."""

    max_age_days: float | None = pydantic.Field(default=None, gt=0, examples=[30])
    """Age (days) past which events, spans and dead letters are deleted; unset keeps
    everything."""
    batch_size: int = pydantic.Field(default=5000, ge=1)
    """Most rows deleted in one transaction, so retention never holds the store for long."""
    every_s: float = pydantic.Field(default=60.0, gt=0)
    """How often retention runs while the collector reads (seconds)."""


class ScaleOutSettings(_Section):
    """Several ``choreoscope collect`` processes sharing one consumer group and one PostgreSQL
    store, each flow tracked whole by one of them (docs/SCALE-OUT.md). Off: one process reads
    and tracks everything (the default)."""

    enabled: bool = False
    """Split reading from tracking through an internal topic keyed by correlation id."""
    topic: str | None = pydantic.Field(default=None, examples=["choreoscope.shop.flows"])
    """The internal repartition topic; unset: ``choreoscope.GROUP.flows`` (``kafka.group_id``)."""
    partitions: int = pydantic.Field(default=12, ge=1, le=10_000)
    """Partitions of the internal topic when it is created: the most collectors that can track
    at once. Never change it on a topic in use (flows would move between partitions)."""
    replication: int = pydantic.Field(default=1, ge=1, le=32)
    """Replicas of each internal partition when the topic is created (3 on a real cluster)."""
    failover_s: float = pydantic.Field(default=60.0, ge=12.0, le=3600.0)
    """The fail-over bound (seconds): after a collector dies, its flows are judged again within
    it. Half is the consumer groups' session timeout; the rest is the rebalance and restore."""

    def internal_topic(self, group_id: str) -> str:
        return self.topic or f"choreoscope.{group_id}.flows"

    @property
    def session_timeout_ms(self) -> int:
        return int(self.failover_s * 500)


class DeadLetterSettings(_Section):
    """Bounds on stored dead letters (``[dead_letters]``), so a wrong envelope rule that turns
    every record into a dead letter cannot fill the disk. What is dropped or truncated is
    counted (metrics ``choreoscope_dead_letters_dropped`` and ``..._truncated``, Collector
    health page)."""

    max_age_days: float = pydantic.Field(default=7.0, gt=0)
    """Dead letters older than this (by receive time) are deleted."""
    max_bytes: int = pydantic.Field(default=256 * 1024 * 1024, ge=1024)
    """Size budget of all stored dead letters (raw bytes, key, headers, reason); past it the
    oldest are deleted first."""
    max_raw_bytes: int = pydantic.Field(default=64 * 1024, ge=0)
    """Most raw bytes kept per dead letter; longer records are truncated (their full size is
    kept and shown, and replay re-reads them from the broker)."""


class OtlpSettings(_Section):
    """The OTLP trace receivers (issue 6): OTLP/HTTP on host:port, OTLP/gRPC on grpc_port."""

    host: str = "127.0.0.1"
    """Address the OTLP receivers listen on."""
    port: int = pydantic.Field(default=4318, ge=0, le=65535)
    """OTLP/HTTP port (``POST /v1/traces``); 0 picks a free one."""
    grpc: bool = True
    """Also serve OTLP/gRPC (many SDKs export over gRPC by default) on ``host:grpc_port``."""
    grpc_port: int = pydantic.Field(default=4317, ge=0, le=65535)
    """OTLP/gRPC port; 0 picks a free one."""
    max_body_bytes: int = pydantic.Field(default=20 * 1024 * 1024, ge=1)
    """Request size limit, before and after decompression (the OTLP spec's recommended 20 MiB)."""
    max_pending_spans: int = pydantic.Field(default=200_000, ge=1)
    """Spans accepted but not yet stored; past this, requests get 503 with Retry-After."""
    max_inflight_bytes: int = pydantic.Field(default=64 * 1024 * 1024, ge=1)
    """Request body bytes the OTLP/HTTP receiver holds at once over all requests in progress
    (as received, and decompressed); past this, requests get 503 with Retry-After. A request
    alone is always let in, so one body up to ``max_body_bytes`` always gets through. OTLP/gRPC
    reads ``max_inflight_bytes // (2 * max_body_bytes)`` messages at once (at least 2); other
    calls wait in HTTP/2 flow control."""
    max_concurrent_requests: int = pydantic.Field(default=16, ge=1)
    """OTLP/HTTP requests read, decoded and stored at once; more get 503 with Retry-After. Also
    the most OTLP/gRPC messages read at once."""
    retry_after_s: int = pydantic.Field(default=1, ge=1)
    """The ``Retry-After`` (seconds) sent with a 503 when the receiver is saturated."""
    token: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["s3cr3t-token"])
    """When set, exporters must send ``Authorization: Bearer <token>``."""
    kafka_topics: tuple[str, ...] = ()
    """Kafka topics of OTLP span records to read too, e.g. ``("otlp_spans",)``, where the
    OpenTelemetry Collector's Kafka exporter writes; the connection is the ``kafka`` section's,
    the consumer group ``<kafka.group_id>-spans``."""


class RegistrySettings(_Section):
    """Schema registry defaults for subjects without their own ``compatibility.json``."""

    mode: Literal["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
                  "FULL", "FULL_TRANSITIVE"] = "BACKWARD"
    """Compatibility mode a new schema version is checked in (Confluent's modes)."""
    policy: Literal["STRICT", "LENIENT"] = "STRICT"
    """``STRICT`` gives Confluent's verdicts; ``LENIENT`` also accepts optional fields added to
    open models and fields removed from closed ones."""
    default_draft: Literal["draft-07", "2020-12"] = "draft-07"
    """The JSON Schema draft of a schema without ``$schema``, everywhere a schema is read
    (registration, ``schemas check``, live validation, inference); draft-07, as the reference
    registry (Confluent Schema Registry) reads it."""
    subject_strategy: dict[str, Literal["record", "topic", "topic_record"]] = pydantic.Field(
        default_factory=dict, examples=[{"orders": "topic", "*": "record"}])
    """Per topic (``*``: every other), which subject validates a record that does not carry a
    schema id: ``record`` (the event type, the default), ``topic`` (``orders-value``) or
    ``topic_record`` (``orders-OrderPlaced``), as the reference's subject-name strategies. A
    record in the Confluent wire format resolves by its schema id whatever the strategy."""
    url: str | None = pydantic.Field(default=None, examples=["http://127.0.0.1:8081"])
    """A Confluent-compatible schema registry to read subjects and schemas from instead of the
    schema folder (the collector's validation, ``schemas report|register``, the compatibility
    page, which also shows the mode that registry enforces). Cached by the client."""
    url_user: str | None = pydantic.Field(default=None, examples=["reader"])
    """Basic-auth user for ``registry.url``."""
    url_password: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["..."])
    """Basic-auth password for ``registry.url``."""
    url_ca: str | None = pydantic.Field(default=None, examples=["/etc/ssl/registry-ca.pem"])
    """CA file to verify an https ``registry.url`` with."""
    url_cert: str | None = pydantic.Field(default=None, examples=["/etc/ssl/client.pem"])
    """Client certificate for an https ``registry.url`` that asks for one."""
    url_key: str | None = pydantic.Field(default=None, examples=["/etc/ssl/client.key"])
    """Private key of ``url_cert``."""
    listen: str = "127.0.0.1:8081"
    """Address ``choreoscope registry serve`` (the Confluent-compatible REST API) listens on."""
    serve_user: str | None = pydantic.Field(default=None, examples=["ci"])
    """With ``serve_password``: every request to ``registry serve`` needs this basic-auth user."""
    serve_password: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["..."])
    """The basic-auth password of ``serve_user``."""
    read_only: bool = False
    """``registry serve`` answers reads only; every write gets 42205."""


class AlertSettings(_Section):
    """Where the flow engine's alerts go from the outbox (issue 5): a Kafka topic on
    ``kafka.bootstrap_servers`` and/or a webhook; neither by default."""

    topic: str | None = pydantic.Field(default=None, examples=["choreoscope.alerts"])
    """e.g. ``choreoscope.alerts``: FlowStuck, SlaBreached and FlowRecovered as CloudEvents."""
    webhook_url: str | None = pydantic.Field(
        default=None, examples=["https://ops.example.com/choreoscope"])
    """Each alert is POSTed as a CloudEvents JSON object; receivers drop re-sends by ``id``."""
    webhook_timeout_s: float = pydantic.Field(default=5.0, gt=0)
    """How long one webhook POST may take (seconds) before it is retried later."""
    publish_every_s: float = pydantic.Field(default=1.0, gt=0)
    """How often the outbox is sent (seconds)."""
    batch_size: int = pydantic.Field(default=500, ge=1)
    """Most alerts sent in one go."""

    @pydantic.field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value


class RabbitMQSettings(_Section):
    """The RabbitMQ tap (issue 18): a durable, bounded queue of the collector's own,
    ``choreoscope.tap.<kafka.group_id>``, bound to the configured exchanges; it never reads the
    services' own queues. Off unless ``url`` is set (``collect --amqp-url``)."""

    url: str | None = pydantic.Field(
        default=None, examples=["amqp://choreoscope@rabbit.internal:5672/%2F"])
    """The broker, ``amqp://`` or ``amqps://`` (TLS) ``USER@HOST:PORT/VHOST``; set to tap
    RabbitMQ. Prefer ``password`` for the password (a password in the URL is never logged)."""
    username: str | None = pydantic.Field(default=None, examples=["choreoscope"])
    """The user name, when not in ``url``."""
    password: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["..."])
    """The password; prefer ``CHOREOSCOPE_RABBITMQ__PASSWORD``."""
    bindings: tuple[str, ...] = (
        "orders:#", "payments:#", "inventory:#", "shipping:#", "notifications:#", "customers:#")
    """What the tap's queue is bound to, ``EXCHANGE:ROUTING_KEY`` (``#`` is every key of a
    topic exchange; fanout exchanges ignore the key). The exchanges must exist. A headers
    exchange takes its binding arguments after ``?``, as a query string:
    ``events?x-match=any&type=OrderPlaced&region=eu`` (values are strings; ``x-match`` is
    ``all``, ``any``, ``all-with-x`` or ``any-with-x``)."""
    queue_max_bytes: int = pydantic.Field(default=1024**3, ge=1)
    """The tap queue's bound (``x-max-length-bytes``); beyond it the oldest messages are dropped
    (``drop-head``, never ``reject-publish``: the services' publishes always succeed) and
    counted. Changing it needs ``choreoscope rabbitmq remove-tap`` first."""
    prefetch: int = pydantic.Field(default=50_000, ge=1, le=65535)
    """Unacknowledged messages the broker sends ahead. They are acknowledged after the store
    commit of their batch, so keep it above twice ``kafka.batch_max`` (a batch being gathered
    and one being written), or the broker waits for acks between batches."""
    connect_timeout_s: float = pydantic.Field(default=10.0, gt=0)
    """How long to wait for the broker at start-up before ``collect`` stops (exit 2)."""
    firehose: bool = False
    """Also read RabbitMQ's firehose (``amq.rabbitmq.trace``, ``publish.#`` and ``deliver.#``)
    through a second, bounded queue: published and delivered rates per exchange on the health
    page and in the metrics, and consumer edges on the event map without spans. Tracing must be
    on (``rabbitmqctl trace_on -p VHOST``); it costs the broker a copy of every publish and
    every delivery of the virtual host (see the README)."""
    firehose_max_bytes: int = pydantic.Field(default=64 * 1024**2, ge=1)
    """The firehose queue's bound (``x-max-length-bytes``, oldest dropped); the queue is the
    collector's connection's own (exclusive), gone when the collector stops."""
    consumer_pattern: str = pydantic.Field(default=r"^(?P<service>[^.]+)",
                                           examples=[r"^svc-(?P<service>[^.]+)\."])
    """With the firehose: the regular expression whose ``service`` group names the consuming
    service in a queue's name (the default: the name up to its first dot, so the queue
    ``billing.order-placed`` is read by ``billing``); a name it does not match is the service."""
    ssl_cafile: Path | None = pydantic.Field(default=None, examples=["/etc/rabbitmq/ca.pem"])
    """With ``amqps://``: the CA certificates (PEM) that sign the broker's; else the system's."""
    ssl_certfile: Path | None = pydantic.Field(default=None, examples=["/etc/rabbitmq/c.pem"])
    """With TLS client authentication: the collector's certificate (PEM)."""
    ssl_keyfile: Path | None = pydantic.Field(default=None, examples=["/etc/rabbitmq/c.key"])
    """With TLS client authentication: the collector's private key (PEM)."""

    @pydantic.field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^amqps?://[^/\s]+", value):
            raise ValueError("an AMQP URL, amqp://HOST:PORT/VHOST or amqps://...")
        return value

    @pydantic.field_validator("consumer_pattern")
    @classmethod
    def _consumer_pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"a regular expression ({exc})") from exc
        if "service" not in compiled.groupindex:
            raise ValueError("a regular expression with a (?P<service>...) group")
        return value

    @pydantic.field_validator("bindings")
    @classmethod
    def _bindings(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from collector.rabbitmq._binding import parse_binding  # pure: no pika

        for b in value:
            parse_binding(b)
        return value


class NatsSettings(_Section):
    """The NATS JetStream tap (issue 18): a durable pull consumer per configured stream, named
    ``choreoscope-<kafka.group_id>`` (never the services' own durables), acknowledged after the
    store commit. Off unless ``url`` is set (``collect --nats-url``)."""

    url: str | None = pydantic.Field(default=None, examples=["nats://nats.internal:4222"])
    """The server, ``nats://`` or ``tls://`` ``HOST:PORT``; set to tap NATS."""
    streams: tuple[str, ...] = (
        "orders", "payments", "inventory", "shipping", "notifications", "customers")
    """The JetStream streams to read (each must exist); ``[]`` for core NATS only."""
    subjects: tuple[str, ...] = pydantic.Field(default=(), examples=[["orders.>"]])
    """Core NATS subjects to read as well (wildcards ``*`` and ``>``): at most once by nature,
    what is published while the collector is away is never seen."""
    user: str | None = pydantic.Field(default=None, examples=["choreoscope"])
    """The user name, when the server wants one."""
    password: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["..."])
    """The password; prefer ``CHOREOSCOPE_NATS__PASSWORD``."""
    token: pydantic.SecretStr | None = pydantic.Field(default=None, examples=["..."])
    """An authentication token instead of user and password."""
    fetch_batch: int = pydantic.Field(default=1000, ge=1)
    """Most messages one pull request asks for."""
    connect_timeout_s: float = pydantic.Field(default=10.0, gt=0)
    """How long to wait for the server at start-up before ``collect`` stops (exit 2)."""
    ssl_cafile: Path | None = pydantic.Field(default=None, examples=["/etc/nats/ca.pem"])
    """With ``tls://``: the CA certificates (PEM) that sign the server's; else the system's."""

    @pydantic.field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(nats|tls)://[^/\s]+", value):
            raise ValueError("a NATS URL, nats://HOST:PORT or tls://HOST:PORT")
        return value


class Settings(BaseSettings):
    """Settings outside any section."""

    model_config = SettingsConfigDict(
        env_prefix="CHOREOSCOPE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )
    toml_file: ClassVar[Path | None] = None

    store: str = "sqlite:///choreoscope.db"
    """Where everything is stored: ``sqlite:///PATH`` (``sqlite:////abs/path.db`` for an
    absolute path), or a PostgreSQL database, ``postgresql://USER@HOST:PORT/DATABASE`` (the
    password from libpq's ``PGPASSWORD`` or ``~/.pgpass``); ``choreoscope store migrate`` moves a
    SQLite store there."""
    schemas_dir: Path = Path("schemas")
    """Event schemas (``*.json``) and flow definitions (``flows/*.json``)."""
    dashboard: DashboardSettings = DashboardSettings()
    capture: CaptureSettings = CaptureSettings()
    otlp: OtlpSettings = OtlpSettings()
    limits: LimitsSettings = LimitsSettings()
    envelope: EnvelopeSettings = EnvelopeSettings()
    kafka: KafkaSettings = KafkaSettings()
    rabbitmq: RabbitMQSettings = RabbitMQSettings()
    nats: NatsSettings = NatsSettings()
    retention: RetentionSettings = RetentionSettings()
    dead_letters: DeadLetterSettings = DeadLetterSettings()
    scale_out: ScaleOutSettings = ScaleOutSettings()
    registry: RegistrySettings = RegistrySettings()
    alerts: AlertSettings = AlertSettings()

    @pydantic.model_validator(mode="before")
    @classmethod
    def _top_level_max_record_bytes(cls, values: Any) -> Any:
        """``max_record_bytes`` at the top level (before ``[limits]`` existed) still works."""
        if isinstance(values, dict) and "max_record_bytes" in values:
            values = dict(values)
            given = values.get("limits") or {}
            limits = dict(given.model_dump() if isinstance(given, pydantic.BaseModel) else given)
            limits.setdefault("max_record_bytes", values.pop("max_record_bytes"))
            values["limits"] = limits
        return values

    @pydantic.field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("a store URL such as sqlite:///choreoscope.db or "
                             "postgresql://user@host:5432/choreoscope")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_file is not None:
            sources.append(ConfigFileSource(settings_cls, toml_file=cls.toml_file))
        return tuple(sources)


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def _drop_none(flags: Mapping[str, Any]) -> dict[str, Any]:
    """Flags left at None were not given: they must not override the file or environment."""
    out: dict[str, Any] = {}
    for k, v in flags.items():
        if isinstance(v, Mapping):
            nested = _drop_none(v)
            if nested:
                out[k] = nested
        elif v is not None:
            out[k] = v
    return out


def load_settings(config: str | None = None, **flags: Any) -> Settings:
    """Build the settings from flags (None = not given), environment, file and defaults.

    Without ``config``, the file is ``$CHOREOSCOPE_CONFIG`` (how a command hands its
    ``--config`` to the processes it starts, e.g. the dashboard), else ``./choreoscope.toml``
    when present."""
    if not config and os.environ.get(CONFIG_ENV):
        config, flag = os.environ[CONFIG_ENV], CONFIG_ENV
    else:
        flag = "--config"
    path = Path(config) if config else Path(DEFAULT_CONFIG_FILE)
    if config and not path.is_file():
        raise ConfigError(flag, config, "an existing TOML file")

    class _Loaded(Settings):
        toml_file: ClassVar[Path | None] = path if path.is_file() else None

    try:
        loaded = _Loaded(**_drop_none(flags))
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        key = _key(err["loc"])
        if err["type"] == "extra_forbidden":  # its value is unknown: it could be a secret
            raise ConfigError(key, MASK, "a known setting (docs/CONFIGURATION.md lists them)"
                              ) from None
        value = shown(key, err.get("input"), secret_keys(Settings))
        # `from None`: pydantic's own error text repeats the input, secrets included
        raise ConfigError(key, value, err["msg"].removeprefix("Value error, ")) from None
    except SettingsError as exc:  # a CHOREOSCOPE_* variable that does not parse
        raise ConfigError("CHOREOSCOPE_*", MASK, f"valid values ({exc}; lists and tables "
                          "are JSON, e.g. CHOREOSCOPE_KAFKA__TOPICS='[\"orders\"]')") from None
    except ValueError as exc:  # a TOML file that does not parse
        raise ConfigError("--config", str(path), f"valid TOML ({exc})") from exc
    return Settings.model_construct(**dict(loaded))


def env_overrides() -> dict[str, str]:
    """The CHOREOSCOPE_* variables in force, for a masked dump in logs."""
    return {k: v for k, v in os.environ.items() if k.startswith("CHOREOSCOPE_")}


def require_schemas_dir(settings: Settings) -> Path:
    """``settings.schemas_dir``, which must be a folder: without it a command would run with no
    event schemas and no flow definitions, and miss every violation, stuck flow and breach."""
    folder = settings.schemas_dir
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError("schemas_dir", str(folder), f"a folder of event schemas (events/) and "
                          f"flow definitions (flows/), but {folder.resolve()} {what}; set "
                          "schemas_dir in the config file (relative to the file) or "
                          "CHOREOSCOPE_SCHEMAS_DIR")
    return folder
