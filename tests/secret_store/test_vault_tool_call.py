"""A tool call whose grant secret WorkOS Vault holds, with Vault up and down.

The grant is configured while the stand-in is up, so its secret goes into Vault.
When Vault fails, the call fails with a retryable `secret_read_failed`
and sends nothing upstream: no fallback credential and no mock data.
"""

import pytest

from apps.secret_store.models import StoredSecret
from tests.execution.conftest import build_app, setup_document, tool_document
from tests.support.egress_fixtures import assert_no_dials

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "api.allowed.example"
KEY = "sk_live_CANARY_vault_9d2e"


def secret_tool() -> dict:
    headers = {"Authorization": "Bearer {{secrets.API_KEY}}"}
    return tool_document(
        url=f"https://{DOMAIN}/echo", domain=DOMAIN, endpoint={"headers": headers}
    )


@pytest.fixture
def built(world, vault_settings, upstream):
    """An approved app whose static-secret grant stores its key in the stand-in."""
    return build_app(
        world,
        secret_tool(),
        setup=setup_document(DOMAIN),
        secrets={"API_KEY": KEY},
    )


def test_grant_secret_in_vault(built):
    assert StoredSecret.objects.get().backend == StoredSecret.Backend.WORKOS


def test_grant_row_holds_no_value(built):
    cells = [str(cell) for cell in StoredSecret.objects.values_list().get()]

    assert [cell for cell in cells if KEY in cell] == []


def test_vault_call_succeeds(built):
    response = built.call()

    assert response.status_code == 200, response.content


def test_vault_call_injects_value(built, upstream):
    built.call()

    assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_vault_call_response_hides_value(built):
    response = built.call()

    assert KEY not in response.content.decode()


@pytest.fixture(params=["server down", "server error"])
def failed(request, built, vault_server, upstream):
    """The response to the same call after the stand-in stopped or started failing."""
    if request.param == "server down":
        vault_server.stop()
    else:
        vault_server.fail_with(500)
    return built.call()


def test_outage_returns_500(failed):
    assert failed.status_code == 500


def test_outage_error_code(failed):
    assert failed.json()["error"] == "secret_read_failed"


def test_outage_is_retryable(failed):
    assert failed.json()["retryable"] is True


def test_outage_has_no_data(failed):
    assert "data" not in failed.json()


def test_outage_is_not_mocked(failed):
    assert failed.json().get("mock") is not True


def test_outage_response_hides_value(failed):
    assert KEY not in failed.content.decode()


def test_outage_sends_nothing_upstream(failed, upstream):
    assert upstream.requests == []


def test_outage_dials_nothing(failed, upstream):
    assert_no_dials(upstream.dial_log)
