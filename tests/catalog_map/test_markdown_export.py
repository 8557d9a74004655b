"""``choreoscope catalog export --format markdown --out DIR``: the catalog's pages as Markdown
files with relative links and an index; names from traffic stay text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalog.eventmap import build_event_map
from catalog.markdown import escape, file_name, render_catalog
from catalog.metadata import SamplePayload, SchemaInfo
from catalog.traffic import EdgeKind, EdgeTraffic
from collector.cli import main
from tests.catalog_map.conftest import ROOT
from tests.catalog_map.test_cli import run

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PHISH = "[Re-login](http://127.0.0.1:18999/phish)"
LINK = re.compile(r"\]\(([^)\s]+)\)")


PAGE = re.compile(r"(\.\./)?((events|services|domains)/)?[A-Za-z0-9._%-]+\.md")


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('markdown') / 'sim.db'}"
    assert main(["simulate", "--flows", "150", "--seed", "5", "--store", url,
                 "--fault-rate", "unknown-type=0.1"]) == 0
    return url


def _links(text: str) -> list[str]:
    """The link targets outside fenced code blocks."""
    outside = re.sub(r"^(`{3,})json\n.*?^\1$", "", text, flags=re.S | re.M)
    outside = re.sub(r"(`+).+?\1", "", outside)  # inline code: shown as written
    return LINK.findall(outside)


def test_every_page_links_only_to_pages_that_exist(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "catalog"
    code, said, _ = run(capsys, "export", "--format", "markdown", "--out", str(out),
                        "--store", store_url, "--schemas-dir", str(ROOT / "schemas"))
    assert code == 0
    assert said.startswith(f"{out}: ")
    pages = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.md")}
    assert "index.md" in pages
    assert "events/OrderPlaced.md" in pages
    assert "services/order-service.md" in pages
    assert "domains/orders.md" in pages
    for name, text in pages.items():
        for href in _links(text):
            target = (out / name).parent / href
            assert target.resolve().is_file(), f"{name} links to {href}, which is missing"
    order = pages["events/OrderPlaced.md"]
    assert "[order\\-service](../services/order-service.md)" in order
    assert "| \\/channel | string | no |" in order  # the field table of v2
    assert "### v1 → v2: compatible under BACKWARD" in order
    assert "```json\n{\n  " in order  # pretty-printed samples
    assert "starts it" in order
    index = pages["index.md"]
    assert "[OrderPlaced](events/OrderPlaced.md)" in index
    assert "choreoscope schemas propose" in index  # the simulated unknown types


def test_markdown_export_needs_a_folder(store_url: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "export", "--format", "markdown", "--store", store_url)
    assert code == 2
    assert "--out DIR" in err
    afile = tmp_path / "file"
    afile.write_text("x")
    code, _, err = run(capsys, "export", "--format", "markdown", "--out", str(afile),
                       "--store", store_url)
    assert code == 2
    assert "not a folder" in err


def test_names_from_traffic_stay_text_and_get_safe_file_names() -> None:
    traffic = [EdgeTraffic(EdgeKind.PRODUCE, PHISH, "../../etc/passwd", "t", 3, T0, T0),
               EdgeTraffic(EdgeKind.PRODUCE, "svc -- x", "Ok|Type", "t", 3, T0, T0)]
    schemas = [SchemaInfo("Ok|Type", 1, {"type": "object", "properties": {
        "a": {"type": "string", "description": "pipe | and [link](http://x.y)"}}})]
    samples = [SamplePayload("Ok|Type", "svc -- x", "1", T0, {"a": "```\n[x](http://e)"})]
    pages = render_catalog(build_event_map(traffic), schemas, samples=samples)
    assert all(".." not in name.split("/") for name in pages)
    assert all(re.fullmatch(r"[A-Za-z0-9._/-]+", name) for name in pages)
    hrefs = [h for text in pages.values() for h in _links(text)]
    assert hrefs
    assert [h for h in hrefs if not PAGE.fullmatch(h)] == []  # only links to our pages
    service = pages[f"services/{file_name(PHISH)}"]
    assert service.startswith(f"# `{PHISH}`")
    event = pages[f"events/{file_name('Ok|Type')}"]
    assert "| \\/a | string | no |  |  | pipe \\| and `[link](http://x.y)` |" in event
    assert "````json" in event  # a fence longer than the backticks inside the sample


def test_escape_reads_back_as_the_text() -> None:
    text = "a -- b *c* [d](e) `f` <g> | h"
    assert re.sub(r"\\(.)", r"\1", escape(text)) == text
    assert file_name("OrderPlaced") == "OrderPlaced.md"
    assert file_name("a/b") != file_name("a_b")


def test_empty_store_exports_an_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    assert main(["simulate", "--flows", "1", "--seed", "1", "--store", url]) == 0
    code, _, _ = run(capsys, "export", "--format", "markdown", "--out", str(tmp_path / "o"),
                     "--store", url, "--schemas-dir", str(ROOT / "schemas"), "--samples", "0")
    assert code == 0
    assert (tmp_path / "o" / "index.md").read_text().startswith("# Event catalog")


def test_catalog_search_on_the_command_line(store_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    schemas = str(ROOT / "schemas")
    code, out, _ = run(capsys, "search", "field:customer_id", "owner:checkout", "--store",
                       store_url, "--schemas-dir", schemas)
    assert code == 0
    assert "OrderPlaced: field /customer_id (v1, v2); owner team-checkout" in out.splitlines()
    code, out, _ = run(capsys, "search", "producer:order-service", "--json", "--store",
                       store_url, "--schemas-dir", schemas)
    found = {json.loads(line)["event_type"] for line in out.splitlines()}
    assert code == 0
    assert "OrderPlaced" in found
    code, out, _ = run(capsys, "search", "no-such-thing", "--store", store_url,
                       "--schemas-dir", schemas)
    assert (code, out) == (1, "")
