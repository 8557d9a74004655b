"""AsyncAPI documents from files: the I/O edge of `catalog.asyncapi_import`.

Teams keep one document per service and share messages and schemas between them
(``../common/messages.yaml`` whose messages reference ``./schemas.yaml``). `FileDocuments`
follows such relative references, resolved from the file that holds them, as long as the file
they name stays inside a root folder. A URL (``https://...``, ``file:...``, ``//host/...``) or
a path that leaves the root is refused naming it: nothing is ever fetched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from catalog.asyncapi_import import AsyncApiError

__all__ = ["FileDocuments", "read_document"]

_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")
"""A scheme (``https:``, ``file:``, ``urn:``) or a network path: never a file under the root."""


def read_document(path: Path) -> Any:
    """A JSON or YAML document (by suffix; anything else is tried as JSON, then YAML).

    Raises `AsyncApiError` naming the file for one that cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AsyncApiError(str(path), "file", f"cannot read ({reason})") from exc
    if path.suffix.lower() not in (".yaml", ".yml"):
        try:
            return json.loads(text)
        except ValueError as exc:
            if path.suffix.lower() == ".json":
                raise AsyncApiError(str(path), "file", f"not JSON ({exc})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = str(exc).replace("\n", " ")
        raise AsyncApiError(str(path), "file", f"neither JSON nor YAML ({problem})") from exc


@dataclass(slots=True)
class FileDocuments:
    """A `DocumentLoader` over the files under ``root``."""

    root: Path
    _cache: dict[Path, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    def path_of(self, target: str, origin: str, where: str) -> Path:
        """The file a reference names, resolved from the file holding it; refused when it is
        a URL or outside the root."""
        if _URL.match(target) or "\\" in target:
            raise AsyncApiError(origin, where, f"reference {target!r} is a URL: only files "
                                f"under {self.root} are read, nothing is fetched")
        base = Path(origin).parent if origin else Path()
        path = (base / unquote(target)).resolve()
        if not path.is_relative_to(self.root):
            raise AsyncApiError(origin, where, f"reference {target!r} leaves the root folder "
                                f"{self.root} (it names {path}; give --root to allow it)")
        return path

    def __call__(self, target: str, origin: str, where: str) -> tuple[Any, str]:
        path = self.path_of(target, origin, where)
        if path not in self._cache:
            if not path.is_file():
                raise AsyncApiError(origin, where, f"reference {target!r}: no such file {path}")
            self._cache[path] = read_document(path)
        return self._cache[path], str(path)
