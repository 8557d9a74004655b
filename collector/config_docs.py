"""The settings reference (``docs/CONFIGURATION.md``), generated from the settings models.

Every setting is listed with its type, default, environment variable, an example and its
description (the attribute docstring under the field in ``collector/settings.py``). `missing`
names the settings that cannot be documented yet: no description, or no default and no example
(``pydantic.Field(examples=[...])``). ``choreoscope config docs --out docs/CONFIGURATION.md``
(``make config-docs``) writes the file; a test fails when the file and the models differ.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import annotated_types
import pydantic
from pydantic_core import PydanticUndefined

__all__ = ["DOCS_COMMAND", "DOCS_PATH", "Entry", "entries", "missing", "render_configuration",
           "show_settings"]

DOCS_PATH = Path("docs") / "CONFIGURATION.md"
DOCS_COMMAND = "make config-docs (or: choreoscope config docs --out docs/CONFIGURATION.md)"
ENV_PREFIX = "CHOREOSCOPE_"


@dataclass(frozen=True, slots=True)
class Entry:
    """One documented setting."""

    key: str
    """Dotted, as in the file: ``kafka.bootstrap_servers``, ``envelope.topics.<topic>.data``."""
    type: str
    default: str | None
    """As TOML; None when the setting has no default (it is then unset, or required)."""
    example: str | None
    description: str
    env: str | None
    """The environment variable, for keys without a ``<name>`` part."""


def _args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """The annotation without ``Annotated``, and its metadata."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *meta = _args(annotation)
        return inner, meta
    return annotation, []


def _optional(annotation: Any) -> tuple[Any, bool]:
    if _is_union(annotation):
        members = [a for a in _args(annotation) if a is not type(None)]
        if len(members) < len(_args(annotation)):
            inner = members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007
            return inner, True
    return annotation, False


_NAMES: Mapping[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                             Path: "path", pydantic.SecretStr: "secret string"}


def type_name(annotation: Any) -> str:
    """A setting's type in words: ``list of locator``, ``one of "auto", "plain"``."""
    annotation, meta = _strip(annotation)
    annotation, optional = _optional(annotation)
    annotation, inner_meta = _strip(annotation)
    meta = meta + inner_meta
    origin = typing.get_origin(annotation)
    if origin is Literal:
        name = "one of " + ", ".join(json.dumps(a) for a in _args(annotation))
    elif origin in (tuple, list):
        name = f"list of {type_name(_args(annotation)[0])}"
    elif origin is dict:
        key, value = _args(annotation)
        name = f"table of {type_name(key)} to {type_name(value)}"
    elif isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        name = "table"
    elif any(getattr(m, "func", None) is not None for m in meta):
        name = "locator"  # an AfterValidator: a string checked by the envelope's rules
    else:
        name = _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return f"{name} (optional)" if optional else name


def _bounds(meta: list[Any]) -> str:
    words = ((annotated_types.Ge, ">=", "ge"), (annotated_types.Gt, ">", "gt"),
             (annotated_types.Le, "<=", "le"), (annotated_types.Lt, "<", "lt"))
    return ", ".join(f"{sign} {getattr(m, attr)}" for m in meta
                     for kind, sign, attr in words if isinstance(m, kind))


def toml_value(value: Any) -> str:
    """A value as it is written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, pydantic.SecretStr):
        return json.dumps("***")
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, pydantic.BaseModel):
        return toml_value({k: v for k, v in vars(value).items() if v is not None})
    return json.dumps(str(value))


def _toml_key(key: str) -> str:
    plain = key.replace("_", "").replace("-", "").isalnum()
    return key if plain else json.dumps(key)


def _section_of(annotation: Any) -> type[pydantic.BaseModel] | None:
    annotation, _ = _optional(_strip(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    return None


def _dict_of_sections(annotation: Any) -> type[pydantic.BaseModel] | None:
    annotation, _ = _optional(_strip(annotation)[0])
    if typing.get_origin(annotation) is dict:
        return _section_of(_args(annotation)[1])
    return None


def _entry(key: str, info: Any, env: str | None) -> Entry:
    default = info.get_default(call_default_factory=True)
    has_default = info.default is not PydanticUndefined or info.default_factory is not None
    shown = None if not has_default or default is None else toml_value(default)
    bounds = _bounds(list(info.metadata))
    kind = type_name(info.annotation) + (f", {bounds}" if bounds else "")
    examples = info.examples or []
    example = toml_value(examples[0]) if examples else shown
    description = " ".join((info.description or "").split())
    return Entry(key, kind, shown, example, description, env)


def entries(model: type[pydantic.BaseModel], prefix: str = "",
            env: str | None = ENV_PREFIX) -> Iterator[Entry]:
    """Every setting of ``model`` and its sections, in declaration order."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        var = None if env is None else f"{env}{name.upper()}"
        section = _section_of(info.annotation)
        by_name = _dict_of_sections(info.annotation)
        if section is not None:
            yield from entries(section, f"{key}.", None if var is None else f"{var}__")
        elif by_name is not None:
            yield _entry(key, info, var)
            yield from entries(by_name, f"{key}.<name>.", None)
        else:
            yield _entry(key, info, var)


