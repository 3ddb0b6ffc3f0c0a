"""Bounds on what runs and tool calls store and hand back."""

import json

MAX_STORED_JSON_BYTES = 1024 * 1024
MAX_DEPTH = 32


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(item, level + 1) for item in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(item, level + 1) for item in value), default=level)
    return level


def _without_nul(value):
    """Replace U+0000, which PostgreSQL cannot store in jsonb, with U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def bound_json(value, *, max_bytes: int = MAX_STORED_JSON_BYTES):
    """Return `value` if it is JSON within the size and depth limits, else a marker.

    Upstream responses may contain U+0000, which is replaced so the row can be
    stored.
    """
    if value is None:
        return None
    if _depth(value) > MAX_DEPTH:
        return {"truncated": True, "reason": f"nested deeper than {MAX_DEPTH} levels"}
    value = _without_nul(value)
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return {"truncated": True, "reason": "not JSON-serialisable"}
    if len(encoded.encode()) > max_bytes:
        return {"truncated": True, "reason": f"larger than {max_bytes} bytes"}
    return value
