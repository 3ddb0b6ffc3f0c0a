"""The audit log's keyed hashes, all keyed by the Django secret key.

Event hashes use no key, so anyone can recompute a chain from an export. Three
things are keyed instead, because a database writer could otherwise forge them:

- short hashes of IP addresses, user agents, emails and changed values, which
  unkeyed could be reversed by hashing guesses;
- the signature of a retention checkpoint, the one event a chain may start at
  after sequence 1;
- the signature of a chain head, which names a chain's last event.

Signatures verify under `DJANGO_SECRET_KEY` or any key of
`DJANGO_SECRET_KEY_FALLBACKS`, so the key can be rotated as Django's own signing
allows. Short hashes use the current key only, so they correlate only within
one key's lifetime.
"""

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

SHORT_HASH_SALT = "second.audit.short-hash"
CHECKPOINT_SALT = "second.audit.checkpoint"
HEAD_SALT = "second.audit.chain-head"
SHORT_HASH_LENGTH = 16


def short_hash(value: str) -> str:
    """Return 16 hex characters of a keyed hash of `value`, or "" for "".

    Enough to correlate two events, and without the key a guess cannot be
    checked.
    """
    if not value:
        return ""
    return salted_hmac(SHORT_HASH_SALT, value, algorithm="sha256").hexdigest()[
        :SHORT_HASH_LENGTH
    ]


def sign(salt: str, content: str) -> str:
    """Return the hex HMAC-SHA256 of `content` under the current secret key."""
    return salted_hmac(salt, content, algorithm="sha256").hexdigest()


def signature_valid(salt: str, content: str, signature: str) -> bool:
    """Check `signature` against the current secret key and every fallback."""
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        expected = salted_hmac(salt, content, secret=secret, algorithm="sha256")
        if constant_time_compare(expected.hexdigest(), signature):
            return True
    return False


def head_content(scope: str, last_sequence: int, last_hash: str) -> str:
    """Return the text a chain head's signature covers."""
    return f"{scope}:{last_sequence}:{last_hash}"
