"""collector._json: msgspec reads, and what it refuses is read (or refused) as orjson and the
standard library would, with their messages."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector import _json

scalars = (st.none() | st.booleans() | st.text() | st.floats(allow_nan=False, allow_infinity=False)
           | st.integers(min_value=-(10**60), max_value=10**60)
           | st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 1e308, -1e-308, -0.0]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=25)


@given(json_values)
def test_any_json_value_reads_back_exactly_as_the_standard_library_reads_it(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    got = _json.loads(text.encode())
    assert got == json.loads(text)
    assert _json.dumps(got) == _json.dumps(json.loads(text))  # the same types, ints stay ints


def test_integers_past_64_bits_stay_exact_and_ints() -> None:
    got = _json.loads(b'{"a": 100000000000000000000000000001, "b": [-18446744073709551617]}')
    assert got == {"a": 10**29 + 1, "b": [-(2**64) - 1]}
    assert type(got["a"]) is int


@pytest.mark.parametrize(("text", "orjson_says"), [
    (b"", "zero-length"),
    (b"[1] x", "unexpected content after document"),
    (b'"\\ud800"', "surrogate"),
    (b'"\xff"', "UTF-8"),
    (b"1e400", "infinity"),
    (b"NaN", ""),
    (b"\xef\xbb\xbf1", "BOM"),
])
def test_what_is_not_json_is_refused_with_orjsons_reason(text: bytes, orjson_says: str) -> None:
    with pytest.raises(orjson.JSONDecodeError) as refused:
        _json.loads(text)
    assert orjson_says in str(refused.value)


def test_an_integer_past_pythons_digit_limit_is_a_value_error_not_a_float() -> None:
    with pytest.raises(ValueError, match="4300 digits"):
        _json.loads(b"1" + b"0" * 4400)


def test_nesting_past_what_the_readers_follow_is_refused_as_not_json() -> None:
    with pytest.raises(orjson.JSONDecodeError, match="depth limit exceeded"):
        _json.loads(b"[" * 3000 + b"]" * 3000)


def test_text_reads_like_bytes() -> None:
    assert _json.loads('{"é": [1, 2.5, null]}') == {"é": [1, 2.5, None]}
