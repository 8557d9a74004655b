"""Schema-to-schema compatibility: every change with its type and JSON Pointer, verdict per mode.

The rules are a table (`RULES`): small generators that each look at a few keywords of an old and a
new schema and yield changes. A policy is the set of change types it accepts as backward
compatible (`catalog.changes.accepted`); a mode says which earlier versions a new version is
checked against and in which direction. Verdicts follow Confluent Schema Registry's JSON Schema
checker (see ``../shared/reference/json-schema-compatibility.md``).

>>> report = check({"type": "integer"}, {"type": "number"})
>>> report.compatible, [(c.type.value, c.path) for c in report.changes]
(True, [('TYPE_EXTENDED', '#/type')])
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog import _rules as r
from catalog import _rules_array as a
from catalog import _rules_combined as c
from catalog import _rules_object as o
from catalog._diff import Differ, Path, Rule, node_of
from catalog.changes import ChangeType, Mode, Policy, accepted
from catalog.drafts import DEFAULT
from catalog.exceptions import TooComplex

__all__ = [
    "DEFAULT_BUDGET",
    "RULES",
    "Change",
    "Comparison",
    "Report",
    "check",
    "check_history",
    "iter_changes",
]

RULES: tuple[Rule, ...] = (
    r.meta,
    r.types,
    r.enum,
    r.string,
    r.number_bounds,
    r.multiple_of,
    o.properties,
    o.required,
    o.extra_properties,
    o.pattern_properties,
    o.property_names,
    o.dependencies,
    o.object_limits,
    a.items,
    a.unevaluated_items,
    a.contains,
    a.array_limits,
    c.combined,
    r.negation,
    r.conditional,
)

DEFAULT_BUDGET = 100_000
"""Comparison steps before `TooComplex`: about two seconds; a realistic event schema takes
well under 1,000."""


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: its type, where (a JSON Pointer fragment), and whether it is accepted."""

    type: ChangeType
    path: str
    compatible: bool

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "path": self.path, "compatible": self.compatible}


def pointer(path: Path) -> str:
    """``("properties", "a/b")`` -> ``"#/properties/a~1b"``."""
    return "#" + "".join(
        "/" + str(p).replace("~", "~0").replace("/", "~1") for p in path
    )


def iter_changes(
    old: Any,
    new: Any,
    *,
    policy: Policy = Policy.STRICT,
    budget: int = DEFAULT_BUDGET,
    draft: str = DEFAULT,
    others: Sequence[Any] = (),
) -> Iterator[Change]:
    """Every change from ``old`` to ``new``, judged in the backward direction under ``policy``.

    A schema without ``$schema`` is read as ``draft`` (`catalog.drafts`). A ``$ref`` resolves
    within its document and to ``others`` (registered schemas) by their ``$id``. Raises
    `catalog.exceptions.TooComplex` past ``budget`` steps, and
    `catalog.exceptions.SchemaRejected` for a ``$ref`` that resolves to neither.
    """
    ok = accepted(policy)
    differ = Differ(RULES, c.prelude, ok, budget)
    try:
        found = list(differ.compare(node_of(old, draft, others), node_of(new, draft, others)))
    except RecursionError as exc:
        raise TooComplex(differ.steps, "nesting depth") from exc
    for kind, path in found:
        yield Change(kind, pointer(path), kind in ok)


@dataclass(frozen=True, slots=True)
class Comparison:
    """The new schema compared with one earlier version in one direction."""

    against: int | None
    """The earlier version's number (None when it has none, as in a file-to-file check)."""
    direction: str
    """``backward`` (old -> new) or ``forward`` (new -> old)."""
    changes: tuple[Change, ...]

    @property
    def compatible(self) -> bool:
        return all(ch.compatible for ch in self.changes)


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of checking a new schema: the changes the mode looks at, verdict per mode."""

    mode: Mode
    policy: Policy
    comparisons: tuple[Comparison, ...]
    """The comparisons that decide ``mode`` (latest or all versions, one or both directions)."""
    verdicts: Mapping[Mode, bool] = field(default_factory=dict)

    @property
    def compatible(self) -> bool:
        return self.verdicts.get(self.mode, True)

    @property
    def changes(self) -> list[Change]:
        return [ch for cmp in self.comparisons for ch in cmp.changes]

    def to_json(self) -> dict[str, Any]:
        """The shape ``choreoscope schemas check --json`` prints."""
        return {
            "compatible": self.compatible,
            "mode": self.mode.value,
            "policy": self.policy.value,
            "changes": [ch.to_json() for ch in self.changes],
        }


def check(
    old: Any,
    new: Any,
    mode: Mode = Mode.BACKWARD,
    policy: Policy = Policy.STRICT,
    *,
    budget: int = DEFAULT_BUDGET,
    draft: str = DEFAULT,
) -> Report:
    """Check ``new`` against a single earlier schema ``old``."""
    return check_history([(None, old)], new, mode, policy, budget=budget, draft=draft)


def check_history(
    history: Sequence[tuple[int | None, Any]],
    new: Any,
    mode: Mode = Mode.BACKWARD,
    policy: Policy = Policy.STRICT,
    *,
    budget: int = DEFAULT_BUDGET,
    draft: str = DEFAULT,
    others: Sequence[Any] = (),
) -> Report:
    """Check ``new`` against ``history`` ((version, schema) pairs, oldest first); ``others``
    are the registered schemas their references may lead to."""
    if not history:
        return Report(mode, policy, (), dict.fromkeys(Mode, True))
    wanted = {"backward": mode.backward or mode is Mode.NONE, "forward": mode.forward}
    back: list[Comparison] = []
    fwd: list[Comparison] = []
    for version, old in history:
        back.append(_compare(version, "backward", old, new, policy, budget, draft, others))
        fwd.append(_compare(version, "forward", new, old, policy, budget, draft, others))
    verdicts = _verdicts(back, fwd)
    scope = slice(None) if mode.transitive else slice(-1, None)
    chosen = [*(back[scope] if wanted["backward"] else []),
              *(fwd[scope] if wanted["forward"] else [])]
    return Report(mode, policy, tuple(chosen), verdicts)


def _compare(
    version: int | None,
    direction: str,
    old: Any,
    new: Any,
    policy: Policy,
    budget: int,
    draft: str,
    others: Sequence[Any] = (),
) -> Comparison:
    changes = iter_changes(old, new, policy=policy, budget=budget, draft=draft, others=others)
    return Comparison(version, direction, tuple(changes))


def _verdicts(back: list[Comparison], fwd: list[Comparison]) -> dict[Mode, bool]:
    b_last, f_last = back[-1].compatible, fwd[-1].compatible
    b_all = all(cmp.compatible for cmp in back)
    f_all = all(cmp.compatible for cmp in fwd)
    return {
        Mode.NONE: True,
        Mode.BACKWARD: b_last,
        Mode.BACKWARD_TRANSITIVE: b_all,
        Mode.FORWARD: f_last,
        Mode.FORWARD_TRANSITIVE: f_all,
        Mode.FULL: b_last and f_last,
        Mode.FULL_TRANSITIVE: b_all and f_all,
    }
