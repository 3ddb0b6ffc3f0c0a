"""The secret-store interface: put, read, rotate and delete by reference.

Reading is tri-state: a value, None for absent, or SecretUnavailable, which
callers turn into a retryable failure, never into a fallback credential or mock
data. Rotating checks the version the caller read and raises SecretConflict
when the row changed meanwhile. Decrypted values are returned to the caller and
held by nothing else.

New values go to the configured adapter. A stored row is read and deleted by
the adapter that wrote it. So rows written before a switch between the local
store and WorkOS Vault stay readable while that adapter is configured. Rotating
such a row writes its new value into the configured adapter.
"""

from typing import Protocol

from django.conf import settings

from apps.secret_store.errors import SecretConflict, SecretUnavailable
from apps.secret_store.local import LocalEncryptedStore
from apps.secret_store.models import StoredSecret

__all__ = ["SecretConflict", "SecretStore", "SecretUnavailable", "secret_store"]


class SecretStore(Protocol):
    backend: str

    def put(self, *, workspace_id, purpose: str, value: str) -> StoredSecret: ...

    def read(self, secret: StoredSecret) -> str | None: ...

    def rotate(self, secret: StoredSecret, *, value: str) -> StoredSecret: ...

    def delete(self, secret: StoredSecret) -> None: ...


class UnavailableStore:
    """Adapter used in place of an adapter this process has not configured."""

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason

    def put(self, *, workspace_id, purpose: str, value: str) -> StoredSecret:
        raise SecretUnavailable("new", self.reason)

    def read(self, secret: StoredSecret) -> str | None:
        raise SecretUnavailable(str(secret.pk), self.reason)

    def rotate(self, secret: StoredSecret, *, value: str) -> StoredSecret:
        raise SecretUnavailable(str(secret.pk), self.reason)

    def delete(self, secret: StoredSecret) -> None:
        raise SecretUnavailable(str(secret.pk), self.reason)


def _vault_store() -> SecretStore:
    from apps.secret_store.vault import VaultStore

    return VaultStore.from_settings()


def adapter_for(backend: str) -> SecretStore:
    """Return the adapter that reads and deletes rows of `backend`."""
    if backend == StoredSecret.Backend.WORKOS:
        if not settings.WORKOS_API_KEY:
            return UnavailableStore(
                backend,
                "the secret is held by WorkOS Vault and WORKOS_API_KEY is not set",
            )
        return _vault_store()
    if settings.WORKOS_API_KEY and not settings.SECOND_TOKEN_ENCRYPTION_KEY:
        return UnavailableStore(
            backend,
            "the secret is held by the local store and SECOND_TOKEN_ENCRYPTION_KEY "
            "is not set",
        )
    return LocalEncryptedStore()


def configured_backend() -> str:
    if settings.WORKOS_API_KEY:
        return StoredSecret.Backend.WORKOS
    return StoredSecret.Backend.LOCAL


class RoutingStore:
    """Store that writes through the configured adapter and reads through the row's."""

    def __init__(self) -> None:
        self.backend = configured_backend()

    def put(self, *, workspace_id, purpose: str, value: str) -> StoredSecret:
        return adapter_for(self.backend).put(
            workspace_id=workspace_id, purpose=purpose, value=value
        )

    def read(self, secret: StoredSecret) -> str | None:
        return adapter_for(secret.backend).read(secret)

    def rotate(self, secret: StoredSecret, *, value: str) -> StoredSecret:
        return adapter_for(self.backend).rotate(secret, value=value)

    def delete(self, secret: StoredSecret) -> None:
        adapter_for(secret.backend).delete(secret)


def secret_store() -> SecretStore:
    """Return the store the settings choose."""
    return RoutingStore()
