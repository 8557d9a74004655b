"""Configuration cannot silently mislead (issue 14): paths in a file are relative to the file,
a missing schemas folder is refused, global options go on either side of the subcommand, and
no message echoes a secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import main
from collector.exceptions import ConfigError
from collector.settings import load_settings

CLI = [sys.executable, "-m", "collector.cli"]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a ``schemas`` folder of its own (like the repository's demo)
    and no CHOREOSCOPE_* variables."""
    cwd = tmp_path / "cwd"
    (cwd / "schemas" / "flows").mkdir(parents=True)
    monkeypatch.chdir(cwd)
    for name in ("CHOREOSCOPE_STORE", "CHOREOSCOPE_SCHEMAS_DIR"):
        monkeypatch.delenv(name, raising=False)
    return cwd


def _project(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "project"
    (folder / "schemas" / "flows").mkdir(parents=True)
    config = folder / "choreoscope.toml"
    config.write_text(body)
    return config


def test_relative_paths_in_a_file_are_resolved_from_the_files_folder(
        elsewhere: Path, tmp_path: Path) -> None:
    config = _project(tmp_path, 'store = "sqlite:///data/c.db"\nschemas_dir = "schemas"\n'
                                '[kafka]\nssl_cafile = "tls/ca.pem"\n')
    folder = config.parent.resolve()
    s = load_settings(str(config))
    assert s.schemas_dir == folder / "schemas"  # not the working directory's schemas folder
    assert s.store == f"sqlite:///{folder / 'data' / 'c.db'}"
    assert s.kafka.ssl_cafile == folder / "tls" / "ca.pem"


def test_absolute_paths_in_a_file_and_relative_flags_are_kept(elsewhere: Path,
                                                              tmp_path: Path) -> None:
    config = _project(tmp_path, f'store = "sqlite:///{tmp_path}/abs.db"\n')
    s = load_settings(str(config), schemas_dir="schemas")
    assert s.store == f"sqlite:///{tmp_path}/abs.db"
    assert s.schemas_dir == Path("schemas")  # a flag is relative to the working directory


def test_collect_with_a_missing_schemas_folder_exits_2_naming_the_key_and_the_path(
        tmp_path: Path) -> None:
    config = tmp_path / "choreoscope.toml"
    config.write_text('schemas_dir = "no-such-folder"\n')
    done = subprocess.run([*CLI, "collect", "--config", str(config), "--bootstrap-servers",
                           "127.0.0.1:9", "--metrics-port", "0"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "schemas_dir" in lines[0]
    assert str(tmp_path.resolve() / "no-such-folder") in lines[0]
    assert "does not exist" in lines[0]


def test_flows_stuck_with_a_missing_schemas_folder_exits_2(elsewhere: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text('schemas_dir = "missing"\n')
    assert main(["flows", "stuck", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "schemas_dir" in err[0]
    assert str(tmp_path.resolve() / "missing") in err[0]


@pytest.mark.parametrize("argv", [
    ["collect", "--config", "{config}", "--metrics-port", "0"],
    ["--config", "{config}", "collect", "--metrics-port", "0"],
    ["flows", "stuck", "--config", "{config}"],
    ["schemas", "report", "--log-level", "WARNING", "--config", "{config}"],
    ["--log-level", "WARNING", "timeline", "x", "--config", "{config}"],
])
def test_global_options_work_on_either_side_of_the_subcommand(
        elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        argv: list[str]) -> None:
    """The file's value is used wherever --config stands: its unknown key is reported."""
    config = tmp_path / "typo.toml"
    config.write_text('stroe = "sqlite:///x.db"\n')
    assert main([a.replace("{config}", str(config)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" not in err
    assert "stroe" in err


def test_a_later_global_option_wins(elsewhere: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text("")
    bad.write_text('stroe = "x"\n')
    assert main(["--config", str(good), "flows", "stuck", "--config", str(bad)]) == 2
    assert "stroe" in capsys.readouterr().err


@pytest.mark.parametrize(("body", "secret"), [
    ("[kafka]\nsasl_password = 12\n", "12"),
    ('[kafka]\nssl_password = ["hunter2-in-a-list"]\n', "hunter2-in-a-list"),
    ('[kafka]\nsasl_pasword = "hunter2-typo"\n', "hunter2-typo"),  # an unknown key's value
    ('[otlp]\ntoken = { value = "tok-in-a-table" }\n', "tok-in-a-table"),
    ('store = "postgresq://app:pg-pass-word@db:5432/c"\n', "pg-pass-word"),  # scheme typo
])
def test_a_configuration_error_never_echoes_a_secret(tmp_path: Path, body: str,
                                                     secret: str) -> None:
    config = tmp_path / "secret.toml"
    config.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_settings(str(config))
    assert secret not in str(info.value)
    assert "***" in str(info.value)
    done = subprocess.run([*CLI, "--config", str(config), "flows", "stuck"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert secret not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_unparsable_environment_variable_is_not_called_a_toml_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHOREOSCOPE_KAFKA__TOPICS", "[not json")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == "CHOREOSCOPE_*"
    assert "TOML" not in str(info.value)


def test_the_start_up_line_says_what_was_loaded_from_which_folder(tmp_path: Path) -> None:
    from collector.commands.collect import describe_schemas

    root = Path(__file__).resolve().parents[2] / "schemas"
    versions = len(list((root / "events").glob("*/v*.json")))
    types = len({p.parent.name for p in (root / "events").glob("*/v*.json")})
    flows = len(list((root / "flows").glob("*.json")))
    assert versions
    assert flows
    line = describe_schemas(load_settings(None, schemas_dir=str(root)))
    assert line == (f"loaded {versions} event schemas ({types} event types) and {flows} flow "
                    f"definitions from {root}")
    (tmp_path / "empty").mkdir()
    assert describe_schemas(load_settings(None, schemas_dir=str(tmp_path / "empty"))) == (
        f"loaded 0 event schemas (0 event types) and 0 flow definitions from "
        f"{(tmp_path / 'empty').resolve()}")


def test_every_secret_value_is_known_to_the_log_filter(tmp_path: Path) -> None:
    from collector._config_file import secret_values

    config = tmp_path / "s.toml"
    config.write_text('[kafka]\nsasl_password = "k-secret"\nssl_password = ""\n'
                      '[otlp]\ntoken = "o-secret"\n')
    assert sorted(secret_values(load_settings(str(config)))) == ["k-secret", "o-secret"]


def test_choreoscope_config_names_the_file_when_no_flag_does(
        elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _project(tmp_path, 'schemas_dir = "schemas"\n')
    monkeypatch.setenv("CHOREOSCOPE_CONFIG", str(config))
    assert load_settings().schemas_dir == config.parent.resolve() / "schemas"
    monkeypatch.setenv("CHOREOSCOPE_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == "CHOREOSCOPE_CONFIG"


def test_the_dashboard_reads_the_file_its_command_was_given(tmp_path: Path) -> None:
    """`choreoscope dashboard --config F`: the Streamlit process loads F too (its schemas_dir,
    registry and capture settings), not whatever ./choreoscope.toml says."""
    from collector.dashboard_process import DashboardProcess

    config = _project(tmp_path, "")
    env = DashboardProcess("sqlite:///x.db", config=str(config)).environment()
    assert env["CHOREOSCOPE_CONFIG"] == str(config.resolve())
    assert env["CHOREOSCOPE_STORE"] == "sqlite:///x.db"
