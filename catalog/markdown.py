"""The catalog's pages as Markdown files, so teams can publish the catalog next to their code.

`render_catalog` gives ``{relative path: text}``: ``index.md``, ``events/<Type>.md``,
``services/<name>.md`` and ``domains/<name>.md`` for every event type, service and domain seen
or declared, linked to each other with relative links. The pages hold what the dashboard's
Event, Service and Domain pages show (`catalog.pages`). Pure: the caller writes the files.

Names come from traffic, so they are data, never markup: `escape` backslash-escapes every ASCII
punctuation character (CommonMark's escapes; also safe in GitHub's table cells), and file names
keep only letters, digits, ``.``, ``_`` and ``-`` (with a short hash when anything was dropped,
so two names never share a file).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from urllib.parse import quote

from catalog.changes import Mode, Policy
from catalog.compatibility import check
from catalog.entries import CatalogEntry, build_entries
from catalog.eventmap import EventMap
from catalog.metadata import SamplePayload, SchemaInfo
from catalog.pages import (
    Attention,
    EventPage,
    FlowPlace,
    ServiceEdge,
    build_domain_page,
    build_event_page,
    build_service_page,
    domains_of,
)

__all__ = ["code_span", "escape", "escape_words", "file_name", "render_catalog"]

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_LINK_LIKE = re.compile(r"://|@|www\.|^(?:mailto|xmpp):", re.IGNORECASE)
"""A word GFM would turn into a link even with every character escaped (its autolink literals
run on the parsed text): URLs, ``www.`` names, e-mail addresses, ``mailto:`` and the like."""


def code_span(text: str) -> str:
    """Inline code holding ``text`` exactly: no backtick inside can close it early."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    return f"{fence} {text} {fence}" if runs else f"{fence}{text}{fence}"


def escape_words(text: str, literal: Callable[[str], bool] = lambda _: False) -> str:
    """``text`` as Markdown that reads exactly as written: every ASCII punctuation character
    backslash-escaped, and each whitespace-separated word that would still become markup
    (link-like words, and those ``literal`` picks) put in inline code. Whitespace is kept."""
    out = []
    for part in re.split(r"(\s+)", text):
        if not part or part.isspace():
            out.append(part)
        elif _LINK_LIKE.search(part) or literal(part):
            out.append(code_span(part))
        else:
            out.append(_PUNCTUATION.sub(r"\\\1", part))
    return "".join(out)


def escape(value: object) -> str:
    """``value`` as Markdown text on one line that reads exactly as ``str(value)``."""
    return escape_words(" ".join(str(value).splitlines()))


def file_name(name: str) -> str:
    """A file name for a page: the name itself when it is safe, else a cleaned name and a hash."""
    safe = _UNSAFE.sub("_", name).strip(".") or "_"
    if safe == name:
        return name + ".md"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{safe[:80]}-{digest}.md"


def _href(folder: str, name: str, here: str) -> str:
    prefix = "" if here == folder else ("../" if here else "") + folder + "/"
    return prefix + quote(file_name(name))


def _link(folder: str, name: str, here: str) -> str:
    return f"[{escape(name)}]({_href(folder, name, here)})"


def _links(folder: str, names: Iterable[str], here: str) -> str:
    shown = [_link(folder, n, here) for n in names]
    return ", ".join(shown) if shown else "\\-"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _cell(value: object) -> str:
    """A table cell: GFM splits cells at a pipe even inside inline code, unless escaped."""
    text = value if isinstance(value, _Raw) else escape(value)
    return re.sub(r"(?<!\\)\|", r"\\|", text)


class _Raw(str):
    """Markdown built here (links), put into a table cell as it is."""

    __slots__ = ()


def _when(t: datetime | None) -> str:
    return "" if t is None else f"{t:%Y-%m-%d %H:%M:%S} UTC"


def _rate(rate: float | None) -> str:
    if rate is None:
        return ""
    return f"{rate:.3g}/min" if rate >= 1 else f"{rate * 60:.3g}/h"


