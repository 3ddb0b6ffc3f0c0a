"""The keys of the local encrypted store, parsed from SECOND_TOKEN_ENCRYPTION_KEY.

A key is base64 of 32 bytes, 64 hex characters, or a passphrase hashed into a key
with scrypt. A comma-separated list rotates, newest first: the newest key writes,
every listed key reads. Keys are named by a short id derived from the key, which
is what logs and messages show.
"""

import base64
import binascii
import functools
import hashlib
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# A fixed salt keeps a passphrase mapping to the same key in every process.
_PASSPHRASE_SALT = b"second.local-secret-store.v1"


@dataclass(frozen=True)
class EncryptionKey:
    key_id: str
    material: bytes
    from_passphrase: bool

    def __repr__(self) -> str:
        return f"EncryptionKey(key_id={self.key_id!r})"


def _decode_base64(value: str) -> bytes | None:
    """Decode standard or URL-safe base64 strictly: any other character means the
    value is a passphrase, never a key with characters silently dropped."""
    standard = value.replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if len(decoded) == 32 else None


_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def _damaged_key_problem(value: str) -> str | None:
    """Return why `value` looks like a cut or padded key rather than a passphrase.

    Such a value would otherwise be hashed into a passphrase key of its own and
    quietly fail to decrypt what the real key wrote.
    """
    if _HEX.match(value) and 48 <= len(value) <= 80 and len(value) != 64:
        return f"is {len(value)} hex characters, and a hex key is 64"
    looks_base64 = _BASE64.match(value) and 40 <= len(value) <= 46
    if looks_base64 and _decode_base64(value.rstrip("=")) is None:
        return (
            f"is {len(value)} base64 characters that do not decode to 32 bytes "
            "(a base64 key is 43 characters, or 44 with padding)"
        )
    return None


def _key_id(material: bytes) -> str:
    return hashlib.sha256(b"second.key-id:" + material).hexdigest()[:12]


def parse_key(value: str) -> EncryptionKey:
    if len(value) == 64:
        try:
            material = bytes.fromhex(value)
            return EncryptionKey(_key_id(material), material, from_passphrase=False)
        except ValueError:
            pass
    material = _decode_base64(value)
    if material is not None:
        return EncryptionKey(_key_id(material), material, from_passphrase=False)
    material = hashlib.scrypt(
        value.encode(), salt=_PASSPHRASE_SALT, n=2**14, r=8, p=1, dklen=32
    )
    return EncryptionKey(_key_id(material), material, from_passphrase=True)


@functools.cache
def _keyring_for(configured: str) -> tuple[EncryptionKey, ...]:
    values = [item.strip() for item in configured.split(",") if item.strip()]
    if not values:
        raise ImproperlyConfigured(
            "SECOND_TOKEN_ENCRYPTION_KEY is empty; set base64 of 32 bytes or 64 hex "
            "characters."
        )
    problems = [
        f"key {position} of SECOND_TOKEN_ENCRYPTION_KEY {problem}"
        for position, value in enumerate(values, start=1)
        if (problem := _damaged_key_problem(value))
    ]
    if problems:
        raise ImproperlyConfigured(
            "; ".join(problems) + ". The key looks truncated: paste the whole key, "
            "or use a passphrase that contains a character outside base64."
        )
    keys = tuple(parse_key(value) for value in values)
    for key in keys:
        if key.from_passphrase:
            logger.warning(
                "encryption key %s is a passphrase hashed into a key; prefer 32 "
                "random bytes",
                key.key_id,
            )
    return keys


def keyring() -> tuple[EncryptionKey, ...]:
    """Return the configured keys, newest first."""
    return _keyring_for(settings.SECOND_TOKEN_ENCRYPTION_KEY)


def key_by_id(key_id: str) -> EncryptionKey | None:
    return next((key for key in keyring() if key.key_id == key_id), None)
