"""Configuration precedence (flag > environment > file > default) and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import main
from collector.exceptions import ConfigError
from collector.settings import load_settings


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("CHOREOSCOPE_STORE", "CHOREOSCOPE_DASHBOARD__PORT"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "choreoscope.toml"
    path.write_text('store = "sqlite:///from-file.db"\n[dashboard]\nport = 9000\n')
    return path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHOREOSCOPE_STORE", raising=False)
    s = load_settings()
    assert s.store == "sqlite:///choreoscope.db"
    assert s.dashboard.port == 8501


def test_file_over_default(config: Path) -> None:
    s = load_settings()
    assert (s.store, s.dashboard.port, s.dashboard.host) == (
        f"sqlite:///{config.parent.resolve() / 'from-file.db'}", 9000, "127.0.0.1")


def test_environment_over_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_DASHBOARD__PORT", "9100")
    assert load_settings().dashboard.port == 9100


def test_flag_over_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_STORE", "sqlite:///from-env.db")
    assert load_settings().store == "sqlite:///from-env.db"
    s = load_settings(store="sqlite:///from-flag.db", dashboard={"port": None})
    assert s.store == "sqlite:///from-flag.db"
    assert s.dashboard.port == 9000  # a flag not given does not override


@pytest.mark.parametrize(("env", "value", "key"), [
    ("CHOREOSCOPE_DASHBOARD__PORT", "abc", "dashboard.port"),
    ("CHOREOSCOPE_DASHBOARD__PORT", "70000", "dashboard.port"),
    ("CHOREOSCOPE_STORE", "mysql://x", "store"),
])
def test_bad_value_names_the_key(config: Path, monkeypatch: pytest.MonkeyPatch,
                                 env: str, value: str, key: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == key
    assert value in str(info.value)


def test_cli_exits_2_with_one_line_naming_the_key(config: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "dashboard.port" in err[0]
    assert "0" in err[0]


def test_missing_config_file_is_an_error(config: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        load_settings("no-such.toml")


def test_unknown_key_in_file_is_refused(config: Path) -> None:
    config.write_text('stroe = "sqlite:///typo.db"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == "stroe"


@pytest.mark.parametrize("pattern", [r"orders-\d+", r"(?i)orders", r"orders.*?"])
def test_a_topic_pattern_the_kafka_client_would_read_otherwise_is_refused(
        config: Path, monkeypatch: pytest.MonkeyPatch, pattern: str) -> None:
    """librdkafka matches topic patterns with glibc's POSIX extended regular expressions,
    where ``\\d`` is the letter d and ``(?`` does not compile: such a pattern would silently
    read other topics or none."""
    monkeypatch.setenv("CHOREOSCOPE_KAFKA__TOPIC_PATTERN", pattern)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == "kafka.topic_pattern"
    assert "POSIX extended regular expression" in str(info.value)


def test_a_posix_topic_pattern_is_taken(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_KAFKA__TOPIC_PATTERN", r"^shop\.orders-[0-9]+")
    assert load_settings().kafka.topic_pattern == r"^shop\.orders-[0-9]+"
