"""Removal of injected secret values, and their common encodings, from tool results.

Upstream APIs echo credentials back in many shapes: as sent, percent-encoded in a
URL, base64-encoded in a Basic `Authorization` header, hex-encoded or escaped inside
JSON text. Each shape of each secret is replaced with `[redacted]` by exact
substring match. Base64 runs are also decoded and redacted whole when the decoded
bytes contain a secret, which covers `user:secret` Basic credentials for any user
name.

Separately, `redact_credential_fields` replaces the values of JSON keys that name
credentials (`access_token`, `password`, `set-cookie` and the like), because an
upstream may hand back credentials of its own that were never injected.
"""

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"

# Secrets shorter than this are not scrubbed: replacing every occurrence of one to
# three characters would destroy the result while protecting almost nothing,
# because a credential that short can be guessed anyway.
MIN_SECRET_LENGTH = 4

# Runs of the standard and URL-safe base64 alphabets with optional padding. Eight
# characters is the base64 length of the shortest scrubbed secret's Basic form.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")

_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def secret_forms(secret: str) -> set[str]:
    """Return the raw value of `secret` and the encodings it is commonly seen in."""
    raw = secret.encode("utf-8")
    forms = {secret}

    forms |= _base64_forms(raw)
    forms |= _percent_forms(secret)
    forms |= {raw.hex(), raw.hex().upper()}
    forms |= _json_forms(secret)
    forms |= {secret.lower(), secret.upper()}
    forms |= {
        "".join(f"%{byte:02X}" for byte in raw),
        "".join(f"%{byte:02x}" for byte in raw),
    }

    return {form for form in forms if form}


def _base64_forms(raw: bytes) -> set[str]:
    standard = base64.b64encode(raw).decode("ascii")
    urlsafe = base64.urlsafe_b64encode(raw).decode("ascii")
    return {standard, standard.rstrip("="), urlsafe, urlsafe.rstrip("=")}


def _percent_forms(secret: str) -> set[str]:
    forms = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    # Percent escapes are case-insensitive, and some encoders write %2f.
    lower = {_PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), form) for form in forms}
    return forms | lower


def _json_forms(secret: str) -> set[str]:
    ascii_form = json.dumps(secret)[1:-1]
    unicode_form = json.dumps(secret, ensure_ascii=False)[1:-1]
    # Some JSON encoders also escape "/" as "\/".
    slashed = {form.replace("/", "\\/") for form in (ascii_form, unicode_form)}
    return {ascii_form, unicode_form} | slashed


class _Scrubber:
    """The forms of a set of secrets, computed once for a whole result."""

    def __init__(self, secrets: Iterable[str]) -> None:
        usable = {secret for secret in secrets if isinstance(secret, str)}
        short = {secret for secret in usable if len(secret) < MIN_SECRET_LENGTH}
        if short:
            logger.warning(
                "Not scrubbing %d secret value(s) shorter than %d characters.",
                len(short),
                MIN_SECRET_LENGTH,
            )

        self.secret_bytes = [secret.encode("utf-8") for secret in usable - short]
        forms: set[str] = set()
        for secret in usable - short:
            forms |= secret_forms(secret)
        # Longer forms first, so a form that contains another is replaced whole.
        self.forms = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        if not self.forms:
            return text

        # Whole base64 runs go first, so a run holding "secret:user" is not left
        # half redacted by the plain base64 form of the secret.
        text = _BASE64_RUN.sub(self._redact_base64_run, text)
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def _redact_base64_run(self, match: re.Match[str]) -> str:
        run = match.group(0)
        # A run may start mid-quantum when text precedes the encoded bytes, so each
        # of the four alignments is decoded.
        for offset in range(4):
            decoded = _decode_base64(run[offset:])
            if decoded is not None and self._contains_secret(decoded):
                return REDACTED
        return run

    def _contains_secret(self, decoded: bytes) -> bool:
        return any(secret in decoded for secret in self.secret_bytes)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._number(value)
        return value

    def _number(self, value: int | float) -> int | float | str:
        # A numeric secret can come back as a JSON number.
        text = str(value)
        if self.text(text) != text:
            return REDACTED
        return value


def _decode_base64(run: str) -> bytes | None:
    text = run.rstrip("=").replace("-", "+").replace("_", "/")
    if len(text) % 4 == 1:
        text = text[:-1]
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with each secret, in any of its common encodings, redacted."""
    return _Scrubber(secrets).text(text)


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Return a copy of JSON-like `value` with secrets redacted in keys and values.

    Two keys that both scrub to the same text collapse into one, the later winning.
    """
    return _Scrubber(secrets).value(value)


# Keys whose values are credentials, compared after lower-casing and removing
# "-" and "_", so `access_token`, `accessToken` and `Access-Token` all match.
# Whole keys only: `tokens_used`, `token_type` or `ts` are left alone.
CREDENTIAL_KEYS = frozenset(
    {
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "clientsecret",
        "apikey",
        "xapikey",
        "password",
        "secret",
        "token",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "privatekey",
    }
)


def is_credential_key(key: object) -> bool:
    """Tell whether JSON object key `key` names a credential field."""
    if not isinstance(key, str):
        return False
    folded = key.lower().replace("-", "").replace("_", "")
    return folded in CREDENTIAL_KEYS


def redact_credential_fields(value: Any) -> Any:
    """Return a copy of JSON-like `value` with credential fields redacted.

    The value of every key that `is_credential_key` accepts, at any depth, is
    replaced with `[redacted]`. Null and boolean values stay, because they carry
    no credential (`"password": null`, `"secret": false`).
    """
    if isinstance(value, dict):
        return {key: _redact_field(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_credential_fields(item) for item in value]
    return value


def _redact_field(key: object, item: Any) -> Any:
    if is_credential_key(key) and item is not None and not isinstance(item, bool):
        return REDACTED
    return redact_credential_fields(item)
