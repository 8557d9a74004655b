"""Business keys shipped with a domain's schemas (``schemas/business_keys.json``), merged with the
ones configured under ``[envelope.business_keys]``.

The file sits beside the event schemas and flow definitions, so a domain (the demo's) brings the
ids its users search by (an order id, a customer id) with no extra configuration. Its shape is
the configuration's: ``{"business_keys": {"EVENT_TYPE or *": {"name": "locator"}}}``. The
configuration extends it (new event types, new names) and overrides it (the same name for the
same event type).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from collector.exceptions import ConfigError

__all__ = ["FILE_NAME", "load_business_keys", "merge_business_keys"]

FILE_NAME = "business_keys.json"

KeyRules = dict[str, dict[str, str]]
"""By event type (``*``: every type), key name to locator text."""


def load_business_keys(schemas_dir: Path) -> KeyRules:
    """The business keys in ``schemas_dir/business_keys.json`` (none when there is no file)."""
    path = schemas_dir / FILE_NAME
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), None, f"a readable JSON file ({exc})") from None
    return _checked(str(path), raw)


def _checked(where: str, raw: object) -> KeyRules:
    from collector.envelope import Locator

    keys = raw.get("business_keys") if isinstance(raw, Mapping) else None
    if not isinstance(keys, Mapping):
        raise ConfigError(f"{where}: business_keys", keys,
                          'an object {"EVENT_TYPE or *": {"name": "/data/pointer"}}')
    out: KeyRules = {}
    for event_type, named in keys.items():
        if not isinstance(named, Mapping):
            raise ConfigError(f"{where}: business_keys.{event_type}", named,
                              'an object {"name": "/data/pointer"}')
        for name, text in named.items():
            try:
                Locator.parse(text if isinstance(text, str) else "?")
            except ValueError:
                raise ConfigError(f"{where}: business_keys.{event_type}.{name}", text,
                                  "a locator such as /data/order_id or header:NAME") from None
            out.setdefault(str(event_type), {})[str(name)] = text
    return out


def merge_business_keys(shipped: Mapping[str, Mapping[str, str]],
                        configured: Mapping[str, Mapping[str, str]]) -> KeyRules:
    """The shipped keys, extended and overridden by the configured ones (per event type, by
    name)."""
    out: KeyRules = {t: dict(named) for t, named in shipped.items()}
    for event_type, named in configured.items():
        out.setdefault(event_type, {}).update(named)
    return out
