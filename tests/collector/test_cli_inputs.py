"""Every bad input of every command (issue 14): an unreadable or invalid file, flag,
configuration or store URL exits 2 with one line and no traceback; exit 1 stays for a valid
question with a negative answer. One case per row, so a failure names it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from collector.store.base import open_store

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "collector.cli"]

XES_EVENT = ('<event><string key="concept:name" value="A"/>'
             '<date key="time:timestamp" value="2026-01-01T00:00:00+00:00"/>{extra}</event>')
XES = ('<?xml version="1.0"?><log><trace><string key="concept:name" value="c1"/>'
       '{events}</trace></log>')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                    for i in range(2, 10)).replace("&lol1;", "&lol;")
          + '<!ENTITY lol1 "&lol;">]><log><trace><string key="concept:name" '
            'value="&lol9;"/></trace></log>')


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    (d / "adir").mkdir()
    (d / "schemas").mkdir()
    (d / "notdb.db").write_text("not a database at all\n")
    (d / "empty.db").write_bytes(b"")
    foreign = sqlite3.connect(d / "foreign.db")
    foreign.execute("CREATE TABLE t (a)")
    foreign.commit()
    foreign.close()
    open_store(f"sqlite:///{d / 'good.db'}").close()
    (d / "bad_int.xes").write_text(XES.format(events=XES_EVENT.format(
        extra='<int key="amount" value="zz"/>')))
    (d / "truncated.xes").write_text(XES.format(events=XES_EVENT.format(extra=""))[:-20])
    (d / "xxe.xes").write_text(
        '<?xml version="1.0"?><!DOCTYPE log [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<log><trace><string key="concept:name" value="&x;"/></trace></log>')
    (d / "laughs.xes").write_text(LAUGHS)
    (d / "bad.json").write_text("{not json")
    (d / "ok.json").write_text('{"type": "object"}')
    (d / "bad.yaml").write_text("asyncapi: [\n  - x: {\n")
    (d / "bad.toml").write_text("store = [\n")
    return d


OK_STORE = "sqlite:///{d}/good.db"
BAD_INPUT = [
    # files
    ("xes-int-not-an-int", ["flows", "import", "{d}/bad_int.xes", "--store", OK_STORE],
     "not a valid int"),
    ("xes-truncated", ["flows", "import", "{d}/truncated.xes", "--store", OK_STORE],
     "truncated.xes"),
    ("xes-xxe", ["flows", "import", "{d}/xxe.xes", "--store", OK_STORE], "xxe.xes"),
    ("xes-billion-laughs", ["flows", "import", "{d}/laughs.xes", "--store", OK_STORE],
     "laughs.xes"),
    ("xes-missing", ["flows", "import", "{d}/missing.xes", "--store", OK_STORE],
     "No such file"),
    ("xes-folder", ["flows", "import", "{d}/adir", "--store", OK_STORE], "adir"),
    ("schema-not-json", ["schemas", "check", "{d}/bad.json", "{d}/ok.json"], "bad.json"),
    ("schema-folder", ["schemas", "register", "X", "{d}/adir"], "adir"),
    ("asyncapi-bad-yaml", ["catalog", "import", "{d}/bad.yaml", "--store", OK_STORE],
     "bad.yaml"),
    ("asyncapi-missing", ["catalog", "import", "{d}/missing.json", "--store", OK_STORE],
     "missing.json"),
    ("export-into-a-folder", ["catalog", "export", "--format", "json", "--out", "{d}/adir",
                              "--store", OK_STORE], "adir"),
    ("config-docs-into-a-folder", ["config", "docs", "--out", "{d}/adir"], "adir"),
    # store URLs
    ("store-folder-read", ["flows", "stuck", "--store", "sqlite:///{d}/adir"], "is a folder"),
    ("store-folder-write", ["flows", "import", "{d}/bad_int.xes", "--store",
                            "sqlite:///{d}/adir"], "is a folder"),
    ("store-folder-collect", ["collect", "--store", "sqlite:///{d}/adir", "--metrics-port",
                              "0"], "is a folder"),
    ("store-folder-otlp", ["otlp", "--store", "sqlite:///{d}/adir"], "is a folder"),
    ("store-folder-timeline", ["timeline", "c1", "--store", "sqlite:///{d}/adir"],
     "is a folder"),
    ("store-folder-messages", ["messages", "--store", "sqlite:///{d}/adir"], "is a folder"),
    ("store-folder-deadletters", ["deadletters", "list", "--store", "sqlite:///{d}/adir"],
     "is a folder"),
    ("store-folder-propose", ["schemas", "propose", "X", "--store", "sqlite:///{d}/adir"],
     "is a folder"),
    ("store-not-sqlite-read", ["flows", "stuck", "--store", "sqlite:///{d}/notdb.db"],
     "not a SQLite database"),
    ("store-not-sqlite-write", ["catalog", "report", "--store", "sqlite:///{d}/notdb.db"],
     "not a SQLite database"),
    ("store-empty-file", ["timeline", "c1", "--store", "sqlite:///{d}/empty.db"],
     "empty file"),
    ("store-foreign-sqlite", ["flows", "stuck", "--store", "sqlite:///{d}/foreign.db"],
     "not a Choreoscope store"),
    ("store-missing", ["flows", "stuck", "--store", "sqlite:///{d}/nowhere.db"],
     "does not exist"),
    ("store-under-a-file", ["collect", "--store", "sqlite:///{d}/notdb.db/x.db",
                            "--metrics-port", "0"], "cannot create its folder"),
    ("store-scheme", ["flows", "stuck", "--store", "mysql://x"], "store"),
    ("store-migrate-from-folder", ["store", "migrate", "--from", "sqlite:///{d}/adir", "--to",
                                   "sqlite:///{d}/copy.db"], "is a folder"),
    ("store-migrate-to-not-sqlite", ["store", "migrate", "--from", OK_STORE, "--to",
                                     "sqlite:///{d}/notdb.db"], "not a SQLite database"),
    # flags and arguments
    ("flag-time", ["flows", "stuck", "--at", "yesterday", "--store", OK_STORE], "--at"),
    ("flag-int", ["flows", "variants", "--limit", "x"], "--limit"),
    ("flag-negative-limit", ["flows", "variants", "--limit", "-1"], "--limit"),
    ("flag-negative-samples", ["catalog", "entries", "--samples", "-1"], "--samples"),
    ("flag-negative-idle", ["collect", "--until-idle", "-1"], "--until-idle"),
    ("flag-id", ["deadletters", "show", "abc"], "ID"),
    ("flag-choice", ["catalog", "export", "--format", "xml"], "--format"),
    ("flag-window", ["catalog", "export", "--format", "json", "--last", "3x", "--store",
                     OK_STORE], "--last"),
    ("flag-mode", ["schemas", "check", "--mode", "SIDEWAYS", "{d}/ok.json", "{d}/ok.json"],
     "--mode"),
    ("flag-flows", ["simulate", "--flows", "-3"], "--flows"),
    ("flag-idle", ["collect", "--until-idle", "soon"], "--until-idle"),
    ("flag-listen", ["otlp", "--listen", "nothost"], "--listen"),
    ("flag-log-level", ["--log-level", "loud", "flows", "stuck"], "--log-level"),
    ("flag-unknown", ["flows", "stuck", "--stroe", "x"], "--stroe"),
    ("command-unknown", ["nosuchcommand"], "nosuchcommand"),
    ("command-no-action", ["flows"], "ACTION"),
    # configuration
    ("config-missing", ["--config", "{d}/missing.toml", "flows", "stuck"], "--config"),
    ("config-not-toml", ["flows", "stuck", "--config", "{d}/bad.toml"], "valid TOML"),
    ("config-start", ["collect", "--start", "yesterday"], "kafka.start"),
    ("config-port", ["dashboard", "--port", "0"], "dashboard.port"),
    ("config-env", ["flows", "stuck"], "CHOREOSCOPE_*"),
]
NEGATIVE_ANSWER = [
    ("no-such-flow", ["flows", "show", "nope", "--store", OK_STORE], "nope"),
    ("no-such-dead-letter", ["deadletters", "show", "99", "--store", OK_STORE], "99"),
    ("nothing-for-correlation-id", ["timeline", "nope", "--store", OK_STORE], "nope"),
]


def _run(inputs: Path, argv: list[str], name: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    env["CHOREOSCOPE_SCHEMAS_DIR"] = str(ROOT / "schemas")
    env["CHOREOSCOPE_KAFKA__BOOTSTRAP_SERVERS"] = "127.0.0.1:9"  # never reached
    if name == "config-env":
        env["CHOREOSCOPE_KAFKA__TOPICS"] = "[not json"
    args = [a.replace("{d}", str(inputs)) for a in argv]
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=inputs, env=env)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("choreoscope"), lines[0]
    return lines[0]


@pytest.mark.parametrize(("name", "argv", "names"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_exits_2_with_one_line(inputs: Path, name: str, argv: list[str],
                                         names: str) -> None:
    done = _run(inputs, argv, name)
    line = _one_line(done)
    assert done.returncode == 2, done.stderr
    assert names in line


@pytest.mark.parametrize(("name", "argv", "names"), NEGATIVE_ANSWER,
                         ids=[c[0] for c in NEGATIVE_ANSWER])
def test_a_valid_question_with_a_negative_answer_exits_1(inputs: Path, name: str,
                                                         argv: list[str], names: str) -> None:
    done = _run(inputs, argv, name)
    assert done.returncode == 1, done.stderr
    assert names in _one_line(done)


def test_a_read_only_store_file_is_refused_by_a_writing_command(inputs: Path,
                                                                tmp_path: Path) -> None:
    """Root ignores file modes: the command then runs without CAP_DAC_OVERRIDE."""
    store = tmp_path / "ro.db"
    shutil.copy(inputs / "good.db", store)
    store.chmod(0o444)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "setpriv (util-linux) drops root's override of file modes"
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    env = {**os.environ, "CHOREOSCOPE_SCHEMAS_DIR": str(ROOT / "schemas")}
    done = subprocess.run(
        [*prefix, *CLI, "flows", "import", str(inputs / "bad_int.xes"), "--store",
         f"sqlite:///{store}"], capture_output=True, text=True, timeout=120, check=False,
        env=env)
    line = _one_line(done)
    assert done.returncode == 2, done.stderr
    assert str(store) in line
    assert "read-only" in line
