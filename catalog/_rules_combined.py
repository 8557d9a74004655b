"""Compatibility of ``allOf``, ``anyOf`` and ``oneOf``.

Before the rules run, `prelude` reshapes a pair so that equivalent spellings compare alike:
an ``allOf`` on one side only is folded into its parent where no keyword clashes, and a sum
(``anyOf``/``oneOf``) on one side only is distributed: its parent's keywords join each branch and
the other side becomes a sum of one branch (or one per type, for ``type: [a, b]``). Where a
keyword clashes the pair is left to the rules, which judge a sum added on one side as a change
and one removed as a widening.

Sums are compared branch by branch: every old branch must be accepted by some new branch.
Products (``allOf``) the other way round: every new branch must be implied by some old branch.
Each check of a pair is one memoised comparison, so a union of n and m branches costs n*m
comparisons at most, all counted against the budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from catalog._diff import Differ, Node, RawChange, merge
from catalog._rules import type_set
from catalog.changes import ChangeType as T

__all__ = ["combined", "prelude"]

_KWS = ("allOf", "anyOf", "oneOf")
_SUMS = ("anyOf", "oneOf")


def _kws(node: Node, among: tuple[str, ...] = _KWS) -> list[str]:
    return [k for k in among if isinstance(node.get(k), list)]


def _without(node: Node, *keys: str) -> Node:
    return Node({k: v for k, v in node.schema.items() if k not in keys}, node.resolver)


def _flatten(d: Differ, node: Node) -> Node:
    """Fold ``allOf`` branches into the parent where no keyword clashes."""
    merged: dict[str, Any] = {k: v for k, v in node.schema.items() if k != "allOf"}
    residual = []
    for i, branch in enumerate(node.get("allOf")):
        target = d.deref(node.at("allOf", i)).schema
        target = {} if target is True else target
        folded = merge(merged, target) if isinstance(target, dict) else None
        if folded is None:
            residual.append(branch)
        else:
            merged = folded
    if residual:  # a branch may have brought an allOf of its own: both are conjuncts
        merged["allOf"] = [*merged.get("allOf", []), *residual]
    return Node(merged, node.resolver)


def _branches(d: Differ, node: Node, kw: str) -> list[Node] | None:
    """Each branch with its parent's keywords joined; None when a keyword clashes."""
    base = {k: v for k, v in node.schema.items() if k != kw}
    out = []
    for i in range(len(node.get(kw))):
        branch = d.deref(node.at(kw, i))
        if branch.schema is False:
            out.append(branch)
            continue
        folded = merge(base, {} if branch.schema is True else branch.schema)
        if folded is None:
            return None
        out.append(Node(folded, branch.resolver))
    return out


def _split_types(node: Node) -> list[Node]:
    types = type_set(node.schema)
    if types is None or len(types) < 2:
        return [node]
    return [Node({**node.schema, "type": t}, node.resolver) for t in sorted(types)]


def prelude(d: Differ, old: Node, new: Node) -> tuple[Node, Node, list[RawChange] | None]:
    if isinstance(old.schema, dict) and isinstance(new.schema, dict):
        if old.has("allOf") != new.has("allOf"):
            old = _flatten(d, old) if old.has("allOf") else old
            new = _flatten(d, new) if new.has("allOf") else new
        o, n = _kws(old, _SUMS), _kws(new, _SUMS)
        if len(o) + len(n) == 1:
            kw = (n or o)[0]
            olds = _split_types(old) if n else _branches(d, old, kw)
            news = _branches(d, new, kw) if n else _split_types(new)
            if olds is not None and news is not None:
                return old, new, list(_sum(d, olds, news, kw))
    return old, new, None


def _find(d: Differ, pairs: list[tuple[Node, Node]], prefer: int) -> int | None:
    """The first compatible pair, trying the same position first (the usual case)."""
    order = sorted(range(len(pairs)), key=lambda j: j != prefer)
    for j in order:
        if d.compatible(*pairs[j]):
            return j
    return None


def _sum(d: Differ, olds: list[Node], news: list[Node], kw: str) -> Iterator[RawChange]:
    """Every old branch must be accepted by some new branch."""
    unmatched = False
    for i, o in enumerate(olds):
        j = _find(d, [(o, n) for n in news], i)
        if j is None:
            unmatched = True
            if len(news) >= len(olds):
                yield T.COMBINED_TYPE_SUBSCHEMAS_CHANGED, (kw, i)
        else:
            yield from d.compare(o, news[j], (kw, j))
    if len(news) > len(olds):
        yield T.SUM_TYPE_EXTENDED, (kw,)
    elif len(news) < len(olds) and (unmatched or len(news) == 0):
        yield T.SUM_TYPE_NARROWED, (kw,)


def _product(d: Differ, olds: list[Node], news: list[Node], kw: str) -> Iterator[RawChange]:
    """Every new branch must be implied by some old branch."""
    for j, n in enumerate(news):
        i = _find(d, [(o, n) for o in olds], j)
        if i is None:
            yield ((T.PRODUCT_TYPE_EXTENDED if len(news) > len(olds)
                    else T.COMBINED_TYPE_SUBSCHEMAS_CHANGED), (kw, j))
        else:
            yield from d.compare(olds[i], n, (kw, j))
    if len(news) < len(olds):
        yield T.PRODUCT_TYPE_NARROWED, (kw,)


def _criterion_change(old_size: int, new_kw: str, new_size: int) -> T:
    """The combinator itself changed (``allOf``, ``anyOf``, ``oneOf``), as the reference reads it.

    ``anyOf`` accepts every document that ``allOf`` or ``oneOf`` over the same branches accepts,
    so a change to it widens. A combinator of one branch means that branch alone, so a change
    from it widens when the new side is a sum (the branch becomes one alternative) or again a
    single branch. Anything else (``anyOf`` to ``oneOf`` over several branches, a sum to an
    ``allOf`` of several) changes which documents are accepted in both directions.
    """
    if new_kw == "anyOf" or (old_size == 1 and (new_kw in _SUMS or new_size == 1)):
        return T.COMBINED_TYPE_EXTENDED
    return T.COMBINED_TYPE_CHANGED


def _listed(node: Node, kw: str) -> list[Node]:
    return [node.at(kw, i) for i in range(len(node.get(kw)))]


def combined(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """Combinators on both sides: same keyword paired, a criterion change, or leftovers."""
    o, n = _kws(old), _kws(new)
    for kw in _KWS:
        if kw in o and kw in n:
            pair = _sum if kw in _SUMS else _product
            yield from pair(d, _listed(old, kw), _listed(new, kw), kw)
    only_o = [k for k in o if k not in n]
    only_n = [k for k in n if k not in o]
    if len(only_o) == 1 and len(only_n) == 1:
        ok, nk = only_o[0], only_n[0]
        olds, news = _listed(old, ok), _listed(new, nk)
        kind = _criterion_change(len(olds), nk, len(news))
        yield kind, (nk,)
        if kind is T.COMBINED_TYPE_EXTENDED:
            pair = _sum if nk in _SUMS else _product
            yield from pair(d, olds, news, nk)
        return
    for kw in only_n:
        if kw == "allOf":
            rest = _without(old, *_KWS)
            for j, branch in enumerate(_listed(new, kw)):
                yield from d.compare(rest, branch, (kw, j))
        else:
            yield T.COMBINED_TYPE_CHANGED, (kw,)
    for kw in only_o:
        yield (T.PRODUCT_TYPE_NARROWED if kw == "allOf" else T.SUM_TYPE_EXTENDED), (kw,)
