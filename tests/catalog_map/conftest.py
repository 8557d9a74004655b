"""Shared pieces of the event-map tests: the official AsyncAPI JSON Schema, small maps, times.

The AsyncAPI 3.0.0 schema comes from the npm package ``@asyncapi/specs`` (the AsyncAPI
initiative's own JSON Schema files), installed by this session into the git-ignored
``var/asyncapi`` with the machine's npm; a failed install fails the tests that need it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPECS_VERSION = "6.11.1"
SPECS_DIR = ROOT / "var" / "asyncapi"
SCHEMA_FILE = SPECS_DIR / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _installed_version() -> str | None:
    package = SCHEMA_FILE.parents[1] / "package.json"
    if not package.is_file():
        return None
    return str(json.loads(package.read_text(encoding="utf-8")).get("version"))


@pytest.fixture(scope="session")
def asyncapi_schema() -> dict[str, Any]:
    """The official AsyncAPI 3.0.0 JSON Schema (draft-07, definitions bundled by ``$id``)."""
    if _installed_version() != SPECS_VERSION:
        npm = shutil.which("npm")
        assert npm, "npm is needed to install @asyncapi/specs (Node 20 and npm)"
        SPECS_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(SPECS_DIR),
                        f"@asyncapi/specs@{SPECS_VERSION}"], check=True, timeout=300,
                       capture_output=True)
    assert _installed_version() == SPECS_VERSION
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    return schema
