"""The secret-store contract, run against the local store and WorkOS Vault.

The Vault adapter talks to the loopback stand-in from tests/support/workos_vault.py.
Every test also checks that the canary value appears in no stored row, no log
line, no error message and no request the stand-in recorded.
"""

import base64
import logging
import os
import uuid
from collections.abc import Callable

import pytest

from apps.secret_store.errors import SecretConflict, SecretUnavailable
from apps.secret_store.local import LocalEncryptedStore
from apps.secret_store.models import StoredSecret
from apps.secret_store.store import secret_store
from apps.secret_store.vault import VaultStore

pytestmark = pytest.mark.django_db

CANARY = "sk_live_CANARY_vault_9d2e"
NEWER = f"{CANARY}-newer"
LOST = f"{CANARY}-lost-update"
PURPOSE = "integration-grant:contract:API_KEY"
OPERATIONS = ("read", "put", "rotate", "delete")


@pytest.fixture(params=["local", "vault"])
def store(request, settings, caplog) -> LocalEncryptedStore | VaultStore:
    """The adapter under test, with a fresh local key or a fresh Vault stand-in."""
    caplog.set_level(logging.DEBUG)
    if request.param == "local":
        settings.WORKOS_API_KEY = ""
        settings.SECOND_TOKEN_ENCRYPTION_KEY = os.urandom(32).hex()
        return LocalEncryptedStore()

    request.getfixturevalue("vault_settings")
    return VaultStore.from_settings()


@pytest.fixture
def workspace_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def stored(store, workspace_id) -> StoredSecret:
    return store.put(workspace_id=workspace_id, purpose=PURPOSE, value=CANARY)


@pytest.fixture
def leaks(request, caplog) -> Callable[..., list[str]]:
    """Return a function listing every text that contains the canary.

    It searches each field of each StoredSecret row, the captured log and the
    texts it is given, for the canary and its encoded forms. When the test
    started the Vault stand-in, it also searches the requests the stand-in
    recorded, and looks for the API key too.
    """

    def find(*texts: str) -> list[str]:
        rows = StoredSecret.objects.values_list()
        candidates = [str(cell) for row in rows for cell in row]
        candidates.append(caplog.text)
        candidates.extend(texts)
        hidden = canary_forms(CANARY)
        if "vault_server" in request.fixturenames:
            server = request.getfixturevalue("vault_server")
            # The Authorization header carries the API key by design.
            recorded = [
                (r.method, r.path, r.query, r.body_keys) for r in server.requests
            ]
            candidates.append(repr(recorded))
            hidden.append(server.api_key)
        return [text for text in candidates if any(h in text for h in hidden)]

    return find


