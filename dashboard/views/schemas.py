"""Schema compatibility: per subject its versions, the changes between any two of them with the
verdict per mode, and live validation results per producer and schema version."""

from __future__ import annotations

import streamlit as st

from catalog.changes import Mode, Policy
from catalog.exceptions import CatalogError
from catalog.registry import Registry, Subject
from collector.settings import load_settings
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.catalog_queries import (
    MODES,
    compare_versions,
    recent_failures,
    registry_of,
    validation_by_producer,
)
from dashboard.markup import md
from dashboard.table import show


@st.cache_data(ttl=30, show_spinner=False)
def _remote_mode(url: str, subject: str) -> str:
    from collector.registry_remote import RemoteRegistry

    remote = RemoteRegistry.from_settings(load_settings().registry)
    return remote.mode(subject) if remote is not None else ""


def _registry() -> tuple[Registry, dict[int, list[tuple[str, int]]]] | None:
    """The registry (the schema folder, or ``[registry] url``) and its schema ids."""
    from collector.exceptions import ConfigError
    from collector.registry_remote import RemoteRegistry, fetch_registry
    from collector.validate import ids_by_number

    settings = load_settings()
    conf = settings.registry
    try:
        remote = RemoteRegistry.from_settings(conf)
        if remote is not None:
            base = Registry(mode=Mode(conf.mode), policy=Policy(conf.policy),
                            default_draft=conf.default_draft)
            return fetch_registry(remote, base)
        registry = registry_of(settings.schemas_dir, Mode(conf.mode), Policy(conf.policy),
                               conf.default_draft)
        return registry, ids_by_number(settings.schemas_dir / "events", registry)
    except (CatalogError, ConfigError) as exc:
        where = conf.url or settings.schemas_dir
        st.error(f"Cannot read the schemas in {md(where)}: {md(exc)}")
        return None


def _versions(subject: Subject) -> None:
    st.dataframe([{"version": f"v{v.version}", "title": v.schema.get("title", ""),
                   "description": v.description or "", "owner": v.owner or "",
                   "topic": v.topic or "", "file": v.source} for v in subject.versions],
                 hide_index=True, width="stretch")


def _diff(registry: Registry, subject: Subject) -> None:
    numbers = [v.version for v in subject.versions]
    if len(numbers) < 2:
        st.caption(f"{md(subject.name)} has one version: nothing to compare yet.")
        return
    c1, c2 = st.columns(2)
    old = c1.selectbox("From version", numbers, index=len(numbers) - 2,
                       key=f"schemas_old_{subject.name}", format_func=lambda v: f"v{v}")
    new = c2.selectbox("To version", numbers, index=len(numbers) - 1,
                       key=f"schemas_new_{subject.name}", format_func=lambda v: f"v{v}")
    diff = compare_versions(registry, subject.name, old, new)
    verdict = diff.verdicts.get(diff.mode, True)
    st.markdown(f"Subject mode **{diff.mode.value}**, policy **{diff.policy.value}**: v{new} "
                f"after v{old} is **{'compatible' if verdict else 'breaking'}** under it.")
    url = load_settings().registry.url
    if url:
        st.markdown(f"The registry at {md(url)} enforces **{md(_remote_mode(url, subject.name))}**"
                    " for this subject (Choreoscope's verdicts per mode below).")
    st.dataframe([{"mode": m.value, "verdict": "compatible" if diff.verdicts[m] else "breaking"}
                  for m in MODES], hide_index=True)
    st.caption("Transitive modes check the newer version against every version before it.")
    rows = diff.change_rows
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption("No changes between these versions.")
    left, right = st.columns(2)
    for col, number in ((left, old), (right, new)):
        with col.expander(f"v{number} document"):
            st.json(subject.version(number).schema, expanded=True)


def _validation(store: Store, subject: str, latest: int,
                ids: dict[int, list[tuple[str, int]]]) -> None:
    st.subheader("Live validation")
    st.caption("Events per producer and the schema version their dataschema names (the "
               "latest when they name none), since the store began, as of the collector's last "
               "traffic rollup (every few seconds).")
    rows = validation_by_producer(store, subject, latest, ids)
    if not rows:
        st.caption(f"No {md(subject)} events validated yet.")
        return
    show(rows, key="schemas_validation", columns={
        "producer": "Producer", "schema version": "Schema version", "events seen": "Events",
        "failing events": "Failing events", "violations": "Violations",
        "last failure": "Last failure (UTC)"}, width="stretch")
    producers = sorted({r["producer"] for r in rows if r["failing events"]})
    if not producers:
        st.success(f"No {md(subject)} event has failed validation.")
        return
    producer = st.selectbox("Recent failures of", ["", *producers],
                            key=f"schemas_producer_{subject}",
                            format_func=lambda p: p or "every producer")
    show(recent_failures(store, subject, producer or None), key="schemas_failures", columns={
        "time": "Time (UTC)", "producer": "Producer", "schema version": "Schema version",
        "field": "Field", "rule": "Rule", "message": "Message", "event id": "Event id"},
        width="stretch")


def _page(store: Store) -> None:
    loaded = _registry()
    if loaded is None:
        return
    registry, ids = loaded
    names = [s.name for s in registry]
    if not names:
        st.info(f"No schemas registered under {md(load_settings().schemas_dir / 'events')} yet.")
        return
    wanted = st.query_params.get("subject")
    count = {s.name: len(s.versions) for s in registry}
    # by default the subject with the most versions: where there is something to compare
    index = names.index(wanted) if wanted in names else names.index(
        max(names, key=lambda n: count[n]))
    name = st.selectbox("Subject (event type)", names, index=index, key="schemas_subject",
                        format_func=lambda n: f"{n} ({count[n]} version{'s' * (count[n] > 1)})")
    if name != wanted:
        st.query_params["subject"] = name
    subject = registry.subject(name)
    _versions(subject)
    _diff(registry, subject)
    _validation(store, name, max(v.version for v in subject.versions), ids)
    st.page_link("views/event.py", label="Its catalog page", query_params={"type": name},
                 icon=":material/description:")


st.title("Schema compatibility")
store = store_or_help()
if store is not None:
    _page(store)
