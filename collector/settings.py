"""Configuration: one frozen settings object per process, read once by the entry point.

Precedence: command-line flag, then ``CHOREOSCOPE_*`` environment variables (nested keys with
``__``, e.g. ``CHOREOSCOPE_KAFKA__BOOTSTRAP_SERVERS``), then the TOML file (``--config``, else
``./choreoscope.toml`` when present), then the defaults below. An invalid value raises
`ConfigError` naming the key, the value and what was expected; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import pydantic
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from collector.exceptions import ConfigError

__all__ = ["AlertSettings", "CaptureSettings", "DashboardSettings", "DeadLetterSettings",
    "EnvelopeSettings",
    "KafkaSettings", "OtlpSettings", "RegistrySettings", "RetentionSettings", "Settings",
    "TopicEnvelopeSettings", "load_settings"]

DEFAULT_CONFIG_FILE = "choreoscope.toml"


class _Section(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class DashboardSettings(_Section):
    host: str = "127.0.0.1"
    port: int = pydantic.Field(default=8501, ge=1, le=65535)


class CaptureSettings(_Section):
    """What of a payload is stored: none, a sample, or everything, after redaction."""

    policy: Literal["none", "sampled", "full"] = "full"
    sample_every: int = pydantic.Field(default=100, ge=1)
    redact: tuple[str, ...] = ()
    """JSON Pointers replaced by ``"[redacted]"`` before anything is stored, e.g.
    ``["/data/customer/email", "header:x-api-key"]``; ``header:NAME`` redacts a header's value
    where headers are stored (dead letters). A top-level pointer (``/NAME``) also covers the
    ``ce_NAME`` header of a CloudEvents binary-mode record."""
    dead_letter_raw: bool = False
    """Keep the raw bytes of records that cannot be parsed even when redaction rules apply
    (redaction cannot find fields in them, so they may hold redacted values). Off by default:
    such a dead letter keeps its location, and ``choreoscope deadletters replay`` re-reads the
    record from the broker while the broker retains it."""

    @pydantic.field_validator("redact")
    @classmethod
    def _redact(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not entry.startswith("/") and not (
                    entry.startswith("header:") and len(entry) > len("header:")):
                raise ValueError(f"{entry!r}: a JSON Pointer (/data/email) or header:NAME")
        return value


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
    type: _LocatorText | None = None
    id: _LocatorText | None = None
    time: _LocatorText | None = None
    source: _LocatorText | None = None
    causation: _LocatorText | None = None
    data: _LocatorText | None = None
    correlation: tuple[_LocatorText, ...] | None = None


class EnvelopeSettings(_Section):
    """Envelope decoding: correlation rules tried in order, per-topic rules, business keys."""

    correlation: tuple[_LocatorText, ...] = ("header:x-correlation-id", "extension:correlationid")
    topics: dict[str, TopicEnvelopeSettings] = {}
    business_keys: dict[str, dict[str, _LocatorText]] = {}
    """By event type (``"*"`` for all): name to pointer, e.g. ``order_id = "/data/order_id"``."""


class KafkaSettings(_Section):
    """The Kafka tap: the cluster, what to read, and the collector's own health endpoint."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topics: tuple[str, ...] = (
        "orders", "payments", "inventory", "shipping", "notifications", "customers")
    topic_pattern: str | None = None
    """A regular expression; when set it replaces ``topics`` and new matching topics are read."""
    group_id: str = "choreoscope"
    client_id: str = "choreoscope-collector"
    start: str = "earliest"
    """Where a partition without a stored position starts: earliest, latest or an ISO time."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: pydantic.SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_password: pydantic.SecretStr | None = None
    ssl_check_hostname: bool = True
    max_poll_records: int = pydantic.Field(default=5000, ge=1)
    batch_max: int = pydantic.Field(default=20_000, ge=1)
    """Most records written in one store transaction."""
    batch_wait_ms: int = pydantic.Field(default=200, ge=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = pydantic.Field(default=9464, ge=0, le=65535)
    """Prometheus text endpoint (``/metrics``); 0 turns it off."""
    metrics_every_s: float = pydantic.Field(default=10.0, gt=0)

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
        return value


class RetentionSettings(_Section):
    """Events, spans and dead letters older than ``max_age_days`` are deleted in batches."""

    max_age_days: float | None = pydantic.Field(default=None, gt=0)
    batch_size: int = pydantic.Field(default=5000, ge=1)
    every_s: float = pydantic.Field(default=60.0, gt=0)


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
    port: int = pydantic.Field(default=4318, ge=0, le=65535)
    grpc: bool = True
    """Also serve OTLP/gRPC (many SDKs export over gRPC by default) on ``host:grpc_port``."""
    grpc_port: int = pydantic.Field(default=4317, ge=0, le=65535)
    max_body_bytes: int = pydantic.Field(default=20 * 1024 * 1024, ge=1)
    """Request size limit, before and after decompression (the OTLP spec's recommended 20 MiB)."""
    max_pending_spans: int = pydantic.Field(default=200_000, ge=1)
    """Spans accepted but not yet stored; past this, requests get 503 with Retry-After."""
    retry_after_s: int = pydantic.Field(default=1, ge=1)
    token: pydantic.SecretStr | None = None
    """When set, exporters must send ``Authorization: Bearer <token>``."""
    kafka_topics: tuple[str, ...] = ()
    """Kafka topics of OTLP span records to read too, e.g. ``("otlp_spans",)``, where the
    OpenTelemetry Collector's Kafka exporter writes; the connection is the ``kafka`` section's,
    the consumer group ``<kafka.group_id>-spans``."""


class RegistrySettings(_Section):
    """Schema registry defaults for subjects without their own ``compatibility.json``."""

    mode: Literal["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
                  "FULL", "FULL_TRANSITIVE"] = "BACKWARD"
    policy: Literal["STRICT", "LENIENT"] = "STRICT"


class AlertSettings(_Section):
    """Where the flow engine's alerts go from the outbox (issue 5): a Kafka topic on
    ``kafka.bootstrap_servers`` and/or a webhook; neither by default."""

    topic: str | None = None
    """e.g. ``choreoscope.alerts``: FlowStuck, SlaBreached and FlowRecovered as CloudEvents."""
    webhook_url: str | None = None
    """Each alert is POSTed as a CloudEvents JSON object; receivers drop re-sends by ``id``."""
    webhook_timeout_s: float = pydantic.Field(default=5.0, gt=0)
    publish_every_s: float = pydantic.Field(default=1.0, gt=0)
    batch_size: int = pydantic.Field(default=500, ge=1)

    @pydantic.field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHOREOSCOPE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )
    toml_file: ClassVar[Path | None] = None

    store: str = "sqlite:///choreoscope.db"
    schemas_dir: Path = Path("schemas")
    """Event schemas (``*.json``) and flow definitions (``flows/*.json``)."""
    dashboard: DashboardSettings = DashboardSettings()
    capture: CaptureSettings = CaptureSettings()
    otlp: OtlpSettings = OtlpSettings()
    max_record_bytes: int = pydantic.Field(default=1_048_576, ge=1)
    envelope: EnvelopeSettings = EnvelopeSettings()
    kafka: KafkaSettings = KafkaSettings()
    retention: RetentionSettings = RetentionSettings()
    dead_letters: DeadLetterSettings = DeadLetterSettings()
    registry: RegistrySettings = RegistrySettings()
    alerts: AlertSettings = AlertSettings()

    @pydantic.field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://")):
            raise ValueError("a store URL such as sqlite:///choreoscope.db")
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
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file))
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
    """Build the settings from flags (None = not given), environment, file and defaults."""
    path = Path(config) if config else Path(DEFAULT_CONFIG_FILE)
    if config and not path.is_file():
        raise ConfigError("--config", config, "an existing TOML file")

    class _Loaded(Settings):
        toml_file: ClassVar[Path | None] = path if path.is_file() else None

    try:
        loaded = _Loaded(**_drop_none(flags))
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        key = _key(err["loc"])
        raise ConfigError(key, err.get("input"), err["msg"].removeprefix("Value error, ")) from exc
    except ValueError as exc:  # a TOML file that does not parse
        raise ConfigError("--config", str(path), f"valid TOML ({exc})") from exc
    return Settings.model_construct(**dict(loaded))


def env_overrides() -> dict[str, str]:
    """The CHOREOSCOPE_* variables in force, for a masked dump in logs."""
    return {k: v for k, v in os.environ.items() if k.startswith("CHOREOSCOPE_")}
