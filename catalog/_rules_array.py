"""Compatibility rules for arrays: item schemas, tuples under open/closed/partially open models.

Draft-07 spells a tuple ``items: [...]`` with ``additionalItems``; 2020-12 spells it
``prefixItems: [...]`` with ``items``. Both are read into one shape, so a schema moved from one
draft to the other compares by meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from catalog._diff import Differ, Node, RawChange, is_empty
from catalog._rules import limits
from catalog._rules_object import extra
from catalog.changes import ChangeType as T

__all__ = ["array_limits", "contains", "items", "unevaluated_items"]


@dataclass(frozen=True, slots=True)
class _Items:
    tuple_kw: str | None
    """The keyword holding the tuple (``items`` or ``prefixItems``), None without a tuple."""
    size: int
    extra_kw: str
    """The keyword for items past the tuple (``additionalItems`` or ``items``)."""

    def keyword(self, node: Node) -> str:
        """``extra_kw``, or ``unevaluatedItems`` when only it is given: it closes or constrains
        the items past the tuple the same way."""
        if not node.has(self.extra_kw) and node.has("unevaluatedItems"):
            return "unevaluatedItems"
        return self.extra_kw

    def extra_value(self, node: Node) -> Any:
        return node.get(self.keyword(node))

    def model(self, node: Node) -> str:
        value = self.extra_value(node)
        if value is None or value is True or (isinstance(value, dict) and is_empty(value)):
            return "open"
        return "closed" if value is False else "partial"

    def extra_node(self, node: Node) -> Node:
        kw = self.keyword(node)
        return node.at(kw) if node.has(kw) else Node(True, node.resolver)


def _shape(node: Node) -> _Items:
    if isinstance(node.get("prefixItems"), list):
        return _Items("prefixItems", len(node.get("prefixItems")), "items")
    if isinstance(node.get("items"), list):
        return _Items("items", len(node.get("items")), "additionalItems")
    return _Items(None, 0, "items")


def items(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """``items`` as one schema, or a tuple with its additional items."""
    o, n = _shape(old), _shape(new)
    if o.tuple_kw is None and n.tuple_kw is None:
        yield from d.sub(old, new, "items")
        if old.has("additionalItems") or new.has("additionalItems"):
            # compared even without a tuple (where draft-07 ignores it), as the reference does
            spelled = _Items("items", 0, "additionalItems")
            yield from _additional(d, old, new, spelled, spelled)
        return
    yield from _additional(d, old, new, o, n)
    for i in range(max(o.size, n.size)):
        if i < o.size and i < n.size:
            assert o.tuple_kw is not None
            assert n.tuple_kw is not None
            yield from d.compare(old.at(o.tuple_kw, i), new.at(n.tuple_kw, i), (n.tuple_kw, i))
        elif i < n.size:
            assert n.tuple_kw is not None
            yield _item_added(d, old, new.at(n.tuple_kw, i), o), (n.tuple_kw, i)
        else:
            assert o.tuple_kw is not None
            yield _item_removed(d, old.at(o.tuple_kw, i), new, n), (o.tuple_kw, i)


def _additional(d: Differ, old: Node, new: Node, o: _Items, n: _Items) -> Iterator[RawChange]:
    om, nm = o.model(old), n.model(new)
    path = (n.extra_kw,)
    if om == nm == "open":
        return
    if (om == "closed") != (nm == "closed"):
        yield (T.ADDITIONAL_ITEMS_ADDED if om == "closed" else T.ADDITIONAL_ITEMS_REMOVED), path
    elif om == "open":
        yield T.ADDITIONAL_ITEMS_NARROWED, path
    elif nm == "open":
        yield T.ADDITIONAL_ITEMS_EXTENDED, path
    elif om == "partial":
        yield from d.compare(o.extra_node(old), n.extra_node(new), path)


def _item_added(d: Differ, old: Node, item: Node, o: _Items) -> T:
    model = o.model(old)
    if model == "open":
        return (T.ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                if is_empty(d.deref(item).schema) else T.ITEM_ADDED_TO_OPEN_CONTENT_MODEL)
    if model == "partial":
        return (T.ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                if d.compatible(o.extra_node(old), item)
                else T.ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL)
    return T.ITEM_ADDED_TO_CLOSED_CONTENT_MODEL


def _item_removed(d: Differ, item: Node, new: Node, n: _Items) -> T:
    model = n.model(new)
    if model == "open":
        return T.ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL
    if model == "partial":
        return (T.ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                if d.compatible(item, n.extra_node(new))
                else T.ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL)
    if d.deref(item).schema is False:
        return T.ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
    return T.ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL


def unevaluated_items(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    yield from extra(d, old, new, "unevaluatedItems", "UNEVALUATED_ITEMS")


def contains(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    yield from d.sub(old, new, "contains")


def array_limits(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """minItems, maxItems, minContains, maxContains and uniqueItems."""
    yield from limits(old, new, (("maxItems", "MAX_ITEMS"), ("minItems", "MIN_ITEMS"),
                                 ("maxContains", "MAX_CONTAINS"),
                                 ("minContains", "MIN_CONTAINS")))
    o, n = old.get("uniqueItems") is True, new.get("uniqueItems") is True
    if o != n:
        yield (T.UNIQUE_ITEMS_REMOVED if o else T.UNIQUE_ITEMS_ADDED), ("uniqueItems",)
