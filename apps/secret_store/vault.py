"""The WorkOS Vault adapter: each secret is one Vault key-value object.

The object is named `second-<StoredSecret id>` and encrypted under the key
context `{"workspace_id": ...}` of the row's workspace. The row stores the
object's id and version id, never the value. A read checks the object's id, name
and key context against the row, so a row copied to another workspace raises
SecretUnavailable instead of returning the value.

Rotating and deleting first fetch the object's metadata and never write to an
object bound to another row or workspace. The client follows no redirect, so a
request body never goes to another location. Every Vault call runs outside any
transaction this module opens. Failures map to SecretUnavailable with a reason
naming the failure kind and HTTP status. The reason never contains the SDK's
message or a response body, because their text comes from the server.
"""

import logging
import os
import threading
import uuid
from collections.abc import Callable

import httpx2
import workos
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from workos import NOT_GIVEN

# workos 10.8.0 exports WorkOSConnectionError and WorkOSTimeoutError only here.
from workos._errors import (
    APIError,
    AuthenticationError,
    AuthorizationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitExceededError,
    ServerError,
    UnprocessableEntityError,
    WorkOSConnectionError,
    WorkOSError,
    WorkOSTimeoutError,
)
from workos.vault.models import ObjectMetadata, ObjectWithoutValue, VaultObject

from apps.secret_store.errors import SecretConflict, SecretUnavailable
from apps.secret_store.models import StoredSecret

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.workos.com"
REQUEST_TIMEOUT_SECONDS = 5
OBJECT_NAME_PREFIX = "second-"

# Checked in order, so a subclass comes before its base class.
FAILURE_KINDS: tuple[tuple[type[WorkOSError], str], ...] = (
    (WorkOSTimeoutError, "timed out"),
    (WorkOSConnectionError, "connection failed"),
    (RateLimitExceededError, "rate limited"),
    (AuthenticationError, "API key rejected"),
    (AuthorizationError, "permission denied"),
    (ServerError, "server error"),
    (NotFoundError, "object not found"),
    (ConflictError, "conflict"),
    (BadRequestError, "request rejected"),
    (UnprocessableEntityError, "request rejected"),
    (APIError, "unexpected status"),
    (WorkOSError, "request failed"),
)

_clients: dict[tuple[int, str, str], tuple[workos.WorkOSClient, httpx2.Client]] = {}
_clients_lock = threading.Lock()


def _build_client(
    api_key: str, base_url: str
) -> tuple[workos.WorkOSClient, httpx2.Client]:
    # The default HTTP client of workos 10.8.0 follows redirects, and after a 307
    # or 308 it sends the request body, value included, to the new location.
    http_client = httpx2.Client(timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False)

    # By default workos 10.8.0 retries three times, sleeping about 1, 2 and 4 s
    # in between, and each attempt has its own 5 s timeout. That outlives a
    # tool call's deadline, so without retries a failed read fails the tool
    # call retryably instead.
    client = workos.WorkOSClient(
        api_key=api_key,
        base_url=base_url,
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        max_retries=0,
        http_client=http_client,
    )
    return client, http_client


def client_for(api_key: str, base_url: str) -> workos.WorkOSClient:
    """Return this process's client for (api key, base url), building it once.

    The key includes the process id, so a forked worker opens its own
    connections instead of sharing its parent's.
    """
    key = (os.getpid(), api_key, base_url)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _build_client(api_key, base_url)
        client, _ = _clients[key]
    return client


def client_cache_clear() -> None:
    """Close this process's cached clients and forget every cached client."""
    with _clients_lock:
        mine = [key for key in _clients if key[0] == os.getpid()]
        closing = [_clients.pop(key) for key in mine]
        _clients.clear()
    for _, http_client in closing:
        http_client.close()


def object_name(secret_id) -> str:
    return f"{OBJECT_NAME_PREFIX}{secret_id}"


def key_context(workspace_id) -> dict[str, str]:
    return {"workspace_id": str(uuid.UUID(str(workspace_id)))}


def failure_kind(error: WorkOSError) -> str:
    return next(kind for cls, kind in FAILURE_KINDS if isinstance(error, cls))