def canary_forms(value: str) -> list[str]:
    """Return the value as written and in the encodings a leak would likely take."""
    raw = value.encode()
    return [
        value,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


def reload(secret: StoredSecret) -> StoredSecret:
    return StoredSecret.objects.get(pk=secret.pk)


def row_states() -> list[tuple]:
    return list(StoredSecret.objects.order_by("pk").values_list())


def copy_to_workspace(secret: StoredSecret, workspace_id) -> StoredSecret:
    """Copy what the row stores to another workspace, as a tampered database would.

    The local store's ciphertext goes into a new row. A Vault row keeps its id,
    so it still names its object, and only its workspace changes.
    """
    if secret.backend == StoredSecret.Backend.LOCAL:
        return StoredSecret.objects.create(
            workspace_id=workspace_id,
            purpose=secret.purpose,
            backend=secret.backend,
            key_id=secret.key_id,
            ciphertext=secret.ciphertext,
        )
    StoredSecret.objects.filter(pk=secret.pk).update(workspace_id=workspace_id)
    return reload(secret)


# Round trip.


def test_put_read_round_trip(store, stored, leaks):
    assert store.read(reload(stored)) == CANARY
    assert leaks() == []


def test_put_records_backend(store, stored, leaks):
    assert reload(stored).backend == store.backend
    assert leaks() == []


def test_configured_store_writes(store, leaks):
    assert secret_store().backend == store.backend
    assert leaks() == []


def test_rotate_replaces_value(store, stored, leaks):
    store.rotate(reload(stored), value=NEWER)

    assert store.read(reload(stored)) == NEWER
    assert leaks() == []


def test_rotate_bumps_version(store, stored, leaks):
    before = reload(stored).version

    store.rotate(reload(stored), value=NEWER)

    assert reload(stored).version == before + 1
    assert leaks() == []


def test_rotate_returns_fresh_row(store, stored, leaks):
    rotated = store.rotate(reload(stored), value=NEWER)

    assert rotated.version == reload(stored).version
    assert leaks() == []


def test_delete_removes_row(store, stored, leaks):
    store.delete(reload(stored))

    assert not StoredSecret.objects.filter(pk=stored.pk).exists()
    assert leaks() == []


def test_absent_value_reads_none(store, workspace_id, leaks):
    empty = StoredSecret.objects.create(
        workspace_id=workspace_id, purpose=PURPOSE, backend=store.backend
    )

    assert store.read(empty) is None
    assert leaks() == []


# Concurrent writers and copied rows.


def test_stale_rotate_conflicts(store, stored, leaks):
    stale = reload(stored)
    store.rotate(reload(stored), value=NEWER)

    with pytest.raises(SecretConflict) as conflict:
        store.rotate(stale, value=LOST)

    assert store.read(reload(stored)) == NEWER
    assert leaks(str(conflict.value)) == []


def test_copied_row_unavailable(store, stored, leaks):
    copy = copy_to_workspace(reload(stored), uuid.uuid4())

    with pytest.raises(SecretUnavailable) as refused:
        store.read(copy)

    assert leaks(str(refused.value)) == []


# An unavailable store: a missing key, or Vault down or failing.


def break_store(request, fault: str) -> None:
    """Break the configured store in the way `fault` names."""
    settings = request.getfixturevalue("settings")
    if fault == "key missing":
        settings.SECOND_TOKEN_ENCRYPTION_KEY = os.urandom(32).hex()
        return

    server = request.getfixturevalue("vault_server")
    if fault == "server down":
        server.stop()
    elif fault == "server error":
        server.fail_with(500)
    elif fault == "timeout":
        server.stall()


def run_operation(store, operation: str, secret: StoredSecret):
    secret = reload(secret)
    if operation == "read":
        return store.read(secret)
    if operation == "put":
        return store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=NEWER)
    if operation == "rotate":
        return store.rotate(secret, value=NEWER)
    return store.delete(secret)


OUTAGES = [
    pytest.param(("local", "key missing", "read"), id="local-key-missing-read"),
    *(
        pytest.param(("vault", fault, operation), id=f"vault-{fault}-{operation}")
        for fault in ("server down", "server error")
        for operation in OPERATIONS
    ),
]


@pytest.fixture(params=OUTAGES)
def outage(request, settings, caplog):
    """A stored secret and a broken store: (store, secret, operation)."""
    backend, fault, operation = request.param
    caplog.set_level(logging.DEBUG)
    if backend == "local":
        settings.WORKOS_API_KEY = ""
        settings.SECOND_TOKEN_ENCRYPTION_KEY = os.urandom(32).hex()
        store = LocalEncryptedStore()
    else:
        request.getfixturevalue("vault_settings")
        store = VaultStore.from_settings()

    secret = store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)
    break_store(request, fault)
    return store, secret, operation


def test_outage_raises_unavailable(outage, leaks):
    store, secret, operation = outage

    with pytest.raises(SecretUnavailable) as refused:
        run_operation(store, operation, secret)

    assert leaks(str(refused.value)) == []


def test_outage_changes_no_row(outage, leaks):
    store, secret, operation = outage
    before = row_states()

    with pytest.raises(SecretUnavailable):
        run_operation(store, operation, secret)

    assert row_states() == before
    assert leaks() == []


def test_vault_timeout_unavailable(request, vault_settings, caplog, leaks):
    """Hold the response past the 5 s client timeout, so this test takes about 5 s."""
    caplog.set_level(logging.DEBUG)
    store = VaultStore.from_settings()
    secret = store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)
    vault_settings.stall()

    with pytest.raises(SecretUnavailable) as refused:
        store.read(reload(secret))

    assert "timed out" in refused.value.reason
    assert leaks(str(refused.value)) == []


# Vault only: the object behind the row.


@pytest.fixture
def vault_store(vault_settings, caplog) -> VaultStore:
    caplog.set_level(logging.DEBUG)
    return VaultStore.from_settings()


@pytest.fixture
def vault_stored(vault_store, workspace_id) -> StoredSecret:
    return vault_store.put(workspace_id=workspace_id, purpose=PURPOSE, value=CANARY)


def test_vault_delete_removes_object(vault_store, vault_stored, vault_server, leaks):
    vault_store.delete(reload(vault_stored))

    assert vault_server.objects == {}
    assert leaks() == []


