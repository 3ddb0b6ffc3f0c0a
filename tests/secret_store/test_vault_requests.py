"""The requests the Vault adapter sends through the SDK, and how its client is built.

Each request the stand-in records is reduced to (method, path, body keys), with
object ids and names replaced by `<id>` and `<name>`, and compared against a
table of the shapes each operation may send.
"""

import logging
import uuid

import pytest

from apps.secret_store.errors import SecretConflict, SecretUnavailable
from apps.secret_store.models import StoredSecret
from apps.secret_store.vault import VaultStore, object_name

pytestmark = pytest.mark.django_db

CANARY = "sk_live_CANARY_vault_9d2e"
PURPOSE = "integration-grant:requests:API_KEY"

KV = "/vault/v1/kv"
EXPECTED_SHAPES = {
    "put": {("POST", KV, ("key_context", "name", "value"))},
    "read": {("GET", f"{KV}/name/<name>", ())},
    "rotate": {
        ("GET", f"{KV}/<id>/metadata", ()),
        ("PUT", f"{KV}/<id>", ("value", "version_check")),
    },
    "delete": {
        ("GET", f"{KV}/<id>/metadata", ()),
        ("DELETE", f"{KV}/<id>", ()),
    },
}


@pytest.fixture
def store(vault_settings, caplog) -> VaultStore:
    caplog.set_level(logging.DEBUG)
    return VaultStore.from_settings()


def reload(secret: StoredSecret) -> StoredSecret:
    return StoredSecret.objects.get(pk=secret.pk)


def shape(request, secret: StoredSecret) -> tuple[str, str, tuple[str, ...]]:
    path = request.path.replace(secret.vault_object_id, "<id>")
    path = path.replace(object_name(secret.pk), "<name>")
    return request.method, path, request.body_keys


@pytest.fixture
def sent(store, vault_server) -> tuple[StoredSecret, dict[str, list]]:
    """Drive put, read, rotate and delete, and return the row and their requests."""
    requests: dict[str, list] = {}
    secret = store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)
    requests["put"] = vault_server.requests
    steps = [
        ("read", lambda: store.read(reload(secret))),
        ("rotate", lambda: store.rotate(reload(secret), value=f"{CANARY}-2")),
        ("delete", lambda: store.delete(reload(secret))),
    ]
    for operation, step in steps:
        vault_server.clear_requests()
        step()
        requests[operation] = vault_server.requests
    return secret, requests


@pytest.mark.parametrize("operation", list(EXPECTED_SHAPES))
def test_operation_sends_no_unexpected_request(sent, operation):
    secret, requests = sent
    shapes = {shape(request, secret) for request in requests[operation]}

    assert shapes - EXPECTED_SHAPES[operation] == set()


@pytest.mark.parametrize("operation", list(EXPECTED_SHAPES))
def test_operation_sends_every_expected_request(sent, operation):
    secret, requests = sent
    shapes = {shape(request, secret) for request in requests[operation]}

    assert EXPECTED_SHAPES[operation] - shapes == set()


@pytest.mark.parametrize("operation", list(EXPECTED_SHAPES))
def test_operation_sends_no_query(sent, operation):
    _, requests = sent
    queries = [request.query for request in requests[operation]]

    assert [query for query in queries if query] == []


@pytest.mark.parametrize("operation", list(EXPECTED_SHAPES))
def test_operation_sends_configured_key(sent, operation, vault_server):
    _, requests = sent
    headers = {request.authorization for request in requests[operation]}

    assert headers == {f"Bearer {vault_server.api_key}"}


def test_put_stores_version_id(store, vault_server):
    secret = store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)

    (stored_object,) = vault_server.objects.values()
    assert reload(secret).vault_version == stored_object.version_id


def test_rotate_of_old_version_conflicts(store, vault_server):
    """The PUT carries the row's version id, so Vault rejects an outdated one."""
    secret = store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)
    StoredSecret.objects.filter(pk=secret.pk).update(vault_version="version_old")

    with pytest.raises(SecretConflict):
        store.rotate(reload(secret), value=f"{CANARY}-2")


def test_rotate_stores_new_version(store, vault_server):
    secret = store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)

    store.rotate(reload(secret), value=f"{CANARY}-2")

    (stored_object,) = vault_server.objects.values()
    assert reload(secret).vault_version == stored_object.version_id


# The client.


def test_client_timeout_is_five_seconds(store):
    assert store.client._request_timeout == 5


def test_client_never_retries(store):
    assert store.client._max_retries == 0


