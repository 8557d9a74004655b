"""Verdict families where the checker used to differ from the reference registry (issue 17).

Every case here is written for this project (none is taken from another registry's tests). Each
family is checked in both drafts' spellings where they differ: draft-07 (``items`` array +
``additionalItems``, read by default for a schema without ``$schema``, as the reference does)
and 2020-12 (``prefixItems`` + ``items``). A case names the verdict under STRICT, optionally
under LENIENT, and a change type that must be among the reported ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog.changes import Mode, Policy
from catalog.compatibility import check
from catalog.drafts import DRAFT_2020_12
from catalog.exceptions import SchemaRejected
from catalog.registry import Registry
from collector.cli import main

S = {"type": "string"}
N = {"type": "number"}
INT = {"type": "integer"}
B = {"type": "boolean"}


def _tuple07(items: list[Any], extra: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "array", "items": items}
    if extra is not None:
        out["additionalItems"] = extra
    return out


def _tuple2020(items: list[Any], extra: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"$schema": DRAFT_2020_12, "type": "array", "prefixItems": items}
    if extra is not None:
        out["items"] = extra
    return out


def _unevaluated2020(items: list[Any], extra: Any) -> dict[str, Any]:
    return {"$schema": DRAFT_2020_12, "type": "array", "prefixItems": items,
            "unevaluatedItems": extra}


# (id, old, new, compatible under STRICT, compatible under LENIENT or None, a change type)
Case = tuple[str, Any, Any, bool, "bool | None", str]

_TUPLE_SHAPES: list[tuple[str, list[Any], list[Any], Any, bool, str]] = [
    ("open, item added", [S], [S, N], None, False, "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"),
    ("open, item removed", [S, N], [S], None, True, "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL"),
    ("closed, item added", [S], [S, N], False, True, "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"),
    ("closed, item removed", [S, N], [S], False, False,
     "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
    ("partial, covered item added", [N], [N, S], S, True,
     "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial, uncovered item added", [N], [N, B], S, False,
     "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial, covered item removed", [N, S], [N], S, True,
     "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial, uncovered item removed", [N, B], [N], S, False,
     "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
]


def _tuple_cases() -> list[Case]:
    out: list[Case] = []
    for name, old, new, extra, ok, kind in _TUPLE_SHAPES:
        out.append((f"draft-07 tuple: {name}", _tuple07(old, extra), _tuple07(new, extra),
                    ok, None, kind))
        out.append((f"2020-12 tuple: {name}", _tuple2020(old, extra),
                    _tuple2020(new, extra), ok, None, kind))
        if extra is not None:
            out.append((f"2020-12 unevaluatedItems tuple: {name}", _unevaluated2020(old, extra),
                        _unevaluated2020(new, extra), ok, None, kind))
    for spell, make in (("draft-07", _tuple07), ("2020-12", _tuple2020)):
        out += [
            (f"{spell} additional items allowed again", make([S], False), make([S], True),
             True, None, "ADDITIONAL_ITEMS_ADDED"),
            (f"{spell} additional items forbidden", make([S], True), make([S], False),
             False, None, "ADDITIONAL_ITEMS_REMOVED"),
            (f"{spell} additional items narrowed", make([S]), make([S], N), False, None,
             "ADDITIONAL_ITEMS_NARROWED"),
            (f"{spell} additional items extended", make([S], N), make([S]), True, None,
             "ADDITIONAL_ITEMS_EXTENDED"),
            (f"{spell} additional items changed", make([S], S), make([S], N), False, None,
             "TYPE_CHANGED"),
            (f"{spell} closed tuple opened with an item added", make([S], False),
             make([S, N], True), True, None, "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"),
        ]
    out += [
        ("draft-07 additionalItems without a tuple, forbidden", {"additionalItems": True},
         {"additionalItems": False}, False, None, "ADDITIONAL_ITEMS_REMOVED"),
        ("draft-07 additionalItems without a tuple, changed", {"additionalItems": S},
         {"additionalItems": N}, False, None, "TYPE_CHANGED"),
    ]
    return out


def _obj(props: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, **more}


PARTIAL: list[Case] = [
    ("partial: covered property added", _obj({"a": S}, additionalProperties=S),
     _obj({"a": S, "b": S}, additionalProperties=S), True, True,
     "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: uncovered property added", _obj({"a": S}, additionalProperties=S),
     _obj({"a": S, "b": INT}, additionalProperties=S), False, True,
     "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: covered property added as required", _obj({"a": S}, additionalProperties=S),
     _obj({"a": S, "b": S}, additionalProperties=S, required=["b"]), False, False,
     "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"),
    ("partial: covered optional property added is also optional-to-unopen",
     _obj({"a": S}, additionalProperties=S), _obj({"a": S, "b": S}, additionalProperties=S),
     True, True, "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"),
    ("partial: covered property removed", _obj({"a": S, "b": S}, additionalProperties=S),
     _obj({"a": S}, additionalProperties=S), True, True,
     "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: uncovered property removed", _obj({"a": S, "b": B}, additionalProperties=S),
     _obj({"a": S}, additionalProperties=S), False, True,
     "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: property removed into a wider pattern",
     _obj({"n_count": INT}, additionalProperties=False),
     _obj({}, additionalProperties=False, patternProperties={"^n_": N}), True, True,
     "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: property added under a pattern it widens",
     _obj({}, patternProperties={"^n_": INT}), _obj({"n_count": N}, patternProperties={"^n_": INT}),
     True, True, "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: property added under a pattern it narrows",
     _obj({}, patternProperties={"^n_": N}), _obj({"n_count": INT}, patternProperties={"^n_": N}),
     False, True, "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: pattern added to a closed model", _obj({"a": S}, additionalProperties=False),
     _obj({"a": S}, additionalProperties=False, patternProperties={"^x_": S}), True, True,
     "PATTERN_PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL"),
    ("partial: pattern added, wider than the additional schema",
     _obj({"a": S}, additionalProperties={"type": "string", "maxLength": 3}),
     _obj({"a": S}, additionalProperties={"type": "string", "maxLength": 3},
          patternProperties={"^x_": S}),
     True, True, "PATTERN_PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("partial: pattern added, narrower than the additional schema",
     _obj({"a": S}, additionalProperties=S),
     _obj({"a": S}, additionalProperties=S, patternProperties={"^x_": {"type": "string",
                                                                      "maxLength": 3}}),
     False, False, "PATTERN_PROPERTY_ADDED"),
    ("partial: pattern added to an open model", _obj({"a": S}),
     _obj({"a": S}, patternProperties={"^x_": S}), False, False, "PATTERN_PROPERTY_ADDED"),
]

UNEVALUATED: list[Case] = [
    ("unevaluatedProperties false: optional property added",
     _obj({"a": S}, unevaluatedProperties=False),
     _obj({"a": S, "b": N}, unevaluatedProperties=False), True, True,
     "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"),
    ("unevaluatedProperties false: property removed",
     _obj({"a": S, "b": N}, unevaluatedProperties=False),
     _obj({"a": S}, unevaluatedProperties=False), False, True,
     "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
    ("unevaluatedProperties schema: covered property added",
     _obj({"a": S}, unevaluatedProperties=S), _obj({"a": S, "b": S}, unevaluatedProperties=S),
     True, True, "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("unevaluatedProperties schema: uncovered property added",
     _obj({"a": S}, unevaluatedProperties=S), _obj({"a": S, "b": N}, unevaluatedProperties=S),
     False, True, "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("unevaluatedProperties schema: covered property removed",
     _obj({"a": S, "b": S}, unevaluatedProperties=S), _obj({"a": S}, unevaluatedProperties=S),
     True, True, "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
    ("unevaluatedProperties: closed model opened", _obj({"a": S}, unevaluatedProperties=False),
     _obj({"a": S}), True, True, "UNEVALUATED_PROPERTIES_ADDED"),
    ("unevaluatedProperties: open model closed", _obj({"a": S}),
     _obj({"a": S}, unevaluatedProperties=False), False, True, "UNEVALUATED_PROPERTIES_REMOVED"),
]

REQUIRED: list[Case] = [
    ("required: undefined name removed", _obj({"a": S}, required=["a", "ghost"]),
     _obj({"a": S}, required=["a"]), True, True, "REQUIRED_ATTRIBUTE_REMOVED"),
    ("required: undefined name added", _obj({"a": S}, required=["a"]),
     _obj({"a": S}, required=["a", "ghost"]), True, True, ""),
    ("required: undefined name swapped for another", _obj({"a": S}, required=["ghost"]),
     _obj({"a": S}, required=["spook"]), True, True, "REQUIRED_ATTRIBUTE_REMOVED"),
    ("required: declared name added", _obj({"a": S, "b": S}, required=["a"]),
     _obj({"a": S, "b": S}, required=["a", "b"]), False, False, "REQUIRED_ATTRIBUTE_ADDED"),
    ("required: declared name with a default added",
     _obj({"a": S, "b": {"type": "string", "default": "x"}}),
     _obj({"a": S, "b": {"type": "string", "default": "x"}}, required=["b"]), True, True,
     "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"),
]


def _prop(schema: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"p": schema}}


COMBINED: list[Case] = [
    ("combined: allOf to anyOf with more branches", _prop({"allOf": [S]}),
     _prop({"anyOf": [N, S]}), True, None, ""),
    ("combined: allOf to oneOf with more branches", _prop({"allOf": [S]}),
     _prop({"oneOf": [N, S]}), True, None, "SUM_TYPE_EXTENDED"),
    ("combined: anyOf to oneOf with more branches", _prop({"anyOf": [S]}),
     _prop({"oneOf": [N, S]}), True, None, "COMBINED_TYPE_EXTENDED"),
    ("combined: anyOf to oneOf with fewer branches", _prop({"anyOf": [N, S]}),
     _prop({"oneOf": [S]}), False, None, "COMBINED_TYPE_CHANGED"),
    ("combined: oneOf to anyOf", _prop({"oneOf": [N, S]}), _prop({"anyOf": [N, S]}), True,
     None, "COMBINED_TYPE_EXTENDED"),
    ("combined: one-branch anyOf to allOf of it", _prop({"anyOf": [S]}),
     _prop({"allOf": [S]}), True, None, ""),
    ("combined: anyOf to allOf with more branches", _prop({"anyOf": [S]}),
     _prop({"allOf": [N, S]}), False, None, ""),
    ("combined: sum branch added", _prop({"oneOf": [S]}), _prop({"oneOf": [S, N]}), True, None,
     "SUM_TYPE_EXTENDED"),
    ("combined: sum branch removed", _prop({"oneOf": [S, N]}), _prop({"oneOf": [S]}), False,
     None, "SUM_TYPE_NARROWED"),
    ("combined: product branch removed", _prop({"allOf": [S, {"maxLength": 4}]}),
     _prop({"allOf": [S]}), True, None, "PRODUCT_TYPE_NARROWED"),
    ("combined: product branch added", _prop({"allOf": [S]}),
     _prop({"allOf": [S, {"maxLength": 4}]}), False, None, "PRODUCT_TYPE_EXTENDED"),
    ("combined: branch changed", _prop({"oneOf": [S]}), _prop({"oneOf": [N]}), False, None,
     ""),
    ("combined: sum replaced by one member", _prop({"oneOf": [S, N]}), _prop(S), False, None,
     ""),
    ("combined: member replaced by a sum holding it", _prop(S), _prop({"oneOf": [N, S]}), True,
     None, "SUM_TYPE_EXTENDED"),
    ("combined: product replaced by one member", _prop({"allOf": [S, {"maxLength": 4}]}),
     _prop(S), True, None, ""),
    ("combined: member replaced by a product holding it", _prop(S),
     _prop({"allOf": [S, {"maxLength": 4}]}), False, None, ""),
]

CASES: list[Case] = [*_tuple_cases(), *PARTIAL, *UNEVALUATED, *REQUIRED, *COMBINED]


@pytest.mark.parametrize(("old", "new", "strict", "lenient", "kind"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_family_case(old: Any, new: Any, strict: bool, lenient: bool | None, kind: str) -> None:
    report = check(old, new)
    kinds = [ch.type.value for ch in report.changes]
    assert report.compatible is strict, kinds
    if kind:
        assert kind in kinds
    if lenient is not None:
        assert check(old, new, policy=Policy.LENIENT).compatible is lenient


@pytest.mark.parametrize(("old", "new"), [pytest.param(c[1], c[2], id=c[0]) for c in CASES])
def test_mode_algebra_holds_for_every_family_case(old: Any, new: Any) -> None:
    back = check(old, new, Mode.BACKWARD).compatible
    fwd = check(old, new, Mode.FORWARD).compatible
    assert fwd is check(new, old, Mode.BACKWARD).compatible
    assert check(old, new, Mode.FULL).compatible is (back and fwd)
    history = [(1, old), (2, new)]
    from catalog.compatibility import check_history
    transitive = check_history(history, old, Mode.BACKWARD_TRANSITIVE).compatible
    assert transitive is (check(old, old).compatible and check(new, old).compatible)


def test_a_draft_07_tuple_without_schema_registers_by_default() -> None:
    registry, first = Registry().with_version("Pair", _tuple07([S, N], False))
    assert first.schema["$schema"].startswith("http://json-schema.org/draft-07/schema")
    registry, second = registry.with_version("Pair", _tuple07([S, N, B], False))
    assert second.version == 2


def test_the_default_draft_is_a_setting_of_the_registry() -> None:
    with pytest.raises(SchemaRejected, match="items"):
        Registry(default_draft="2020-12").with_version("Pair", _tuple07([S, N], False))


def test_schemas_check_reads_a_file_without_schema_as_draft_07(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_tuple07([S], False)))
    new.write_text(json.dumps(_tuple07([S, N], False)))
    assert main(["schemas", "check", str(old), str(new)]) == 0
    assert "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL" in capsys.readouterr().out
    (tmp_path / "choreoscope.toml").write_text('[registry]\ndefault_draft = "2020-12"\n')
    assert main(["--config", str(tmp_path / "choreoscope.toml"), "schemas", "check", str(old),
                 str(new)]) == 2
