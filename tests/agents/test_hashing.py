"""Tests of the agents.json approval hash against hashes computed by JavaScript."""

import copy
import json
import random
from pathlib import Path

import pytest

from apps.agents.hashing import (
    MAX_NESTING_DEPTH,
    agents_hash,
    canonical_json,
    drop_empty,
    format_number,
    hash_schema_version,
    parse_json_text,
)

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"

VECTORS = json.loads((EXAMPLES / "hash-vectors.json").read_text())["vectors"]

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.agents.json"))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_hash_matches_javascript_vector(vector):
    document = parse_json_text(vector["document"])

    assert agents_hash(document) == vector["hash"]


def test_vectors_cover_the_three_cases():
    assert {vector["name"] for vector in VECTORS} == {"drops", "numbers", "keyorder"}


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1.0, "1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (0.1, "0.1"),
        (1e16, "10000000000000000"),
        (-0.0, "0"),
        (0, "0"),
        (12345678901234567890, "12345678901234567000"),
        (2**53, "9007199254740992"),
        (123.456, "123.456"),
        (-1.5e-7, "-1.5e-7"),
        (1.2345e25, "1.2345e+25"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (100, "100"),
    ],
)
def test_format_number_matches_ecmascript(number, expected):
    assert format_number(number) == expected


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf"), 10**400])
def test_format_number_rejects_non_finite(number):
    with pytest.raises(ValueError):
        format_number(number)


def test_parse_json_text_turns_unsafe_ints_into_floats():
    parsed = parse_json_text('{"big": 12345678901234567890, "safe": 9007199254740991}')

    assert parsed["big"] == 12345678901234567000.0
    assert isinstance(parsed["big"], float)
    assert parsed["safe"] == 9007199254740991
    assert isinstance(parsed["safe"], int)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "[1e400]"])
def test_parse_json_text_rejects_non_finite(text):
    with pytest.raises(ValueError):
        parse_json_text(text)


def test_parse_json_text_rejects_invalid_json():
    with pytest.raises(ValueError):
        parse_json_text("{'single': 'quotes'}")


def test_canonical_json_sorts_by_utf16_code_units():
    # U+1F600 is the surrogate pair D83D DE00, which sorts before U+FFFD in UTF-16
    # although its code point is larger.
    document = {"\ufffd": 4, "\U0001f600": 3, "é": 2, "z": 1, "A": 5}

    assert canonical_json(document) == '{"A":5,"z":1,"é":2,"\U0001f600":3,"\ufffd":4}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('quote " and \\ backslash', '"quote \\" and \\\\ backslash"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x1f", '"\\u0000\\u001f"'),
        ("\x7f and \u2028", '"\x7f and \u2028"'),
        ("lone \ud800 surrogate", '"lone \\ud800 surrogate"'),
        ("low \udfff alone", '"low \\udfff alone"'),
        ("pair \ud83d\ude00 joined", '"pair \U0001f600 joined"'),
        ("non-ASCII é ü 日本", '"non-ASCII é ü 日本"'),
        ("/slash", '"/slash"'),
    ],
)
def test_canonical_json_escapes_like_json_stringify(value, expected):
    assert canonical_json(value) == expected


def test_canonical_json_has_no_whitespace():
    document = {"b": [1, 2, {"c": None}], "a": True, "d": False}

    assert canonical_json(document) == '{"a":true,"b":[1,2,{"c":null}],"d":false}'


@pytest.mark.parametrize("value", [{1: "a"}, {"a": {1, 2}}, {"a": b"bytes"}])
def test_canonical_json_rejects_non_json_values(value):
    with pytest.raises(ValueError):
        canonical_json(value)


def test_drop_empty_removes_only_empty_lists():
    document = {
        "appTools": [],
        "agents": [
            {"id": "a", "tools": [], "dataCollections": [], "other": []},
            {"id": "b", "tools": [{"name": "t"}], "dataCollections": ["crm"]},
        ],
    }

    dropped = drop_empty(document)

    assert "appTools" not in dropped
    assert dropped["agents"][0] == {"id": "a", "other": []}
    assert dropped["agents"][1] == document["agents"][1]