def _attention(notes: Iterable[Attention], here: str) -> list[str]:
    lines = []
    for n in notes:
        lines.append(f"> **{_link('events', n.event_type, here)}** is {escape(n.problem)}: "
                     f"{escape(n.action)}.")
        if n.command:
            lines.append(f"> {code_span(n.command)}")
        lines.append("")
    return lines


def _fields(page: EventPage) -> list[str]:
    lines: list[str] = []
    for number in sorted(page.fields):
        lines += [f"### v{number}", ""]
        lines += _table(["field", "type", "required", "format", "constraints", "description",
                         "since"],
                        [(h.field.pointer, h.field.type, "yes" if h.field.required else "no",
                          h.field.format, h.field.constraints, h.field.description,
                          f"v{h.since}") for h in page.fields[number]])
        lines.append("")
    return lines


def _changes(page: EventPage, mode: Mode, policy: Policy) -> list[str]:
    numbers = sorted(page.schemas)
    lines: list[str] = []
    for old, new in itertools.pairwise(numbers):
        report = check(page.schemas[old], page.schemas[new], Mode.BACKWARD, policy)
        verdict = "compatible" if report.verdicts.get(mode, True) else "breaking"
        lines += [f"### v{old} → v{new}: {verdict} under {mode.value}", ""]
        lines += _table(["change", "path", "compatible"],
                        [(c.type.value, c.path, "yes" if c.compatible else "no")
                         for c in report.changes]) if report.changes else ["No changes."]
        lines.append("")
    return lines


def _event(page: EventPage, mode: Mode, policy: Policy) -> str:
    e, here = page.entry, "events"
    lines = [f"# {escape(e.event_type)}", ""]
    if e.description:
        lines += [escape(e.description), ""]
    lines += _attention(page.attention, here)
    domain = _link("domains", e.domain, here) if e.domain else "\\-"
    lines += [f"- **Owner**: {escape(e.owner or '-')}", f"- **Domain**: {domain}",
              f"- **Producers**: {_links('services', e.producers, here)}",
              f"- **Consumers**: {_links('services', e.consumers, here)}",
              f"- **Topics**: {escape(', '.join(e.topics) or '-')}",
              f"- **Rate**: {escape(_rate(page.rate_per_min) or '-')}; **events** {e.count:,}; "
              f"**last seen** {escape(_when(e.last_seen) or '-')}"]
    if e.declared_producers or e.declared_consumers:
        lines.append(f"- **Declared**: producers {_links('services', e.declared_producers, here)}"
                     f"; consumers {_links('services', e.declared_consumers, here)}")
    lines += ["", "## Schema", ""]
    lines += _fields(page) if page.fields else ["No schema registered.", ""]
    if page.inferred:
        lines += [f"Fields its {page.inferred_from} newest stored payloads carry (inferred: "
                  "what `choreoscope schemas propose` starts from):", ""]
        lines += _table(["field", "type", "required", "format", "constraints"],
                        [(f.pointer, f.type, "yes" if f.required else "no", f.format,
                          f.constraints) for f in page.inferred])
        lines.append("")
    if len(page.schemas) > 1:
        lines += ["## Changes between versions", "", *_changes(page, mode, policy)]
    lines += ["## Flows", ""]
    lines += _table(["flow type", "its place"], [(f.flow_type, f.place) for f in page.flows]
                    ) if page.flows else ["Named by no flow definition."]
    lines += ["", "## Newest samples", "", "As stored: redacted by the collector under the "
              "capture policy.", ""]
    for s in page.samples:
        body = json.dumps(s.data, indent=2, ensure_ascii=False)
        fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
        lines += [f"{escape(s.source)} · {escape(s.event_id)} · {escape(_when(s.occurred_at))}",
                  "", f"{fence}json", body, fence, ""]
    if not page.samples:
        lines += ["No payloads captured.", ""]
    return "\n".join(lines)


def _edge_rows(edges: Sequence[ServiceEdge], here: str) -> list[tuple[object, ...]]:
    return [(_Raw(_link("events", e.event_type, here)),
             "observed" if e.observed else "declared, never seen", f"{e.count:,}",
             _rate(e.rate_per_min), e.violations, ", ".join(e.topics), _when(e.last_seen))
            for e in edges]


