"""The approval hash of an agents.json document.

The canonical form is what JavaScript's `JSON.stringify` writes for the document as
`JSON.parse` reads it, with object keys sorted recursively by UTF-16 code units. The
same document therefore hashes to the same value here as in the JavaScript
implementation of Second. The only normalisation before hashing is `drop_empty`.
"""

import copy
import hashlib
import json
import math
import re
from decimal import Decimal
from typing import Any

HASH_SCHEMA_VERSION = 1

# JSON.parse reads every number as an IEEE-754 double, so integers outside this
# range lose precision there and must lose it here too.
MAX_SAFE_INTEGER = 2**53 - 1

# Far deeper than any real agents.json, and shallow enough for the recursive
# serialiser and validators to stay well inside Python's default recursion limit.
MAX_NESTING_DEPTH = 100

_HASH_PATTERN = re.compile(r"^v([0-9]+):[0-9a-f]{64}$")

# JSON.stringify writes these control characters with a short escape and every
# other character below U+0020 as \u00XX.
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}

_EMPTY_AGENT_LISTS = ("tools", "dataCollections")


def drop_empty(document: Any) -> Any:
    """Return a copy without empty `appTools`, `agents`, agent `tools` and
    `dataCollections`.

    A value of any other shape is copied unchanged, so an invalid document still
    hashes deterministically.
    """
    result = copy.deepcopy(document)
    if not isinstance(result, dict):
        return result

    for key in ("appTools", "agents"):
        if result.get(key) == []:
            del result[key]

    agents = result.get("agents")
    if isinstance(agents, list):
        for agent in agents:
            _drop_empty_agent_lists(agent)

    return result


def _drop_empty_agent_lists(agent: Any) -> None:
    if not isinstance(agent, dict):
        return
    for key in _EMPTY_AGENT_LISTS:
        if agent.get(key) == []:
            del agent[key]


def canonical_json(document: Any) -> str:
    """Serialise `document` as JavaScript's `JSON.stringify` would, keys sorted.

    Raises ValueError for values JSON cannot carry (NaN, infinities, non-string
    keys, objects that are not JSON types).
    """
    parts: list[str] = []
    _write_value(document, parts)
    return "".join(parts)


def agents_hash(document: Any, schema_version: int = HASH_SCHEMA_VERSION) -> str:
    """Return the `v1:` + SHA-256 hex approval hash of an agents.json document."""
    if schema_version != HASH_SCHEMA_VERSION:
        raise ValueError(
            f"Hash schema version {schema_version!r} is not supported; this product "
            f"computes version {HASH_SCHEMA_VERSION} hashes only."
        )

    canonical = canonical_json(drop_empty(document))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"v{schema_version}:{digest}"


def hash_schema_version(value: str | None) -> int | None:
    """Return the schema version of a `vN:<sha256 hex>` hash, or None if malformed."""
    if not isinstance(value, str):
        return None
    match = _HASH_PATTERN.match(value)
    if match is None:
        return None
    return int(match.group(1))


def parse_json_text(text: str | bytes) -> Any:
    """Parse JSON text into the values JavaScript's `JSON.parse` would give.

    Integers beyond the safe integer range become floats, as they are doubles in
    JavaScript. Raises ValueError on invalid JSON, on NaN and Infinity literals
    (not JSON), on numbers beyond the double range (JSON.parse turns them into
    Infinity, which JSON.stringify writes as null) and on nesting deeper than
    MAX_NESTING_DEPTH.
    """
    try:
        document = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    except RecursionError:
        raise ValueError(_too_deep_message()) from None

    if _nesting_depth(document) > MAX_NESTING_DEPTH:
        raise ValueError(_too_deep_message())
    return document


def _too_deep_message() -> str:
    return f"The JSON is nested more than {MAX_NESTING_DEPTH} levels deep; flatten it."


