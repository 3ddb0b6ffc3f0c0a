"""The local encrypted adapter: AES-256-GCM under the configured keys.

Ciphertext format: `sv1.<key id>.<base64url(nonce || ciphertext || tag)>`. The
associated data binds the secret's workspace id and purpose, so a ciphertext
copied to another row or workspace fails authentication instead of decrypting.
"""

import base64
import logging
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db.models import F
from django.utils import timezone

from apps.secret_store.errors import SecretConflict, SecretUnavailable
from apps.secret_store.keys import key_by_id, keyring
from apps.secret_store.models import StoredSecret

logger = logging.getLogger(__name__)

FORMAT = "sv1"
_NONCE_BYTES = 12


def associated_data(workspace_id, purpose: str) -> bytes:
    return f"second.secret|{FORMAT}|{workspace_id}|{purpose}".encode()


def encrypt(*, workspace_id, purpose: str, value: str) -> tuple[str, str]:
    """Return (key id, ciphertext) for `value` under the newest key."""
    key = keyring()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key.material).encrypt(
        nonce, value.encode(), associated_data(workspace_id, purpose)
    )
    encoded = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return key.key_id, f"{FORMAT}.{key.key_id}.{encoded}"


def decrypt(*, secret_id: str, workspace_id, purpose: str, ciphertext: str) -> str:
    """Decrypt a ciphertext bound to (workspace, purpose) or raise SecretUnavailable."""
    version, _, rest = ciphertext.partition(".")
    key_id, _, encoded = rest.partition(".")
    if version != FORMAT or not key_id or not encoded:
        raise SecretUnavailable(secret_id, "the ciphertext format is not recognised")
    key = key_by_id(key_id)
    if key is None:
        raise SecretUnavailable(
            secret_id,
            f"key {key_id} is not configured; add it to SECOND_TOKEN_ENCRYPTION_KEY",
        )
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        plain = AESGCM(key.material).decrypt(
            nonce, sealed, associated_data(workspace_id, purpose)
        )
    except (InvalidTag, ValueError):
        # ValueError covers damaged base64 (binascii.Error) and a short nonce.
        raise SecretUnavailable(
            secret_id,
            f"the ciphertext does not authenticate under key {key_id} for this "
            "workspace and purpose",
        ) from None
    return plain.decode()


class LocalEncryptedStore:
    """Secret store adapter that keeps ciphertext in the StoredSecret row."""

    backend = StoredSecret.Backend.LOCAL

    def put(self, *, workspace_id, purpose: str, value: str) -> StoredSecret:
        from apps.secret_store.canary import canary_ensure_newest

        canary_ensure_newest()
        key_id, ciphertext = encrypt(
            workspace_id=workspace_id, purpose=purpose, value=value
        )
        secret = StoredSecret.objects.create(
            workspace_id=workspace_id,
            purpose=purpose,
            backend=self.backend,
            key_id=key_id,
            ciphertext=ciphertext,
        )
        logger.info("secret stored: id=%s key=%s", secret.pk, key_id)
        return secret

    def read(self, secret: StoredSecret) -> str | None:
        if not secret.ciphertext:
            return None
        # The key check and the rotation select rows by the key_id column, so a
        # row whose column disagrees with its ciphertext is refused.
        if not secret.ciphertext.startswith(f"{FORMAT}.{secret.key_id}."):
            raise SecretUnavailable(
                str(secret.pk), "the row's key id does not match its ciphertext"
            )
        return decrypt(
            secret_id=str(secret.pk),
            workspace_id=secret.workspace_id,
            purpose=secret.purpose,
            ciphertext=secret.ciphertext,
        )

    def rotate(self, secret: StoredSecret, *, value: str) -> StoredSecret:
        """Replace the value if the row is still at the version the caller read.

        A row that WorkOS Vault stored moves to this store with its new value.
        """
        from apps.secret_store.canary import canary_ensure_newest

        canary_ensure_newest()
        key_id, ciphertext = encrypt(
            workspace_id=secret.workspace_id, purpose=secret.purpose, value=value
        )
        changed = StoredSecret.objects.filter(
            pk=secret.pk, version=secret.version
        ).update(
            backend=self.backend,
            key_id=key_id,
            ciphertext=ciphertext,
            vault_object_id="",
            vault_version="",
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
        if not changed:
            raise SecretConflict(str(secret.pk))

        secret.refresh_from_db()
        logger.info("secret replaced: id=%s key=%s", secret.pk, key_id)
        return secret

    def delete(self, secret: StoredSecret) -> None:
        secret_id = secret.pk
        secret.delete()
        logger.info("secret deleted: id=%s", secret_id)
