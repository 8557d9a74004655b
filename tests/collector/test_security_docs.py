"""docs/SECURITY.md names settings that exist, with their defaults, and the README links it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.config_docs import entries
from collector.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docs" / "SECURITY.md").read_text(encoding="utf-8")
KEYS = {e.key: e for e in entries(Settings)}
NAMED = sorted(set(re.findall(r"`([a-z_]+\.[a-z_]+)[` ]", TEXT))
               | {f"{s}.{k}" for s, k in re.findall(r"`\[([a-z_]+)\] ([a-z_]+)`", TEXT)})


def test_the_readme_links_it() -> None:
    assert "(docs/SECURITY.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("key", NAMED)
def test_every_setting_it_names_exists(key: str) -> None:
    assert key in KEYS, f"docs/SECURITY.md names {key}, which is not a setting"


@pytest.mark.parametrize("key", [
    "otlp.token", "dashboard.host", "capture.redact", "capture.dead_letter_raw",
    "limits.max_record_bytes", "limits.max_depth", "limits.min_time", "limits.max_time",
    "dead_letters.max_age_days", "dead_letters.max_bytes", "dead_letters.max_raw_bytes",
    "otlp.max_body_bytes", "otlp.max_inflight_bytes", "otlp.max_concurrent_requests",
    "otlp.max_pending_spans"])
def test_it_covers_each_guard_and_limit(key: str) -> None:
    assert key in NAMED


def test_the_bind_addresses_it_states_are_the_defaults() -> None:
    defaults = Settings.model_construct()
    assert defaults.dashboard.host == defaults.otlp.host == defaults.kafka.metrics_host == (
        "127.0.0.1")
    assert defaults.registry.listen == "127.0.0.1:8081"
    for where in ("127.0.0.1:8501", "127.0.0.1:4318", "127.0.0.1:4317", "127.0.0.1:9464",
                  "127.0.0.1:8081"):
        assert where in TEXT
    assert (defaults.dashboard.port, defaults.otlp.port, defaults.otlp.grpc_port,
            defaults.kafka.metrics_port) == (8501, 4318, 4317, 9464)