def _nesting_depth(value: Any) -> int:
    """Return how many arrays and objects deep `value` goes, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _parse_int(text: str) -> int | float:
    value = int(text)
    if abs(value) <= MAX_SAFE_INTEGER:
        return value
    return _parse_float(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(
            f"The number {text} is beyond the range of a double; use a smaller number "
            "or send it as a string."
        )
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON; send a number, a string or null.")


def format_number(value: int | float) -> str:
    """Write a number as ECMAScript's Number::toString does for its double value."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(
            f"The number {value!r} cannot be written as JSON; use a finite number."
        )
    if number == 0:
        return "0"

    sign = "-" if number < 0 else ""
    digits, exponent = _shortest_digits(abs(number))
    return sign + _place_decimal_point(digits, exponent)


def _shortest_digits(number: float) -> tuple[str, int]:
    """Return (digits, n) with number = 0.digits x 10**n and no trailing zeros.

    Python's repr gives the shortest digit string that round-trips, which is the
    digit string ECMAScript's Number::toString chooses as well.
    """
    decimal_tuple = Decimal(repr(number)).as_tuple()
    digits = "".join(str(digit) for digit in decimal_tuple.digits)
    stripped = digits.rstrip("0")
    exponent = int(decimal_tuple.exponent) + len(digits) - len(stripped)
    return stripped, exponent + len(stripped)


def _place_decimal_point(digits: str, n: int) -> str:
    """Apply the notation rules of ECMAScript's Number::toString (steps for k, n)."""
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits

    exponent = n - 1
    exponent_text = f"e+{exponent}" if exponent >= 0 else f"e-{-exponent}"
    if k == 1:
        return digits + exponent_text
    return f"{digits[0]}.{digits[1:]}{exponent_text}"


def quote_string(value: str) -> str:
    """Quote a string as JSON.stringify does, keeping non-ASCII characters as is."""
    joined = _join_surrogate_pairs(value)
    out = ['"']
    for char in joined:
        out.append(_escape_char(char))
    out.append('"')
    return "".join(out)


def _join_surrogate_pairs(value: str) -> str:
    # A Python string may contain a surrogate pair as two code points, which
    # JavaScript treats as one character, so join them and keep only lone ones.
    encoded = value.encode("utf-16-le", "surrogatepass")
    return encoded.decode("utf-16-le", "surrogatepass")


def _escape_char(char: str) -> str:
    escape = _SHORT_ESCAPES.get(char)
    if escape is not None:
        return escape

    code_point = ord(char)
    if code_point < 0x20 or 0xD800 <= code_point <= 0xDFFF:
        return f"\\u{code_point:04x}"
    return char


def _utf16_sort_key(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare in the order of their code units, which is
    # how JavaScript compares strings.
    return _join_surrogate_pairs(key).encode("utf-16-be", "surrogatepass")


def _write_value(value: Any, parts: list[str]) -> None:
    if value is None:
        parts.append("null")
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif isinstance(value, int | float):
        parts.append(format_number(value))
    elif isinstance(value, str):
        parts.append(quote_string(value))
    elif isinstance(value, list | tuple):
        _write_array(value, parts)
    elif isinstance(value, dict):
        _write_object(value, parts)
    else:
        raise ValueError(
            f"A value of type {type(value).__name__} cannot be written as JSON; use "
            "dicts, lists, strings, numbers, booleans and None only."
        )


def _write_array(values: list | tuple, parts: list[str]) -> None:
    parts.append("[")
    for index, item in enumerate(values):
        if index:
            parts.append(",")
        _write_value(item, parts)
    parts.append("]")


def _write_object(mapping: dict, parts: list[str]) -> None:
    for key in mapping:
        if not isinstance(key, str):
            raise ValueError(
                f"The object key {key!r} is not a string; JSON object keys must be "
                "strings."
            )

    parts.append("{")
    for index, key in enumerate(sorted(mapping, key=_utf16_sort_key)):
        if index:
            parts.append(",")
        parts.append(quote_string(key))
        parts.append(":")
        _write_value(mapping[key], parts)
    parts.append("}")