_EDGE_HEADER = ["event type", "seen", "events", "rate", "violations", "topics", "last seen"]


def _service(event_map: EventMap, name: str) -> str:
    page = build_service_page(event_map, name)
    here = "services"
    if page is None:
        return ""
    lines = [f"# {escape(name)}", "", *_attention(page.attention, here)]
    lines += [f"- **Domains**: {_links('domains', page.domains, here)}",
              f"- **Topics**: {escape(', '.join(page.topics) or '-')}",
              f"- **Flows**: {escape(', '.join(page.flows) or '-')}",
              f"- **Services one event away**: {_links('services', page.neighbours, here)}", ""]
    for title, edges in (("Produces", page.produces), ("Consumes", page.consumes)):
        lines += [f"## {title}", ""]
        lines += _table(_EDGE_HEADER, _edge_rows(edges, here)) if edges else ["Nothing."]
        lines.append("")
    return "\n".join(lines)


def _entry_rows(entries: Iterable[CatalogEntry], here: str) -> list[tuple[object, ...]]:
    return [(_Raw(_link("events", e.event_type, here)), e.owner,
             ", ".join(f"v{v}" for v in e.versions),
             _Raw(_links("services", e.producers, here)),
             _Raw(_links("services", e.consumers, here)), f"{e.count:,}",
             "yes" if e.documented else "no") for e in entries]


_ENTRY_HEADER = ["event type", "owner", "versions", "producers", "consumers", "events",
                 "documented"]


def _domain(event_map: EventMap, name: str) -> str:
    page = build_domain_page(event_map, name)
    here = "domains"
    if page is None:
        return ""
    lines = [f"# Domain {escape(name)}", "", *_attention(page.attention, here)]
    lines += [f"- **Services**: {_links('services', page.services, here)}",
              f"- **Topics**: {escape(', '.join(page.topics) or '-')}",
              f"- **Flows**: {escape(', '.join(page.flows) or '-')}", "", "## Event types", ""]
    lines += _table(_ENTRY_HEADER, _entry_rows(page.entries, here))
    return "\n".join([*lines, ""])


def _index(event_map: EventMap, entries: Sequence[CatalogEntry],
           notes: Sequence[Attention]) -> str:
    lines = ["# Event catalog", "",
             f"{len(entries)} event types, {len(event_map.nodes('service'))} services, "
             f"{len(domains_of(event_map))} domains.", ""]
    if notes:
        lines += ["## Needs attention", "", *_attention(notes, "")]
    lines += ["## Event types", "", *_table(_ENTRY_HEADER, _entry_rows(entries, ""))]
    lines += ["", "## Services", "", _links("services", event_map.nodes("service"), ""),
              "", "## Domains", "", _links("domains", domains_of(event_map), ""), ""]
    return "\n".join(lines)


def render_catalog(event_map: EventMap, schemas: Iterable[SchemaInfo],
                   places: Mapping[str, Sequence[FlowPlace]] | None = None,
                   samples: Iterable[SamplePayload] = (), *,
                   mode: Mode = Mode.BACKWARD, policy: Policy = Policy.STRICT,
                   shown: int = 3) -> dict[str, str]:
    """Every page, by relative path (``index.md``, ``events/OrderPlaced.md`` ...)."""
    schemas = tuple(schemas)
    by_type: dict[str, list[SamplePayload]] = {}
    for s in samples:
        by_type.setdefault(s.event_type, []).append(s)
    entries = build_entries(event_map)
    pages: dict[str, str] = {}
    notes: list[Attention] = []
    for e in entries:
        page = build_event_page(event_map, e.event_type, schemas, places,
                                by_type.get(e.event_type, ()), shown=shown)
        if page is not None:
            notes += page.attention
            pages[f"events/{file_name(e.event_type)}"] = _event(page, mode, policy)
    for name in event_map.nodes("service"):
        pages[f"services/{file_name(name)}"] = _service(event_map, name)
    for name in domains_of(event_map):
        pages[f"domains/{file_name(name)}"] = _domain(event_map, name)
    pages["index.md"] = _index(event_map, entries, notes)
    return pages