def missing(model: type[pydantic.BaseModel]) -> list[str]:
    """Settings that cannot be documented: no description, or neither default nor example."""
    return [f"{e.key} (no description: add a docstring under the field)" if not e.description
            else f"{e.key} (no default: add pydantic.Field(examples=[...]))"
            for e in entries(model) if not e.description or e.example is None]


def _cell(text: str) -> str:
    return text.replace("``", "`").replace("|", "\\|").replace("\n", " ")


def _code(text: str | None) -> str:
    return "" if text is None else f"`{_cell(text)}`"


def _sections(model: type[pydantic.BaseModel]) -> dict[str, tuple[str, list[Entry]]]:
    """Entries grouped by their TOML table, with each table's own description."""
    out: dict[str, tuple[str, list[Entry]]] = {"": (_doc(model), [])}
    for name, info in model.model_fields.items():
        section = _section_of(info.annotation) or _dict_of_sections(info.annotation)
        if section is not None:
            out[name] = (_doc(section), [])
    for e in entries(model):
        head = e.key.split(".", 1)[0] if "." in e.key else ""
        out[head][1].append(e)
    return out


def _doc(model: type[pydantic.BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


_INTRO = """\
# Configuration reference

<!-- Generated from the settings models in collector/settings.py: do not edit by hand.
     Regenerate with `{command}`. -->

Choreoscope reads one configuration when a command starts. Precedence: a command-line flag,
then a `CHOREOSCOPE_*` environment variable, then the TOML file (`--config FILE`, given before
or after the subcommand, else the file named by `CHOREOSCOPE_CONFIG`, else `./choreoscope.toml`
when present), then the default below. The dashboard started by `choreoscope dashboard` or
`choreoscope demo` reads the same file.
`choreoscope.example.toml` is a commented example file.

- **Environment variables**: `CHOREOSCOPE_` and the key in capitals, sections joined by `__`:
  `kafka.bootstrap_servers` is `CHOREOSCOPE_KAFKA__BOOTSTRAP_SERVERS`. Lists and tables are
  given as JSON: `CHOREOSCOPE_KAFKA__TOPICS='["orders","payments"]'`.
- **Relative paths in the file** (`schemas_dir`, the `ssl_*file` settings, a `sqlite:///` store)
  are resolved from the folder of the file, not from the working directory. Flags and
  environment variables are relative to the working directory.
- **Secrets** (type *secret string*) are never shown: not in logs, not in error messages.
  Prefer environment variables for them.
- An unknown key or an invalid value stops the command with exit code 2 and one line naming
  the key.
- Keys with `<name>` belong to a table of your own naming, e.g. `[envelope.topics.orders]`
  (`"*"` for every other topic).
"""


_OUTRO = """\
## Example: a team's own JSON envelope

Records of topic `orders` look like `{"kind": "OrderPlaced", "msg_id": "m-1",
"at": "2026-01-05T08:00:00Z", "payload": {...}}` with the correlation id in a header:

```toml
schemas_dir = "schemas"          # next to this file: schemas/events/<Type>/v<N>.json, flows/

[envelope.topics.orders]
type = "/kind"
id = "/msg_id"
time = "/at"
data = "/payload"                # what the event's schema validates; without it, the whole record
correlation = ["header:x-correlation-id", "/payload/order_id"]
```
"""


def render_configuration(model: type[pydantic.BaseModel]) -> str:
    """The whole reference as Markdown."""
    lines = [_INTRO.format(command=DOCS_COMMAND)]
    for head, (doc, items) in _sections(model).items():
        if not items:
            continue
        lines.append(f"## {'Top level' if not head else f'[{head}]'}\n")
        if doc:
            lines.append(f"{doc}\n")
        lines.append("| Key | Type | Default | Example | Environment variable | Description |")
        lines.append("|---|---|---|---|---|---|")
        for e in items:
            example = None if e.example is None else f"{e.key.rsplit('.', 1)[-1]} = {e.example}"
            lines.append(f"| `{e.key}` | {_cell(e.type)} | {_code(e.default) or '(none)'} | "
                         f"{_code(example)} | {_code(e.env)} | {_cell(e.description)} |")
        lines.append("")
    lines.append(_OUTRO)
    return "\n".join(lines)


def show_settings(settings: pydantic.BaseModel) -> str:
    """Settings as a TOML document, secrets masked (``config show``)."""
    top: list[str] = []
    tables: list[str] = []
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name)
        if _section_of(info.annotation) is not None and isinstance(value, pydantic.BaseModel):
            tables.append(f"\n[{name}]")
            tables.extend(_assignments(value))
        elif value is not None:
            top.append(f"{name} = {toml_value(value)}")
    return "\n".join([*top, *tables]) + "\n"


def _assignments(section: pydantic.BaseModel) -> Iterator[str]:
    for name in type(section).model_fields:
        value = getattr(section, name)
        if value is None:
            yield f"# {name} is not set"
        elif isinstance(value, pydantic.SecretStr):
            yield f'{name} = "***"'
        else:
            yield f"{name} = {toml_value(value)}"
