"""Configuration: one frozen settings object per process, read once by the entry point.

Precedence: command-line flag, then ``CHOREOSCOPE_*`` environment variables (nested keys with
``__``, e.g. ``CHOREOSCOPE_KAFKA__BOOTSTRAP_SERVERS``), then the TOML file (``--config``, else
``./choreoscope.toml`` when present), then the defaults below. An invalid value raises
`ConfigError` naming the key, the value and what was expected; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import pydantic
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from collector.exceptions import ConfigError

__all__ = ["CaptureSettings", "DashboardSettings", "Settings", "load_settings"]

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
    """JSON Pointers replaced by ``"[redacted]"`` before anything is stored."""


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
    max_record_bytes: int = pydantic.Field(default=1_048_576, ge=1)

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
