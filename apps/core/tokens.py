"""Bearer tokens stored as a lookup prefix plus a keyed hash.

A token reads `<kind>_<prefix>_<secret>`. The prefix finds the row; the HMAC of
the whole token, keyed from the Django secret key and the token kind, proves it
and is compared in constant time. The token itself is never stored.
"""

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

from django.conf import settings

PREFIX_LENGTH = 12
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class IssuedToken:
    token: str
    prefix: str
    token_hash: str


def _hash_key(kind: str) -> bytes:
    material = f"second.{kind}-token:{settings.SECRET_KEY}".encode()
    return hashlib.sha256(material).digest()


def hash_token(kind: str, token: str) -> str:
    return hmac.new(_hash_key(kind), token.encode(), hashlib.sha256).hexdigest()


def issue_token(kind: str) -> IssuedToken:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    token = f"{kind}_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedToken(token=token, prefix=prefix, token_hash=hash_token(kind, token))


def token_prefix(kind: str, token: str) -> str | None:
    """Return the lookup prefix of a well-formed token of this kind, else None."""
    head = f"{kind}_"
    if not token.startswith(head):
        return None
    prefix, separator, secret = token[len(head) :].partition("_")
    if len(prefix) != PREFIX_LENGTH or not separator or len(secret) < 32:
        return None
    return prefix


def token_matches(kind: str, token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(kind, token), stored_hash)