def unavailable_error(
    operation: str, secret_id, kind: str, status: int | None
) -> SecretUnavailable:
    """Log one line for a failed Vault call and build the error to raise."""
    logger.warning(
        "vault %s failed: id=%s kind=%s status=%s",
        operation,
        secret_id,
        kind,
        status or "none",
    )
    status_text = f"HTTP status {status}" if status else "no HTTP status"
    return SecretUnavailable(
        str(secret_id),
        f"WorkOS Vault {operation} failed: {kind} ({status_text}). Retry later.",
    )


def send(
    operation: str,
    secret_id,
    call: Callable[[], object],
    *,
    model: type | None = None,
    passed: tuple[type[WorkOSError], ...] = (),
):
    """Run one SDK call and return its result, raising SecretUnavailable on failure.

    Errors listed in `passed` reach the caller unchanged. A result that is not
    a `model`, such as the None the SDK returns for an empty body, is a failure.
    """
    try:
        result = call()
    except passed:
        raise
    except WorkOSError as error:
        status = getattr(error, "status_code", None)
        raise unavailable_error(
            operation, secret_id, failure_kind(error), status
        ) from None

    if model is not None and not isinstance(result, model):
        raise unavailable_error(operation, secret_id, "unexpected response", None)
    return result


class VaultStore:
    """Secret store adapter that keeps each value in a WorkOS Vault object."""

    backend = StoredSecret.Backend.WORKOS

    def __init__(self, client: workos.WorkOSClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls) -> "VaultStore":
        """Build the adapter from WORKOS_API_KEY and WORKOS_BASE_URL."""
        # The base URL is always passed, so the SDK never reads WORKOS_BASE_URL
        # from the environment, which the production settings reject.
        base_url = settings.WORKOS_BASE_URL or DEFAULT_BASE_URL
        return cls(client_for(settings.WORKOS_API_KEY, base_url))

    def put(self, *, workspace_id, purpose: str, value: str) -> StoredSecret:
        """Create the Vault object, then the row that points at it."""
        secret_id = uuid.uuid4()
        metadata = self._create_object(secret_id, workspace_id, value)

        try:
            secret = StoredSecret.objects.create(
                id=secret_id,
                workspace_id=workspace_id,
                purpose=purpose,
                backend=self.backend,
                vault_object_id=metadata.id,
                vault_version=metadata.version_id or "",
            )
        except Exception:
            self._delete_object_quietly(secret_id, metadata.id)
            raise

        logger.info("secret stored: id=%s vault_object=%s", secret.pk, metadata.id)
        return secret

    def read(self, secret: StoredSecret) -> str | None:
        """Return the value, None when the object is absent, or raise."""
        if not secret.vault_object_id:
            return None

        try:
            found = send(
                "read",
                secret.pk,
                lambda: self.client.vault.get_name(object_name(secret.pk)),
                model=VaultObject,
                passed=(NotFoundError,),
            )
        except NotFoundError:
            logger.info("vault object absent: id=%s", secret.pk)
            return None

        self._require_binding(secret, found)
        return found.value

    def rotate(self, secret: StoredSecret, *, value: str) -> StoredSecret:
        """Replace the value if the row and object are at the version the caller read.

        A row that the local store holds, or whose object is gone, moves into a
        new Vault object. An object bound to another row or workspace is never
        written.
        """
        if secret.backend != self.backend or not secret.vault_object_id:
            return self._move_here(secret, value)

        described = self._describe(secret, "rotate")
        if described is None:
            return self._move_here(secret, value)

        self._require_binding(secret, described)
        version_id = self._update_object(secret, value)
        self._swap_row(secret, vault_version=version_id)

        logger.info("secret replaced: id=%s vault_object=%s", secret.pk, described.id)
        return secret

    def delete(self, secret: StoredSecret) -> None:
        """Delete the Vault object, then the row.

        A Vault failure keeps the row. An object bound to another row or
        workspace is left in place.
        """
        secret_id = secret.pk
        described = None
        if secret.vault_object_id:
            described = self._describe(secret, "delete")

        if described is not None and self._is_bound(secret, described):
            self._delete_object(secret)
        elif described is not None:
            logger.warning(
                "vault object bound elsewhere left in place: id=%s vault_object=%s",
                secret_id,
                described.id,
            )

        secret.delete()
        logger.info("secret deleted: id=%s", secret_id)

    def _create_object(
        self,
        secret_id,
        workspace_id,
        value: str,
        *,
        passed: tuple[type[WorkOSError], ...] = (),
    ) -> ObjectMetadata:
        return send(
            "create",
            secret_id,
            lambda: self.client.vault.create_kv(
                name=object_name(secret_id),
                value=value,
                key_context=key_context(workspace_id),
            ),
            model=ObjectMetadata,
            passed=passed,
        )

    def _describe(self, secret: StoredSecret, operation: str):
        """Return the row's object without its value, or None when it is absent."""
        try:
            return send(
                operation,
                secret.pk,
                lambda: self.client.vault.list_kv_metadata(secret.vault_object_id),
                model=ObjectWithoutValue,
                passed=(NotFoundError,),
            )
        except NotFoundError:
            logger.info("vault object absent: id=%s", secret.pk)
            return None

    def _update_object(self, secret: StoredSecret, value: str) -> str:
        """Update the object under a version check and return its new version id.

        A row without a version id sends no version check, so only the row's
        compare-and-swap detects a concurrent writer.
        """
        try:
            updated = send(
                "rotate",
                secret.pk,
                lambda: self.client.vault.update_kv(
                    secret.vault_object_id,
                    value=value,
                    version_check=secret.vault_version or NOT_GIVEN,
                ),
                model=ObjectWithoutValue,
                passed=(ConflictError,),
            )
        except ConflictError:
            logger.info("vault object changed meanwhile: id=%s", secret.pk)
            raise SecretConflict(str(secret.pk)) from None
        return updated.metadata.version_id or ""

    def _delete_object(self, secret: StoredSecret) -> None:
        try:
            send(
                "delete",
                secret.pk,
                lambda: self.client.vault.delete_kv(secret.vault_object_id),
                passed=(NotFoundError,),
            )
        except NotFoundError:
            logger.info("vault object already absent: id=%s", secret.pk)

    def _move_here(self, secret: StoredSecret, value: str) -> StoredSecret:
        """Write the value into a new object named after the row and move the row."""
        try:
            metadata = self._create_object(
                secret.pk, secret.workspace_id, value, passed=(ConflictError,)
            )
        except ConflictError:
            # An object with this row's name exists: another writer moved the row
            # first, or the row lost its object id.
            logger.info("vault object exists already: id=%s", secret.pk)
            raise SecretConflict(str(secret.pk)) from None

        try:
            self._swap_row(
                secret,
                vault_object_id=metadata.id,
                vault_version=metadata.version_id or "",
            )
        except SecretConflict:
            self._delete_object_quietly(secret.pk, metadata.id)
            raise

        logger.info(
            "secret moved to vault: id=%s vault_object=%s", secret.pk, metadata.id
        )
        return secret

    def _swap_row(self, secret: StoredSecret, **fields) -> None:
        """Update the row if it is still at the caller's version, else raise."""
        changed = StoredSecret.objects.filter(
            pk=secret.pk, version=secret.version
        ).update(
            backend=self.backend,
            key_id="",
            ciphertext="",
            version=F("version") + 1,
            updated_at=timezone.now(),
            **fields,
        )
        if not changed:
            logger.info("secret row changed meanwhile: id=%s", secret.pk)
            raise SecretConflict(str(secret.pk))

        secret.refresh_from_db()

    @staticmethod
    def _is_bound(secret: StoredSecret, found) -> bool:
        """Check that a Vault object's id, name and key context match the row."""
        context = found.metadata.context or {}
        return (
            found.id == secret.vault_object_id
            and found.name == object_name(secret.pk)
            and context.get("workspace_id")
            == key_context(secret.workspace_id)["workspace_id"]
        )

    def _require_binding(self, secret: StoredSecret, found) -> None:
        if self._is_bound(secret, found):
            return

        logger.warning(
            "vault object bound elsewhere: id=%s vault_object=%s", secret.pk, found.id
        )
        raise SecretUnavailable(
            str(secret.pk),
            "the vault object is bound to another row or workspace, so its value is "
            "neither returned nor changed",
        )

    def _delete_object_quietly(self, secret_id, vault_object_id: str) -> None:
        """Delete an object no row points at, and log a failure instead of raising."""
        try:
            send(
                "delete",
                secret_id,
                lambda: self.client.vault.delete_kv(vault_object_id),
            )
        except SecretUnavailable:
            logger.warning(
                "vault object left behind: id=%s vault_object=%s",
                secret_id,
                vault_object_id,
            )
