"""The command line explains itself: --version, help text for every option of every command,
and help written for users (no RST backticks, no module paths)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from collector.cli import build_parser

CLI = Path(sys.executable).parent / "choreoscope"
MODULE_PATH = re.compile(r"\b(collector|catalog|dashboard)\.[a-z_]+")


def _parsers(parser: argparse.ArgumentParser, path: str = "choreoscope"
             ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def _options() -> list[tuple[str, argparse.Action]]:
    return [(path, a) for path, p in _parsers(build_parser()) for a in p._actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)]


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{path} {a.option_strings[0] if a.option_strings else a.dest}"
               for path, a in _options() if not (a.help or "").strip()]
    assert missing == []


def test_help_is_written_for_users() -> None:
    texts = [(path, a.help or "") for path, a in _options()]
    texts += [(path, (p.description or "") + (p.epilog or ""))
              for path, p in _parsers(build_parser())]
    texts += [(path, c.help or "") for path, p in _parsers(build_parser())
              for a in p._actions if isinstance(a, argparse._SubParsersAction)
              for c in a._choices_actions]
    wrong = [(path, t) for path, t in texts if "`" in t or MODULE_PATH.search(t)]
    assert wrong == []


@pytest.mark.parametrize("command", [
    ["collect", "--help"], ["deadletters", "list", "--help"], ["messages", "--help"]])
def test_named_options_say_what_they_do(command: list[str]) -> None:
    out = subprocess.run([str(CLI), *command], capture_output=True, text=True,
                         check=True).stdout
    assert "`" not in out
    if command[0] == "collect":
        assert re.search(r"--bootstrap-servers \S+\s+\S", out), out
    if command[:2] == ["deadletters", "list"]:
        assert re.search(r"--limit \S+\s+at most", out), out


def test_version() -> None:
    done = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"choreoscope {version('choreoscope')}"
