"""The TOML configuration file as a settings source, and what its values mean.

A relative path in the file is resolved from the file's own folder, not from the working
directory: ``schemas_dir = "schemas"`` in ``/etc/shop/choreoscope.toml`` is
``/etc/shop/schemas`` wherever the command runs. That holds for every setting typed as a path
and for a ``sqlite:///`` store URL. Flags and environment variables stay relative to the working
directory, like any command-line path.

`secret_keys` and `shown` keep the values of secret settings (`pydantic.SecretStr`) out of every
message that echoes a configuration value.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pydantic
from pydantic_settings import TomlConfigSettingsSource

__all__ = ["ConfigFileSource", "resolve_paths", "resolved_store", "secret_keys",
           "secret_values", "shown"]

SQLITE = "sqlite:///"
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")
MASK = "***"


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types an annotation allows: ``Path | None`` gives (Path, NoneType)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return tuple(m for a in typing.get_args(annotation) for m in _members(a))
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    return (annotation,)


def _section(annotation: Any) -> type[pydantic.BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, pydantic.BaseModel):
            return member
    return None


def _is_path(annotation: Any) -> bool:
    return any(isinstance(m, type) and issubclass(m, Path) for m in _members(annotation))


def _is_secret(annotation: Any) -> bool:
    return any(isinstance(m, type) and issubclass(m, pydantic.SecretStr)
               for m in _members(annotation))


def _fields(model: type[pydantic.BaseModel], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every setting as (dotted key, annotation), sections walked into."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        inner = _section(info.annotation)
        if inner is None:
            yield key, info.annotation
        else:
            yield from _fields(inner, f"{key}.")


def secret_keys(model: type[pydantic.BaseModel]) -> frozenset[str]:
    """The dotted keys of every secret setting, e.g. ``kafka.sasl_password``."""
    return frozenset(key for key, annotation in _fields(model) if _is_secret(annotation))


def secret_values(value: object) -> list[str]:
    """Every secret's value in loaded settings (to keep them out of every log line)."""
    if isinstance(value, pydantic.SecretStr):
        return [value.get_secret_value()] if value.get_secret_value() else []
    if isinstance(value, pydantic.BaseModel):
        return [s for name in type(value).model_fields for s in secret_values(
            getattr(value, name))]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in secret_values(v)]
    return []


def shown(key: str, value: object, secrets: frozenset[str]) -> object:
    """A configuration value as a message may show it: a secret's value (or anything holding
    one) is masked, whatever its type or validity, and so is the password in a URL."""
    if key in secrets or any(s.startswith(f"{key}.") for s in secrets):
        return MASK
    if isinstance(value, str):  # a URL's password: postgresql://user:PASSWORD@host/db
        return _URL_PASSWORD.sub(rf"\1:{MASK}@", value)
    return value


def resolved_store(url: str, base: Path) -> str:
    """A ``sqlite:///`` URL with a relative path, resolved from ``base``."""
    path = url.removeprefix(SQLITE)
    if not url.startswith(SQLITE) or not path or path == ":memory:" or Path(path).is_absolute():
        return url
    return f"{SQLITE}{base / path}"


def resolve_paths(data: Mapping[str, Any], model: type[pydantic.BaseModel],
                  base: Path) -> dict[str, Any]:
    """``data`` (one file's values) with its relative paths resolved from ``base``."""
    out = dict(data)
    for name, value in data.items():
        info = model.model_fields.get(name)
        if info is None:
            continue  # an unknown key: validation names it
        inner = _section(info.annotation)
        if inner is not None and isinstance(value, Mapping):
            out[name] = resolve_paths(value, inner, base)
        elif _is_path(info.annotation) and isinstance(value, str) and value:
            out[name] = str(base / Path(value).expanduser())
    return out


class ConfigFileSource(TomlConfigSettingsSource):
    """`TomlConfigSettingsSource` whose relative paths are resolved from the file's folder."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = super()._read_file(file_path)
        from collector.settings import Settings

        base = Path(file_path).resolve().parent
        out = resolve_paths(data, Settings, base)
        if isinstance(out.get("store"), str):
            out["store"] = resolved_store(out["store"], base)
        return out
