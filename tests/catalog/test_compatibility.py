"""The compatibility checker: change types and pointers, modes, policies, bounded cost."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.changes import ChangeType, Mode, Policy, accepted
from catalog.compatibility import check, check_history, iter_changes
from catalog.exceptions import SchemaRejected, TooComplex

T = ChangeType
REFERENCE = Path(__file__).parents[2] / "../shared/reference/json-schema-compatibility.md"
OBJ = {"type": "object", "properties": {"a": {"type": "string"}}}


def changes(old: Any, new: Any, policy: Policy = Policy.STRICT) -> list[tuple[str, str]]:
    return [(c.type.value, c.path) for c in iter_changes(old, new, policy=policy)]


def test_change_types_and_accepted_sets_are_the_references() -> None:
    text = REFERENCE.read_text()
    sections = re.split(r"^### ", text, flags=re.M)
    names = [re.findall(r"^- `([A-Z_]+)`", s, flags=re.M) for s in sections[1:4]]
    strict, lenient, breaking = names
    assert (len(strict), len(lenient)) == (65, 9)
    assert {T(n) for n in strict} <= accepted(Policy.STRICT)
    assert {T(n) for n in strict + lenient} <= accepted(Policy.LENIENT)
    assert not {T(n) for n in lenient} & accepted(Policy.STRICT)
    assert len({*strict, *lenient, *breaking}) == 132
    assert not {T(n) for n in breaking if n not in lenient} & accepted(Policy.LENIENT)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"type": "string"}, {"type": ["string", "null"]}, [("TYPE_EXTENDED", "#/type")]),
        ({"type": ["string", "null"]}, {"type": "string"}, [("TYPE_NARROWED", "#/type")]),
        ({"type": "string"}, {"type": "integer"}, [("TYPE_CHANGED", "#")]),
        ({"type": "string", "maxLength": 5}, {"type": "string", "maxLength": 3},
         [("MAX_LENGTH_DECREASED", "#/maxLength")]),
        ({"type": "number", "multipleOf": 10}, {"type": "number", "multipleOf": 2.5},
         [("MULTIPLE_OF_REDUCED", "#/multipleOf")]),
        ({"type": "number", "multipleOf": 2}, {"type": "number", "multipleOf": 4},
         [("MULTIPLE_OF_EXPANDED", "#/multipleOf")]),
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, [("ENUM_ARRAY_NARROWED", "#/enum")]),
        ({"description": "x", "title": "A"}, {"description": "y", "title": "B", "$id": "u:1"},
         [("ID_CHANGED", "#/$id"), ("TITLE_CHANGED", "#/title"),
          ("DESCRIPTION_CHANGED", "#/description")]),
        (OBJ, {**OBJ, "required": ["a"]}, [("REQUIRED_ATTRIBUTE_ADDED", "#/required/a")]),
        ({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}},
         {"type": "object", "properties": {"a": {"type": "string", "default": "x"}},
          "required": ["a"]},
         [("REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", "#/required/a")]),
        (OBJ, {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}},
         [("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", "#/properties/b")]),
        ({**OBJ, "additionalProperties": False},
         {"type": "object", "properties": {"a/b": {"type": "integer"}, "a": {"type": "string"}},
          "additionalProperties": False},
         [("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "#/properties/a~1b")]),
        ({"type": "object", "properties": {"n": {"type": "object", "properties": {
            "x": {"type": "integer"}}}}},
         {"type": "object", "properties": {"n": {"type": "object", "properties": {
             "x": {"type": "string"}}}}},
         [("TYPE_CHANGED", "#/properties/n/properties/x")]),
        ({"type": "array", "items": {"type": "integer"}},
         {"type": "array", "items": {"type": "number"}}, [("TYPE_EXTENDED", "#/items/type")]),
        ({"type": "array", "prefixItems": [{"type": "string"}], "items": False},
         {"type": "array", "items": [{"type": "string"}], "additionalItems": False}, []),
        ({"not": {"type": "string"}}, {}, [("NOT_TYPE_NARROWED", "#/not")]),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]},
         {"anyOf": [{"type": "string"}, {"type": "integer"}]},
         [("COMBINED_TYPE_EXTENDED", "#/anyOf")]),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]},
         {"oneOf": [{"type": "string"}, {"type": "integer"}]},
         [("COMBINED_TYPE_CHANGED", "#/oneOf")]),
        ({"type": "string", "format": "date"}, {"type": "string"},
         [("FORMAT_REMOVED", "#/format")]),
        ({"dependentRequired": {"a": ["b"]}}, {"dependentRequired": {"a": ["b", "c"]}},
         [("DEPENDENCY_ARRAY_EXTENDED", "#/dependentRequired/a")]),
        (True, False, [("TYPE_NARROWED", "#")]),
    ],
)
def test_change_types_and_pointers(old: Any, new: Any, expected: list[tuple[str, str]]) -> None:
    assert changes(old, new) == expected


def test_ref_is_followed_through_defs_and_definitions() -> None:
    old = {"$schema": "http://json-schema.org/draft-07/schema#",
           "definitions": {"Money": {"type": "integer"}},
           "properties": {"amount": {"$ref": "#/definitions/Money"}}}
    new = {"$defs": {"Money": {"type": "number"}},
           "properties": {"amount": {"$ref": "#/$defs/Money"}}}
    assert changes(old, new) == [("TYPE_EXTENDED", "#/properties/amount/type")]


def test_a_ref_outside_the_document_is_refused() -> None:
    with pytest.raises(SchemaRejected, match=r"\$ref"):
        check({"$ref": "https://example.com/other.json"}, {"type": "string"})


def _linked_list(value_type: str) -> dict[str, Any]:
    return {"$defs": {"node": {"type": "object", "properties": {
        "value": {"type": value_type}, "next": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node"}


def test_recursive_ref_gets_an_answer() -> None:
    assert changes(_linked_list("integer"), _linked_list("number")) == [
        ("TYPE_EXTENDED", "#/properties/value/type")]
    assert check(_linked_list("integer"), _linked_list("integer")).compatible


def test_mutually_recursive_refs() -> None:
    def tree(leaf: str) -> dict[str, Any]:
        return {"$defs": {
            "a": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b"},
                                                   "leaf": {"type": leaf}}},
            "b": {"type": "array", "items": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"}
    assert not check(tree("number"), tree("integer")).compatible


def test_a_ref_to_itself_is_too_complex_not_a_hang() -> None:
    with pytest.raises(TooComplex):
        check({"$defs": {"x": {"$ref": "#/$defs/x"}}, "$ref": "#/$defs/x"}, {"type": "string"})


def _deep_union(depth: int, width: int, leaf: str) -> Any:
    if depth == 0:
        return {"type": leaf}
    return {"anyOf": [_deep_union(depth - 1, width, leaf if i else "string")
                      for i in range(width)]}


@pytest.mark.timeout(60)
def test_pathological_unions_answer_or_say_too_complex() -> None:
    old, new = _deep_union(6, 6, "integer"), _deep_union(6, 6, "boolean")
    outcome: object
    try:
        outcome = check(old, new).compatible
    except TooComplex as exc:
        outcome = str(exc)
    assert outcome is False or "too complex" in str(outcome)
    with pytest.raises(TooComplex, match="too complex"):
        check(old, new, budget=1_000)


def test_large_unions_stay_within_budget() -> None:
    old = {"anyOf": [{"const": i} for i in range(150)]}
    new = {"anyOf": [{"const": i} for i in range(151)]}
    assert changes(old, new) == [("SUM_TYPE_EXTENDED", "#/anyOf")]


def test_policies() -> None:
    new = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    assert not check(OBJ, new, policy=Policy.STRICT).compatible
    lenient = check(OBJ, new, policy=Policy.LENIENT)
    assert lenient.compatible
    assert [c.type for c in lenient.changes] == [T.OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL]


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [(Mode.NONE, True), (Mode.BACKWARD, True), (Mode.FORWARD, False), (Mode.FULL, False),
     (Mode.BACKWARD_TRANSITIVE, False), (Mode.FORWARD_TRANSITIVE, False),
     (Mode.FULL_TRANSITIVE, False)],
)
def test_modes(mode: Mode, verdict: bool) -> None:
    v1 = {"type": "integer"}
    v2 = {"type": "integer", "minimum": 0}
    v3 = {"type": "integer", "minimum": -5}  # looser than v2, narrower than v1
    report = check_history([(1, v1), (2, v2)], v3, mode)
    assert report.compatible is verdict
    assert report.verdicts[mode] is verdict
    directions = {(c.against, c.direction) for c in report.comparisons}
    if mode.transitive:
        assert {a for a, _ in directions} == {1, 2}
    elif mode is not Mode.NONE:
        assert {a for a, _ in directions} == {2}


def test_full_mode_reports_both_directions() -> None:
    report = check({"type": "integer"}, {"type": "number"}, Mode.FULL)
    assert [(c.direction, [ch.type for ch in c.changes]) for c in report.comparisons] == [
        ("backward", [T.TYPE_EXTENDED]), ("forward", [T.TYPE_NARROWED])]
    assert report.to_json()["compatible"] is False


_leaf = st.one_of(
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "null"])),
    st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(0, 9)),
    st.builds(lambda v: {"enum": v}, st.lists(st.integers(0, 5), min_size=1, max_size=3)),
    st.just(True),
)
_schemas = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(lambda p, r: {"type": "object", "properties": p,
                                "required": sorted(p)[:r]},
                  st.dictionaries(st.sampled_from("abcd"), inner, max_size=3), st.integers(0, 2)),
        st.builds(lambda i: {"type": "array", "items": i}, inner),
        st.builds(lambda bs: {"anyOf": bs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda bs: {"allOf": bs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda s: {"not": s}, inner),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(_schemas)
def test_a_schema_is_compatible_with_itself(schema: Any) -> None:
    twin = copy.deepcopy(schema)
    report = check(schema, twin, Mode.FULL)
    assert report.compatible
    assert report.changes == []


@settings(max_examples=200, deadline=None)
@given(_schemas)
def test_loosening_to_anything_is_backward_compatible(schema: Any) -> None:
    assert check(schema, {}).compatible
    assert check(schema, True).compatible


@settings(max_examples=300, deadline=None)
@given(_schemas, _schemas)
def test_any_two_schemas_get_an_answer_consistent_with_the_changes(old: Any, new: Any) -> None:
    report = check(old, new, Mode.FULL)
    assert report.compatible is all(c.compatible for c in report.changes)
    assert all(c.path.startswith("#") for c in report.changes)


_rich_leaf = st.one_of(
    _leaf,
    st.builds(lambda t: {"type": t}, st.lists(
        st.sampled_from(["string", "integer", "number", "null", "boolean"]), min_size=1,
        max_size=3, unique=True)),
    st.builds(lambda n, m: {"minimum": n, "maximum": m}, st.integers(-5, 5), st.integers(0, 9)),
    st.builds(lambda n: {"exclusiveMinimum": n}, st.integers(-5, 5)),
    st.builds(lambda n: {"multipleOf": n}, st.sampled_from([1, 2, 3, 4, 6, 0.5])),
    st.builds(lambda v: {"const": v}, st.integers(0, 3)),
    st.just(False),
)
_rich = st.recursive(
    _rich_leaf,
    lambda inner: st.one_of(
        st.builds(lambda p, r, ap: {"type": "object", "properties": p, "required": sorted(p)[:r],
                                    **({} if ap is None else {"additionalProperties": ap})},
                  st.dictionaries(st.sampled_from("abcd"), inner, max_size=3),
                  st.integers(0, 2), st.none() | st.just(False) | inner),
        st.builds(lambda i, a: {"type": "array", "prefixItems": i,
                                **({} if a is None else {"items": a})},
                  st.lists(inner, max_size=3), st.none() | st.just(False) | inner),
        st.builds(lambda i, n: {"type": "array", "items": i, "maxItems": n}, inner,
                  st.integers(0, 3)),
        st.builds(lambda bs: {"anyOf": bs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda bs: {"allOf": bs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda s: {"not": s}, inner),
        st.builds(lambda p: {"type": "object", "patternProperties": {"^a": p}}, inner),
    ),
    max_leaves=10,
)
_instances = st.recursive(
    st.none() | st.booleans() | st.integers(-6, 12) | st.sampled_from([0.5, 1.5]) | st.text(
        max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("abcd"), inner,
                                                                max_size=4),
    max_leaves=10,
)
# Accepted by the Confluent rules although old data may lack the field: a reader fills the default.
_BY_CONVENTION = {T.REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED,
                  T.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL,
                  T.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL}


@settings(max_examples=400, deadline=None)
@given(_rich, _rich, st.lists(_instances, min_size=6, max_size=6))
def test_backward_compatible_means_old_data_stays_valid(old: Any, new: Any,
                                                        data: list[Any]) -> None:
    """Soundness against jsonschema as the oracle (anyOf/allOf only: the rules treat oneOf like
    anyOf, and a new oneOf branch can make old data match twice)."""
    import jsonschema

    report = check(old, new)
    if not report.compatible or {c.type for c in report.changes} & _BY_CONVENTION:
        return
    before, after = jsonschema.Draft202012Validator(old), jsonschema.Draft202012Validator(new)
    assert [x for x in data if before.is_valid(x) and not after.is_valid(x)] == []
