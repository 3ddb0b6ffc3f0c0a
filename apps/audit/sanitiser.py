"""Bound and redact audit metadata, and clean the texts of an event, before they
are stored.

Limits: 8 KiB of JSON in all, strings of 512 characters, 25 items a list, 50 keys
an object, depth 5. Keys that name secrets, tokens, authorization, cookies,
sessions, prompts, messages, headers, bodies or source files hold `[redacted]`.
"""

import json
import re

REDACTED = "[redacted]"
MAX_BYTES = 8 * 1024
MAX_STRING = 512
MAX_ITEMS = 25
MAX_KEYS = 50
MAX_DEPTH = 5

_SENSITIVE_KEY = re.compile(
    r"secret|token|passw|authori[sz]|cookie|session|prompt|message|header|body"
    r"|source[_-]?(?:file|code)|files|api[_-]?key|credential|private[_-]?key"
    r"|signature",
    re.IGNORECASE,
)
# Control characters, line and paragraph separators, the bidirectional marks
# and overrides, and invisible characters (zero-width spaces and joiners, the
# soft hyphen, the byte order mark), which can make a stored text read
# differently on screen or hide part of it.
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028\u2029"
    r"\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def is_sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(key))


def clean_text(value: str, limit: int) -> str:
    """Return `value` with control characters replaced by spaces, cut to `limit`."""
    value = _CONTROL.sub(" ", value)
    if len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def _clean_string(value: str) -> str:
    return clean_text(value, MAX_STRING)


def _sanitise(value, depth: int):
    # Only objects and lists count as levels: five nested objects keep their
    # innermost values.
    if isinstance(value, dict | list | tuple) and depth > MAX_DEPTH:
        return "[truncated]"
    if isinstance(value, dict):
        cleaned = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_KEYS:
                cleaned["[truncated]"] = f"{len(value) - MAX_KEYS} more keys"
                break
            key = _clean_string(str(key))
            cleaned[key] = (
                REDACTED if is_sensitive_key(key) else _sanitise(item, depth + 1)
            )
        return cleaned
    if isinstance(value, list | tuple):
        items = [_sanitise(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"[{len(value) - MAX_ITEMS} more items]")
        return items
    if isinstance(value, str):
        return _clean_string(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _clean_string(str(value))


def sanitise_metadata(metadata: dict | None) -> dict:
    """Return a bounded, redacted copy of `metadata` that fits in 8 KiB."""
    cleaned = _sanitise(metadata or {}, 1)
    if len(json.dumps(cleaned, ensure_ascii=False).encode()) <= MAX_BYTES:
        return cleaned
    return {"[truncated]": "metadata exceeded 8 KiB and was dropped"}
