"""docs/CONFIGURATION.md is generated from the settings models: a setting missing from it, or
without a description or example, fails here with the command that fixes it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from collector.config_docs import DOCS_COMMAND, entries, missing, render_configuration
from collector.settings import KafkaSettings, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "CONFIGURATION.md"
CLI = [sys.executable, "-m", "collector.cli"]


def test_every_setting_has_a_description_and_an_example() -> None:
    gaps = missing(Settings)
    assert not gaps, (f"settings without documentation: {gaps}. Add a docstring under each "
                      f"field (and pydantic.Field(examples=[...]) when it has no default), "
                      f"then run {DOCS_COMMAND}")


def test_configuration_md_is_what_the_settings_models_generate() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_configuration(Settings), (
        f"docs/CONFIGURATION.md is out of date with collector/settings.py: run {DOCS_COMMAND}")


def test_every_key_is_in_the_reference_with_its_environment_variable() -> None:
    text = DOCS.read_text(encoding="utf-8")
    keys = [e.key for e in entries(Settings)]
    assert "kafka.sasl_password" in keys
    for key in keys:
        assert f"| `{key}` |" in text, f"{key} is missing from docs/CONFIGURATION.md"
    assert "`CHOREOSCOPE_KAFKA__BOOTSTRAP_SERVERS`" in text


@pytest.mark.parametrize("key", ["data", "envelope", "causation", "correlation", "type", "id"])
def test_the_per_topic_envelope_keys_are_documented(key: str) -> None:
    row = next(line for line in DOCS.read_text(encoding="utf-8").splitlines()
               if line.startswith(f"| `envelope.topics.<name>.{key}` |"))
    description = row.rstrip(" |").rsplit(" | ", 1)[-1]
    assert len(description) > 20


def test_a_new_setting_without_a_docstring_is_reported() -> None:
    class Extended(KafkaSettings):
        connect_retries: int = 3
        documented: int = 1
        """Has its docstring."""

    class WithExtended(Settings):
        kafka: Extended = Extended()

    gaps = missing(WithExtended)
    assert gaps == ["kafka.connect_retries (no description: add a docstring under the field)"]
    assert "`kafka.documented`" in render_configuration(WithExtended)
    assert render_configuration(WithExtended) != render_configuration(Settings)


def test_a_setting_without_default_needs_an_example() -> None:
    class Section(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(use_attribute_docstrings=True)
        endpoint: str | None = None
        """Where to send things."""

    assert missing(Section) == ["endpoint (no default: add pydantic.Field(examples=[...]))"]


def test_the_reference_example_is_a_valid_configuration(tmp_path: Path) -> None:
    block = re.search(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert block is not None
    config = tmp_path / "choreoscope.toml"
    config.write_text(block.group(1))
    s = load_settings(str(config))
    assert s.envelope.topics["orders"].data == "/payload"
    assert s.schemas_dir == tmp_path.resolve() / "schemas"


def test_config_docs_check_exits_1_on_a_stale_file_naming_the_command(tmp_path: Path) -> None:
    out = tmp_path / "CONFIGURATION.md"
    out.write_text("# stale\n")
    stale = subprocess.run([*CLI, "config", "docs", "--out", str(out), "--check"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert stale.returncode == 1
    assert "make config-docs" in stale.stderr
    wrote = subprocess.run([*CLI, "config", "docs", "--out", str(out)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert wrote.returncode == 0
    assert out.read_text(encoding="utf-8") == render_configuration(Settings)
    fresh = subprocess.run([*CLI, "config", "docs", "--out", str(out), "--check"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert fresh.returncode == 0


def test_config_show_resolves_paths_and_masks_secrets(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('schemas_dir = "here"\n[kafka]\nsasl_password = "show-me-not"\n'
                      'sasl_mechanism = "PLAIN"\nsecurity_protocol = "SASL_PLAINTEXT"\n')
    done = subprocess.run([*CLI, "config", "show", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "show-me-not" not in done.stdout
    assert 'sasl_password = "***"' in done.stdout
    assert f'schemas_dir = "{tmp_path.resolve() / "here"}"' in done.stdout
