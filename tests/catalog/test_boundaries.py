"""The catalog is given data as values: it never imports the collector, the store or the UI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CATALOG = Path(__file__).parents[2] / "catalog"
FORBIDDEN = ("collector", "dashboard", "streamlit", "kafka", "sqlite3")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(CATALOG.glob("*.py")), ids=lambda p: p.name)
def test_catalog_module_imports_no_io_package(path: Path) -> None:
    bad = {name for name in _imports(path) if name.split(".")[0] in FORBIDDEN}
    assert bad == set()
