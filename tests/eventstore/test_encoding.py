"""The append's one-pass JSON encoding accepts and rejects exactly what the full check does."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from database.codec import check_json, encode_json
from eventstore.errors import InvalidEventError
from eventstore.store import _encode_object

# Keys and values that jsonb rejects or json.dumps would silently change, mixed with good ones.
keys = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "\\u0000"]),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["\x00", "\ud83d", "\\u0000", "é", "\U0001f600", "-0.0"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=12,
)


def full_check(value: Any) -> bool:
    try:
        check_json(value)
    except ValueError:
        return False
    return True


@given(st.dictionaries(keys, values, max_size=4))
def test_encoding_agrees_with_the_full_check(value: dict[Any, Any]) -> None:
    if full_check(value):
        assert _encode_object(value, "data") == encode_json(value)
    else:
        with pytest.raises(InvalidEventError):
            _encode_object(value, "data")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"score": math.nan}, "NaN"),
        ({"a": {1: "x"}}, "mapping key of type int"),
        ({"note": "a\x00b"}, "NUL"),
        ({"note": "\ud800"}, "not valid Unicode"),
        ({"when": object()}, "not JSON"),
    ],
)
def test_each_rejection_names_the_problem(value: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        _encode_object(value, "data")


def test_a_cycle_is_rejected_as_too_deep() -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(InvalidEventError, match="nested too deeply"):
        _encode_object(looped, "data")
