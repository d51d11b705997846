"""The EDN reader and writer (harness.edn)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.edn import EDNError, FlatMaps, Keyword, dumps, loads, parse


def test_scalars_and_keywords() -> None:
    assert loads("nil") is None
    assert loads("true") is True and loads("false") is False
    assert loads("-12") == -12 and loads("7N") == 7 and loads("+3") == 3
    assert loads("1.5") == 1.5 and loads("2e3") == 2000.0 and loads("1.25M") == 1.25
    assert loads(":read") == "read"
    assert loads(":jepsen.history/op") == "jepsen.history/op"
    assert loads("foo-bar") == "foo-bar"  # symbols become strings too
    assert loads(r'"a\"b\\c\nd\u00e9"') == 'a"b\\c\nd\u00e9'
    assert loads(r"\a") == "a" and loads(r"\newline") == "\n"


def test_collections() -> None:
    assert loads("[1 [2 3] (4)]") == [1, [2, 3], [4]]
    assert loads("{:a 1, :b [nil :x]}") == {"a": 1, "b": [None, "x"]}
    assert loads("#{1 2}") == frozenset({1, 2})
    assert loads("{[1 2] :v}") == {(1, 2): "v"}  # vector keys become tuples


def test_comments_discard_commas_and_tags() -> None:
    assert loads("; a comment\n[1, 2 ; another\n #_ 99 3]") == [1, 2, 3]
    assert loads('#inst "2020-01-01"') == "2020-01-01"
    assert [f.value for f in parse("#_ {:x 1} 5 #_[1] 6")] == [5, 6]


def test_forms_know_their_lines() -> None:
    forms = parse("1\n\n[{:a 1}\n {:b\n 2}\n 3]\n{:c 3}")
    assert [(f.kind, f.line) for f in forms] == [("atom", 1), ("vector", 3), ("map", 7)]
    assert forms[1].element_lines == (3, 4, 6)


@pytest.mark.parametrize("text, line, words", [
    ("[1 2", 1, "never closed"),
    ("1\n{:a}", 2, "key without a value"),
    ("1\n\n\"abc", 3, "not terminated"),
    ("(1]", 1, "closed by"),
    ("1 ]", 1, "unmatched"),
    ("1\n 12x", 2, "not a number"),
    ("[1 #_]", 1, "discards nothing"),
    ("  #?", 1, "cannot read '#?'"),
])
def test_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(EDNError) as e:
        parse(text)
    assert e.value.line == line
    assert words in str(e.value)


def test_dumps_writes_keywords_and_strings() -> None:
    assert dumps({Keyword("type"): Keyword("ok"), Keyword("value"): [1, None, "x y", True]}) \
        == '{:type :ok, :value [1 nil "x y" true]}'
    assert dumps('a"b\n') == r'"a\"b\n"'
    with pytest.raises(ValueError):
        dumps(Keyword("not a keyword"))
    with pytest.raises(ValueError):
        dumps(object())


edn_data = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12)


@pytest.mark.slow
@given(edn_data)
def test_dumps_then_loads_is_identity(v: Any) -> None:
    assert loads(dumps(v)) == v


@pytest.mark.parametrize("text, words", [
    ("[" * 200 + "]" * 200, "more than 100 deep"),
    ("[" + "7" * 4400 + "]", "more than 4300 digits"),
    ('"\\uD800 alone"', "lone surrogate"),
])
def test_bounds_are_errors(text: str, words: str) -> None:
    with pytest.raises(EDNError, match=words):
        parse(text)


def test_surrogate_pairs_are_one_character_and_strings_read_without_backtracking() -> None:
    assert loads('"\\uD83D\\uDE00"') == "\U0001F600"
    assert loads('"' + "x" * 100_000 + '\\"' + '"') == "x" * 100_000 + '"'


def test_a_flat_map_is_tokenized_as_edn_tokenizes() -> None:
    """Longest atoms only: {:a x:y 1} has three elements (an error), not {:a x, :y 1}."""
    assert FlatMaps().map("{:a x:y 1}", 1) is None
    assert FlatMaps().map("{:a 1, :b [2 \"c\" :d]}", 1) == {"a": 1, "b": [2, "c", "d"]}
    assert FlatMaps().map("{:a 1 :b" + " :c" * 40, 1) is None  # a line that is not a map fails, and fast