def test_client_uses_configured_url(store, vault_server):
    assert store.client.base_url == f"{vault_server.url}/"


def test_client_uses_configured_key(store, vault_server):
    assert store.client._api_key == vault_server.api_key


def test_client_cached_per_settings(store):
    assert VaultStore.from_settings().client is store.client


def test_client_rebuilt_for_other_key(store, settings):
    settings.WORKOS_API_KEY = "sk_test_vault_other"

    assert VaultStore.from_settings().client is not store.client


def test_environment_url_ignored(settings, monkeypatch, vault_server):
    monkeypatch.setenv("WORKOS_BASE_URL", "http://127.0.0.1:9/")
    settings.WORKOS_API_KEY = "sk_test_vault_environment"
    settings.WORKOS_BASE_URL = vault_server.url

    assert VaultStore.from_settings().client.base_url == f"{vault_server.url}/"


# Failures: the reason names the kind and status, never the server's text.


@pytest.fixture
def stored(store) -> StoredSecret:
    return store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)


def read_error(store, secret: StoredSecret) -> SecretUnavailable:
    with pytest.raises(SecretUnavailable) as refused:
        store.read(reload(secret))
    return refused.value


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, "server error"),
        (503, "server error"),
        (429, "rate limited"),
        (401, "API key rejected"),
        (403, "permission denied"),
        (400, "request rejected"),
    ],
)
def test_failure_reason_names_kind(store, stored, vault_server, status, kind):
    vault_server.fail_with(status)

    assert kind in read_error(store, stored).reason


@pytest.mark.parametrize("status", [500, 503, 429, 401, 403, 400])
def test_failure_reason_names_status(store, stored, vault_server, status):
    vault_server.fail_with(status)

    assert f"HTTP status {status}" in read_error(store, stored).reason


@pytest.mark.parametrize("status", [500, 429, 401])
def test_failure_hides_server_message(store, stored, vault_server, status):
    vault_server.fail_with(status)

    assert vault_server.error_message not in str(read_error(store, stored))


def test_failure_log_hides_server_message(store, stored, vault_server, caplog):
    vault_server.fail_with(500)

    read_error(store, stored)

    assert vault_server.error_message not in caplog.text


def test_failure_logs_row_id(store, stored, vault_server, caplog):
    vault_server.fail_with(500)

    read_error(store, stored)

    assert f"id={stored.pk}" in caplog.text


def test_connection_failure_kind(store, stored, vault_server):
    vault_server.stop()

    assert "connection failed" in read_error(store, stored).reason


def test_wrong_key_unavailable(store, stored, settings):
    settings.WORKOS_API_KEY = "sk_test_vault_wrong"

    assert "API key rejected" in read_error(VaultStore.from_settings(), stored).reason


def test_wrong_key_hides_key(store, stored, settings, caplog):
    settings.WORKOS_API_KEY = "sk_test_vault_wrong"

    error = read_error(VaultStore.from_settings(), stored)

    assert "sk_test_vault_wrong" not in f"{error} {caplog.text}"


# Redirects: the client does not follow them, so no body reaches another host.


@pytest.fixture
def elsewhere(make_vault_server):
    """A second stand-in that a redirect points at."""
    return make_vault_server()


def test_redirected_put_unavailable(store, vault_server, elsewhere):
    vault_server.redirect_to(f"{elsewhere.url}/vault/v1/kv")

    with pytest.raises(SecretUnavailable):
        store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)


def test_redirected_put_not_followed(store, vault_server, elsewhere):
    vault_server.redirect_to(f"{elsewhere.url}/vault/v1/kv")

    with pytest.raises(SecretUnavailable):
        store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)

    assert elsewhere.requests == []


def test_redirected_put_stores_no_row(store, vault_server, elsewhere):
    vault_server.redirect_to(f"{elsewhere.url}/vault/v1/kv")

    with pytest.raises(SecretUnavailable):
        store.put(workspace_id=uuid.uuid4(), purpose=PURPOSE, value=CANARY)

    assert not StoredSecret.objects.exists()


def test_redirected_rotate_not_followed(store, stored, vault_server, elsewhere):
    vault_server.redirect_to(f"{elsewhere.url}/vault/v1/kv/{stored.vault_object_id}")

    with pytest.raises(SecretUnavailable):
        store.rotate(reload(stored), value=f"{CANARY}-2")

    assert elsewhere.requests == []


def test_redirected_read_unavailable(store, stored, vault_server, elsewhere):
    vault_server.redirect_to(elsewhere.url)

    assert "unexpected response" in read_error(store, stored).reason