def test_drop_empty_removes_empty_agents():
    assert drop_empty({"agents": [], "appTools": [{"name": "t"}]}) == {
        "appTools": [{"name": "t"}]
    }


def test_drop_empty_leaves_input_unchanged():
    document = {"appTools": [], "agents": [{"id": "a", "tools": []}]}
    before = copy.deepcopy(document)

    drop_empty(document)

    assert document == before


def test_drop_empty_does_not_normalise_domains():
    document = {"appTools": [{"integration": {"domain": "WWW.Slack.com"}}]}

    assert drop_empty(document) == document


def test_hash_equal_with_and_without_empty_lists():
    with_empty = {"agents": [{"id": "a", "tools": [], "dataCollections": []}]}
    without = {"agents": [{"id": "a"}]}

    assert agents_hash(with_empty) == agents_hash(without)
    assert agents_hash({**without, "appTools": []}) == agents_hash(without)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("v1:" + "a" * 64, 1),
        ("v12:" + "0" * 64, 12),
        ("v1:" + "A" * 64, None),
        ("v1:abc", None),
        ("sha256:" + "a" * 64, None),
        ("", None),
        (None, None),
    ],
)
def test_hash_schema_version(value, expected):
    assert hash_schema_version(value) == expected


def test_agents_hash_rejects_unknown_schema_version():
    with pytest.raises(ValueError):
        agents_hash({"agents": []}, schema_version=2)


def test_agents_hash_format():
    digest = agents_hash({"agents": [{"id": "a"}]})

    assert digest.startswith("v1:")
    assert hash_schema_version(digest) == 1


# Property tests: seeded random reorderings and edits of the example documents.


def _shuffled(value, rng: random.Random):
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


def _leaf_paths(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaf_paths(item, (*path, index))
    else:
        yield path


def _changed_leaf(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return 0
    return [*value, 1] if isinstance(value, list) else {"added": 1}


def _set_path(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.name)
def test_key_order_and_whitespace_never_change_hash(example):
    text = example.read_text()
    expected = agents_hash(parse_json_text(text))
    rng = random.Random(example.name)

    for indent in (None, 1, 4, "\t"):
        shuffled = _shuffled(parse_json_text(text), rng)
        reformatted = json.dumps(shuffled, indent=indent, ensure_ascii=indent is None)

        assert agents_hash(parse_json_text(reformatted)) == expected


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.name)
def test_any_content_change_changes_hash(example):
    document = parse_json_text(example.read_text())
    original = agents_hash(document)
    paths = list(_leaf_paths(document))

    assert paths
    for path in paths:
        changed = copy.deepcopy(document)
        leaf = changed
        for key in path:
            leaf = leaf[key]
        _set_path(changed, path, _changed_leaf(leaf))

        assert agents_hash(changed) != original, path


def test_renaming_a_key_changes_hash():
    document = {"agents": [{"id": "a", "name": "A"}]}
    renamed = {"agents": [{"id": "a", "Name": "A"}]}

    assert agents_hash(document) != agents_hash(renamed)


def test_reordering_a_list_changes_hash():
    document = {"agents": [{"id": "a"}, {"id": "b"}]}
    reordered = {"agents": [{"id": "b"}, {"id": "a"}]}

    assert agents_hash(document) != agents_hash(reordered)


def test_parse_json_text_rejects_deep_nesting():
    deep = "[" * (MAX_NESTING_DEPTH + 1) + "]" * (MAX_NESTING_DEPTH + 1)

    with pytest.raises(ValueError):
        parse_json_text(deep)


def test_parse_json_text_rejects_very_deep_nesting():
    very_deep = "[" * 100_000 + "]" * 100_000

    with pytest.raises(ValueError):
        parse_json_text(very_deep)


def test_parse_json_text_accepts_max_nesting():
    nested = "[" * MAX_NESTING_DEPTH + "]" * MAX_NESTING_DEPTH

    document = parse_json_text(nested)

    assert agents_hash(document).startswith("v1:")
