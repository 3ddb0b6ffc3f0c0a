"""A ciphertext copied into another row does not decrypt there: the tool call
fails with a retryable `secret_read_failed`, writes `tool.custom.failed`, sends
nothing upstream and returns no value, neither the copied one nor mock data."""

import logging

import pytest

from apps.audit.models import AuditEvent
from apps.integrations.models import GrantSecret
from apps.secret_store.models import StoredSecret
from apps.secret_store.store import secret_store
from tests.execution.conftest import setup_document, tool_document
from tests.support.canary import all_table_text, assert_no_canary

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "api.allowed.example"
URL = f"https://{DOMAIN}/echo"
OWN_VALUE = "sk_live_CANARY_binding_own_5a1e"
FOREIGN_VALUE = "sk_live_CANARY_binding_foreign_c0d4"


def secret_tool() -> dict:
    headers = {"Authorization": "Bearer {{secrets.API_KEY}}"}
    return tool_document(url=URL, domain=DOMAIN, endpoint={"headers": headers})


def configured(harness):
    return harness(
        secret_tool(), setup=setup_document(DOMAIN), secrets={"API_KEY": OWN_VALUE}
    )


def stored_secret_of(app) -> StoredSecret:
    return GrantSecret.objects.get(grant__app=app).stored_secret


def copy_ciphertext(source: StoredSecret, target: StoredSecret) -> None:
    StoredSecret.objects.filter(pk=target.pk).update(
        key_id=source.key_id, ciphertext=source.ciphertext
    )


def foreign_secret(world, purpose: str) -> StoredSecret:
    """A value stored for another workspace under the same purpose."""
    return secret_store().put(
        workspace_id=world.other_workspace.pk, purpose=purpose, value=FOREIGN_VALUE
    )


def assert_failed_closed(answer, upstream, caplog) -> None:
    body = answer.json()

    assert answer.status_code == 500
    assert body["error"] == "secret_read_failed"
    assert body["retryable"] is True
    assert "data" not in body
    assert "mock" not in body or body["mock"] is False
    assert upstream.requests == []
    for value in (OWN_VALUE, FOREIGN_VALUE):
        assert_no_canary(answer.content.decode(), "the answer", value)
        assert_no_canary(caplog.text, "a log line", value)
        assert_no_canary(all_table_text(), "a database table", value)


def test_other_workspace_ciphertext_fails(harness, upstream, world, caplog):
    caplog.set_level(logging.DEBUG)
    tool = configured(harness)
    own = stored_secret_of(tool.app)
    copy_ciphertext(foreign_secret(world, own.purpose), own)

    answer = tool.call()

    assert_failed_closed(answer, upstream, caplog)


def test_other_row_ciphertext_fails(harness, upstream, world, caplog):
    caplog.set_level(logging.DEBUG)
    tool = configured(harness)
    other = configured(harness)
    copy_ciphertext(stored_secret_of(other.app), stored_secret_of(tool.app))

    answer = tool.call()

    assert_failed_closed(answer, upstream, caplog)


def test_copied_ciphertext_is_audited(harness, upstream, world):
    tool = configured(harness)
    own = stored_secret_of(tool.app)
    copy_ciphertext(foreign_secret(world, own.purpose), own)

    tool.call()

    [event] = AuditEvent.objects.filter(event_name="tool.custom.failed")
    assert event.outcome == "failure"
    assert event.workspace_id == world.workspace.pk
    assert event.metadata["errorCode"] == "secret_read_failed"


def test_own_ciphertext_still_works(harness, upstream, world):
    upstream.server.set_json("/echo", {"ok": True})
    tool = configured(harness)

    answer = tool.call()

    assert answer.status_code == 200, answer.content
    assert upstream.requests[0].headers["authorization"] == f"Bearer {OWN_VALUE}"
