"""The secret-store interface: put, read, rotate and delete by reference.

Reading is tri-state: a value, None for absent, or SecretUnavailable, which
callers turn into a retryable failure, never into a fallback credential or mock
data. Decrypted values are returned to the caller and held by nothing else.
"""

from typing import Protocol

from django.conf import settings

from apps.secret_store.errors import SecretUnavailable
from apps.secret_store.local import LocalEncryptedStore
from apps.secret_store.models import StoredSecret

__all__ = ["SecretStore", "SecretUnavailable", "secret_store"]


class SecretStore(Protocol):
    def put(self, *, workspace_id, purpose: str, value: str) -> StoredSecret: ...

    def read(self, secret: StoredSecret) -> str | None: ...

    def rotate(self, secret: StoredSecret, *, value: str) -> StoredSecret: ...

    def delete(self, secret: StoredSecret) -> None: ...


class UnavailableStore:
    """Stands in for a configured store whose adapter this version lacks."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def put(self, *, workspace_id, purpose: str, value: str) -> StoredSecret:
        raise SecretUnavailable("new", self.reason)

    def read(self, secret: StoredSecret) -> str | None:
        raise SecretUnavailable(str(secret.pk), self.reason)

    def rotate(self, secret: StoredSecret, *, value: str) -> StoredSecret:
        raise SecretUnavailable(str(secret.pk), self.reason)

    def delete(self, secret: StoredSecret) -> None:
        raise SecretUnavailable(str(secret.pk), self.reason)


def secret_store() -> SecretStore:
    """Return the adapter the settings choose."""
    if settings.WORKOS_API_KEY:
        # TODO: the WorkOS Vault adapter is not built yet; with WORKOS_API_KEY set
        # every secret operation fails closed instead of using the local store.
        return UnavailableStore("the WorkOS Vault adapter is not available yet")
    return LocalEncryptedStore()