def test_vault_missing_object_reads_none(vault_store, vault_stored, leaks):
    vault_store.client.vault.delete_kv(vault_stored.vault_object_id)

    assert vault_store.read(reload(vault_stored)) is None
    assert leaks() == []


def test_vault_object_context_is_workspace(
    vault_stored, vault_server, workspace_id, leaks
):
    (stored_object,) = vault_server.objects.values()

    assert stored_object.context == {"workspace_id": str(workspace_id)}
    assert leaks() == []


def test_vault_object_named_after_row(vault_stored, vault_server, leaks):
    (stored_object,) = vault_server.objects.values()

    assert stored_object.name == f"second-{vault_stored.pk}"
    assert leaks() == []


def new_row_pointing_at(secret: StoredSecret) -> StoredSecret:
    """Create a row in another workspace that names `secret`'s Vault object."""
    return StoredSecret.objects.create(
        workspace_id=uuid.uuid4(),
        purpose=secret.purpose,
        backend=secret.backend,
        vault_object_id=secret.vault_object_id,
        vault_version=secret.vault_version,
    )


def test_vault_copied_id_reads_none(vault_store, vault_stored, leaks):
    """Reads go by name, and no object has the new row's name, so it is absent."""
    copy = new_row_pointing_at(vault_stored)

    assert vault_store.read(copy) is None
    assert leaks() == []


def test_vault_copied_id_rotate_unavailable(vault_store, vault_stored, leaks):
    copy = new_row_pointing_at(vault_stored)

    with pytest.raises(SecretUnavailable) as refused:
        vault_store.rotate(copy, value=LOST)

    assert leaks(str(refused.value)) == []


def test_vault_copied_id_rotate_writes_nothing(vault_store, vault_stored, leaks):
    copy = new_row_pointing_at(vault_stored)

    with pytest.raises(SecretUnavailable):
        vault_store.rotate(copy, value=LOST)

    assert vault_store.read(reload(vault_stored)) == CANARY
    assert leaks() == []


def test_vault_copied_id_delete_keeps_object(vault_store, vault_stored, leaks):
    copy = new_row_pointing_at(vault_stored)

    vault_store.delete(copy)

    assert vault_store.read(reload(vault_stored)) == CANARY
    assert leaks() == []


def test_vault_moved_row_rotate_unavailable(vault_store, vault_stored, leaks):
    moved = copy_to_workspace(reload(vault_stored), uuid.uuid4())

    with pytest.raises(SecretUnavailable) as refused:
        vault_store.rotate(moved, value=LOST)

    assert leaks(str(refused.value)) == []


# A switch between stores: rotating moves the row into the configured store.


@pytest.fixture
def local_store(settings) -> LocalEncryptedStore:
    settings.SECOND_TOKEN_ENCRYPTION_KEY = os.urandom(32).hex()
    return LocalEncryptedStore()


@pytest.fixture
def local_stored(local_store, workspace_id) -> StoredSecret:
    return local_store.put(workspace_id=workspace_id, purpose=PURPOSE, value=CANARY)


def test_local_row_moves_to_vault(vault_store, local_stored, leaks):
    vault_store.rotate(reload(local_stored), value=NEWER)

    assert vault_store.read(reload(local_stored)) == NEWER
    assert leaks() == []


def test_moved_row_names_vault(vault_store, local_stored, leaks):
    vault_store.rotate(reload(local_stored), value=NEWER)

    assert reload(local_stored).backend == StoredSecret.Backend.WORKOS
    assert leaks() == []


def test_moved_row_clears_ciphertext(vault_store, local_stored, leaks):
    vault_store.rotate(reload(local_stored), value=NEWER)

    assert reload(local_stored).ciphertext == ""
    assert leaks() == []


def test_moved_row_clears_key_id(vault_store, local_stored, leaks):
    vault_store.rotate(reload(local_stored), value=NEWER)

    assert reload(local_stored).key_id == ""
    assert leaks() == []


@pytest.fixture
def stale_move(local_store, vault_store, local_stored) -> SecretConflict:
    """Rotate a local row, then try to move the copy read before that rotation."""
    stale = reload(local_stored)
    local_store.rotate(reload(local_stored), value=NEWER)
    with pytest.raises(SecretConflict) as conflict:
        vault_store.rotate(stale, value=LOST)
    return conflict.value


def test_stale_move_keeps_newer(local_store, local_stored, stale_move, leaks):
    assert local_store.read(reload(local_stored)) == NEWER
    assert leaks(str(stale_move)) == []


def test_stale_move_leaves_no_object(vault_server, stale_move, leaks):
    assert vault_server.objects == {}
    assert leaks() == []
