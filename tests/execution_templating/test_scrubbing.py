"""Tests of secret scrubbing in tool results, with a canary secret."""

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from apps.execution.scrubbing import (
    MIN_SECRET_LENGTH,
    REDACTED,
    scrub,
    scrub_text,
    secret_forms,
)

CANARY = "sk_live_CANARY_7f3a9c"

CANARY_WITH_SLASH = "ab/cd+ef=gh é"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


ENCODINGS = [
    ("raw", lambda s: s),
    ("base64", lambda s: _b64(s.encode())),
    ("base64 unpadded", lambda s: _b64(s.encode()).rstrip("=")),
    ("base64 urlsafe", lambda s: _b64url(s.encode())),
    ("base64 urlsafe unpadded", lambda s: _b64url(s.encode()).rstrip("=")),
    ("quote", lambda s: quote(s, safe="")),
    ("quote lower-case escapes", lambda s: _lower_escapes(quote(s, safe=""))),
    ("quote_plus", quote_plus),
    ("hex", lambda s: s.encode().hex()),
    ("hex upper", lambda s: s.encode().hex().upper()),
    ("json escaped", lambda s: json.dumps(s)[1:-1]),
    ("basic auth user", lambda s: _b64(f"bot:{s}".encode())),
    ("basic auth as user", lambda s: _b64(f"{s}:x".encode())),
    ("basic auth urlsafe", lambda s: _b64url(f"client-id:{s}".encode())),
]


@pytest.mark.parametrize(
    "encode",
    [encoding for _, encoding in ENCODINGS],
    ids=[name for name, _ in ENCODINGS],
)
def test_canary_encoding_is_redacted(encode):
    encoded = encode(CANARY)

    scrubbed = scrub_text(f"echo: {encoded} end", [CANARY])

    assert encoded not in scrubbed
    assert REDACTED in scrubbed
    assert scrubbed.startswith("echo: ")
    assert scrubbed.endswith(" end")


@pytest.mark.parametrize(
    "encode",
    [encoding for _, encoding in ENCODINGS],
    ids=[name for name, _ in ENCODINGS],
)
def test_special_character_secret_is_redacted(encode):
    encoded = encode(CANARY_WITH_SLASH)

    scrubbed = scrub_text(f"[{encoded}]", [CANARY_WITH_SLASH])

    assert encoded not in scrubbed


def test_basic_header_redacted_whole():
    header = "Basic " + _b64(f"{CANARY}:".encode())

    assert scrub_text(header, [CANARY]) == f"Basic {REDACTED}"


def test_base64_inside_longer_run_is_redacted():
    encoded = _b64(b"prefix-bytes " + CANARY.encode() + b" suffix")

    assert scrub_text(encoded, [CANARY]) == REDACTED


def test_secret_inside_word_is_redacted():
    assert scrub_text(f"token={CANARY}&x=1", [CANARY]) == f"token={REDACTED}&x=1"


def test_every_occurrence_is_redacted():
    text = f"{CANARY} {CANARY}{CANARY}"

    assert scrub_text(text, [CANARY]).count(REDACTED) == 3


def test_unrelated_text_unchanged():
    text = "ordinary response text with base64ish words like abcdefghijkl and 1234"

    assert scrub_text(text, [CANARY]) == text


def test_scrub_walks_nested_json():
    value = {
        "ok": True,
        "echo": {"headers": {"authorization": f"Bearer {CANARY}"}},
        "list": [CANARY, 1, None, {"deep": quote_plus(CANARY)}],
        CANARY: "key",
    }

    scrubbed = scrub(value, [CANARY])

    assert CANARY not in json.dumps(scrubbed)
    assert scrubbed["ok"] is True
    assert scrubbed["echo"]["headers"]["authorization"] == f"Bearer {REDACTED}"
    assert scrubbed["list"][:3] == [REDACTED, 1, None]
    assert scrubbed["list"][3] == {"deep": REDACTED}
    assert scrubbed[REDACTED] == "key"


def test_scrub_redacts_numeric_secret():
    assert scrub({"pin": 98765432, "other": 5}, ["98765432"]) == {
        "pin": REDACTED,
        "other": 5,
    }


def test_scrub_does_not_modify_input():
    value = {"a": [CANARY]}

    scrub(value, [CANARY])

    assert value == {"a": [CANARY]}


def test_several_secrets():
    other = "ghp_second_secret_99"

    scrubbed = scrub_text(f"{CANARY} and {_b64(other.encode())}", [CANARY, other])

    assert scrubbed == f"{REDACTED} and {REDACTED}"


def test_short_secrets_are_not_scrubbed():
    short = "a" * (MIN_SECRET_LENGTH - 1)

    assert scrub_text("banana", [short]) == "banana"


def test_minimum_length_secret_is_scrubbed():
    secret = "k" * MIN_SECRET_LENGTH

    assert scrub_text(f"x{secret}x", [secret]) == f"x{REDACTED}x"


def test_no_secrets_leaves_text():
    assert scrub_text(CANARY, []) == CANARY


def test_secret_forms_include_raw_and_encodings():
    forms = secret_forms(CANARY)

    assert CANARY in forms
    assert _b64(CANARY.encode()) in forms
    assert CANARY.encode().hex() in forms
    assert quote(CANARY, safe="") in forms
