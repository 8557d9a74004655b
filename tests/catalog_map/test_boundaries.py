"""The catalog takes values: no module of the ``catalog`` package imports the collector (its
store included) or the dashboard, at module level or inside a function."""

from __future__ import annotations

import ast

import pytest

from tests.catalog_map.conftest import ROOT

MODULES = sorted((ROOT / "catalog").rglob("*.py"))


def imported(path: object) -> set[str]:
    tree = ast.parse((ROOT / str(path)).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_there_are_catalog_modules() -> None:
    assert len(MODULES) > 5


@pytest.mark.parametrize("path", [p.relative_to(ROOT) for p in MODULES], ids=str)
def test_catalog_imports_neither_collector_nor_dashboard(path: object) -> None:
    forbidden = {n for n in imported(path) if n.split(".")[0] in ("collector", "dashboard")}
    assert forbidden == set()
