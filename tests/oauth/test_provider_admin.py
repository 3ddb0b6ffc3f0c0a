"""The OAuth app's admin page: the redirect URI as sent, and a client secret
field that writes and never shows."""

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.integrations.models import OAuthProviderConfig
from apps.secret_store.store import secret_store
from tests.support.canary import all_table_text, assert_no_canary

pytestmark = pytest.mark.django_db

CLIENT_SECRET = "client-secret-CANARY-admin-77e1"


@pytest.fixture
def config(world) -> OAuthProviderConfig:
    return OAuthProviderConfig.objects.create(
        workspace=world.workspace,
        provider_key="calendar",
        authorization_url="https://auth.provider.example/o/authorize/",
        token_url="https://auth.provider.example/o/token/",
    )


@pytest.fixture
def admin_client(world) -> Client:
    client = Client()
    client.force_login(world.admin.user)
    return client


def page_path(config) -> str:
    return f"/admin/integrations/oauthproviderconfig/{config.pk}/change/"


def save(admin_client, config, **fields):
    data = {
        "name": "Calendar",
        "client_id": "calendar-client",
        "token_auth_method": "client_secret_basic",
        "authorization_url": config.authorization_url,
        "token_url": config.token_url,
        "revocation_url": "",
        "userinfo_url": "",
        "client_secret_value": "",
        "_save": "Save",
        **fields,
    }
    return admin_client.post(page_path(config), data)


def test_page_shows_redirect_uri(admin_client, config):
    content = admin_client.get(page_path(config)).content.decode()

    assert "http://testserver/api/oauth/callback" in content


def test_secret_is_stored_not_shown(admin_client, config):
    response = save(admin_client, config, client_secret_value=CLIENT_SECRET)
    page = admin_client.get(page_path(config)).content.decode()
    stored = OAuthProviderConfig.objects.get(pk=config.pk)

    assert response.status_code == 302
    assert secret_store().read(stored.client_secret) == CLIENT_SECRET
    assert stored.client_id == "calendar-client"
    assert stored.token_auth_method == "client_secret_basic"
    assert_no_canary(page, "the admin page", CLIENT_SECRET)
    assert_no_canary(all_table_text(), "a database table", CLIENT_SECRET)


def test_empty_secret_keeps_stored(admin_client, config):
    save(admin_client, config, client_secret_value=CLIENT_SECRET)

    save(admin_client, config, client_id="renamed-client")

    stored = OAuthProviderConfig.objects.get(pk=config.pk)
    assert secret_store().read(stored.client_secret) == CLIENT_SECRET
    assert stored.client_id == "renamed-client"


def test_admin_save_is_audited(admin_client, config):
    save(admin_client, config, client_secret_value=CLIENT_SECRET)

    names = set(AuditEvent.objects.values_list("event_name", flat=True))

    assert {"oauth.provider_configured", "oauth.provider_secret_rotated"} <= names


def test_outsider_gets_404(world, config):
    client = Client()
    client.force_login(world.outsider.user)

    assert client.get(page_path(config)).status_code == 404


# A credential in a provider URL would be kept as plain text in the config and
# its diffs, so such a URL is rejected.

URL_WITH_SECRET = f"https://api.provider.example/userinfo?client_secret={CLIENT_SECRET}"


def test_api_rejects_secret_in_url(world, config):
    response = world.admin.patch(
        f"{world.base}/oauth-providers/{config.pk}", {"userinfoUrl": URL_WITH_SECRET}
    )

    assert response.status_code == 400
    assert "must not carry a credential" in response.content.decode()
    assert_no_canary(response.content.decode(), "the response", CLIENT_SECRET)
    assert_no_canary(all_table_text(), "a database table", CLIENT_SECRET)


def test_admin_rejects_secret_in_url(admin_client, config):
    response = save(admin_client, config, userinfo_url=URL_WITH_SECRET)

    config.refresh_from_db()
    assert config.userinfo_url == ""
    assert "must not carry a credential" in response.content.decode()
    assert "was changed successfully" not in response.content.decode()
    assert_no_canary(response.content.decode(), "the admin page", CLIENT_SECRET)
    assert_no_canary(all_table_text(), "a database table", CLIENT_SECRET)


def test_plain_query_parameter_accepted(world, config):
    url = "https://api.provider.example/userinfo?fields=email"

    response = world.admin.patch(
        f"{world.base}/oauth-providers/{config.pk}", {"userinfoUrl": url}
    )

    assert response.status_code == 200, response.content
    config.refresh_from_db()
    assert config.userinfo_url == url
