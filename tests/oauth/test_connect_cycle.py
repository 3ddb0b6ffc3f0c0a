"""The OAuth cycle against a real provider on loopback: an admin completes the
provider config, a member connects their account, a tool call runs with their
token, the token expires and is refreshed, and the member revokes the account.
"""

import hashlib
import logging
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.execution.models import ToolCall
from apps.integrations.models import ConnectedAccount, OAuthProviderConfig
from apps.integrations.oauth_connect import STATE_PREFIX
from apps.secret_store.store import secret_store
from tests.conftest import skip_or_fail
from tests.execution.conftest import build_app
from tests.support.canary import all_table_text, assert_no_canary

pytestmark = pytest.mark.django_db(transaction=True)

API_DOMAIN = "api.allowed.example"
PROVIDER_KEY = "calendar"
# The workspace's default number of tool-call slots, so none waits for a slot.
CONCURRENT_CALLS = 20


def oauth_tool(provider) -> dict:
    return {
        "agents": [
            {
                "id": "agent",
                "name": "Agent",
                "description": "Reads the calendar.",
                "systemPrompt": "Use the tool.",
                "tools": [
                    {
                        "type": "custom",
                        "name": "events",
                        "integration": {
                            "name": "Calendar",
                            "domain": API_DOMAIN,
                            "auth": oauth_auth(provider),
                        },
                        "endpoint": {
                            "method": "GET",
                            "url": f"https://{API_DOMAIN}/events",
                        },
                        "mockData": [{"mocked": True}],
                    }
                ],
            }
        ]
    }


def oauth_auth(provider, scopes=("openid", "email", "calendar.read")) -> dict:
    return {
        "type": "oauth2",
        "providerKey": PROVIDER_KEY,
        "identity": "triggering_user",
        "authorizationUrl": provider.authorization_url,
        "tokenUrl": provider.token_url,
        "scopes": list(scopes),
    }


def setup_file(provider) -> dict:
    return {
        "integrations": [
            {"name": "Calendar", "domain": API_DOMAIN, "auth": oauth_auth(provider)}
        ]
    }


class Cycle:
    """One approved app with an OAuth tool, and the member's browser session."""

    def __init__(self, world, provider, upstream) -> None:
        self.world, self.provider, self.upstream = world, provider, upstream
        upstream.server.set_json("/events", {"events": ["standup"]})
        self.tool = build_app(
            world,
            oauth_tool(provider),
            setup=setup_file(provider),
            creator=world.member.user,
        )
        self.browser = Client()
        self.browser.force_login(world.member.user)

    @property
    def config(self) -> OAuthProviderConfig:
        return OAuthProviderConfig.objects.get(provider_key=PROVIDER_KEY)

    def configure(self, **extra):
        client = self.provider.clients["connect"]
        body = {
            "clientId": client.client_id,
            "clientSecret": client.client_secret,
            "revocationUrl": self.provider.revocation_url,
            "userinfoUrl": self.provider.userinfo_url,
            **extra,
        }
        return self.world.admin.patch(
            f"{self.world.base}/oauth-providers/{self.config.pk}", body
        )

    def start(self, browser=None) -> str:
        browser = browser or self.browser
        path = f"{self.world.base}/oauth/{self.config.pk}/start?returnTo=/done"
        response = browser.get(path)
        assert response.status_code == 302, response.content
        return response["Location"]

    def callback(self, redirect: str, browser=None):
        browser = browser or self.browser
        parts = urlsplit(redirect)
        return browser.get(f"{parts.path}?{parts.query}")

    def connect(self, username: str = "alice"):
        redirect = self.provider.authorize(self.start(), username=username)
        return self.callback(redirect)

    def account(self) -> ConnectedAccount:
        return ConnectedAccount.objects.get(user=self.world.member.user)

    def call(self):
        return self.tool.call(tool="events")

    def expire(self) -> None:
        ConnectedAccount.objects.filter(pk=self.account().pk).update(
            access_expires_at=timezone.now() - timedelta(seconds=5)
        )


@pytest.fixture
def cycle(world, oauth_provider, oauth_routes, upstream) -> Cycle:
    return Cycle(world, oauth_provider, upstream)


def events(name: str):
    return AuditEvent.objects.filter(event_name=name)


# The provider config.


def test_shell_created_by_setup_sync(cycle):
    config = cycle.config

    assert config.token_url == cycle.provider.token_url
    assert config.client_id == ""


def test_unconfigured_provider_mocks(cycle):
    answer = cycle.call()

    assert answer.json()["mock"] is True
    assert answer.json()["mockReason"] == "the OAuth provider is not configured"


def test_member_cannot_configure(cycle, world):
    response = world.member.patch(
        f"{world.base}/oauth-providers/{cycle.config.pk}", {"clientId": "x"}
    )

    assert response.status_code == 403
    assert response.json()["error"] == "oauth_provider_config_forbidden"


def test_configure_hides_client_secret(cycle, caplog):
    caplog.set_level(logging.DEBUG)
    response = cycle.configure()
    secret = cycle.provider.clients["connect"].client_secret

    assert response.status_code == 200
    assert response.json()["clientSecretSet"] is True
    assert_no_canary(response.content.decode(), "the answer", secret)
    assert_no_canary(all_table_text(), "a database table", secret)
    assert_no_canary(caplog.text, "a log line", secret)
    assert events("oauth.provider_configured").count() == 1
    assert events("oauth.provider_secret_rotated").count() == 1


def test_provider_list_shows_redirect_uri(cycle, world):
    cycle.configure()

    [body] = world.member.get(f"{world.base}/oauth-providers").json()

    assert body["redirectUri"] == "http://testserver/api/oauth/callback"
    assert body["startUrl"].endswith("/start")
    assert "clientId" not in body


# Connecting.


def test_start_sends_pkce_and_state(cycle):
    cycle.configure()

    query = parse_qs(urlsplit(cycle.start()).query)

    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 43
    assert query["redirect_uri"] == ["http://testserver/api/oauth/callback"]
    assert query["scope"] == ["calendar.read email openid"]


def test_connect_stores_account(cycle):
    cycle.configure()

    response = cycle.connect()

    assert response.status_code == 302
    assert response["Location"] == "/done?oauth_connected=calendar"
    account = cycle.account()
    assert account.status == "active"
    assert account.granted_scopes == ["calendar.read", "email", "openid"]
    assert account.upstream_email == cycle.provider.users["alice"].email
    assert events("oauth.connected").count() == 1


def test_tool_call_uses_member_token(cycle):
    cycle.configure()
    cycle.connect()

    answer = cycle.call()

    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is False
    sent = cycle.upstream.requests[0].headers["authorization"]
    stored = secret_store().read(cycle.account().access_token)
    assert sent == f"Bearer {stored}"
    assert stored not in answer.content.decode()


def test_connected_accounts_lists_own(cycle, world):
    cycle.configure()
    cycle.connect()

    mine = world.member.get(f"{world.base}/connected-accounts").json()
    theirs = world.admin.get(f"{world.base}/connected-accounts").json()

    assert [account["providerKey"] for account in mine] == ["calendar"]
    assert mine[0]["needsReconnect"] is False
    assert theirs == []


def test_replayed_state_rejected(cycle):
    cycle.configure()
    redirect = cycle.provider.authorize(cycle.start())
    cycle.callback(redirect)

    replay = cycle.callback(redirect)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_or_expired_oauth_state"


def test_expired_state_rejected(cycle):
    from django.core.cache import cache

    cycle.configure()
    redirect = cycle.provider.authorize(cycle.start())
    state = parse_qs(urlsplit(redirect).query)["state"][0]
    cache.delete(STATE_PREFIX + hashlib.sha256(state.encode()).hexdigest())

    response = cycle.callback(redirect)

    assert response.status_code == 400
    assert ConnectedAccount.objects.count() == 0


def test_other_users_state_rejected(cycle, world):
    cycle.configure()
    redirect = cycle.provider.authorize(cycle.start())
    other = Client()
    other.force_login(world.admin.user)

    response = cycle.callback(redirect, browser=other)

    assert response.status_code == 400
    assert ConnectedAccount.objects.count() == 0


def test_consent_refused_is_audited(cycle):
    cycle.configure()
    redirect = cycle.provider.authorize(cycle.start(), allow=False)

    response = cycle.callback(redirect)

    assert response["Location"].startswith("/done?oauth_error=")
    assert ConnectedAccount.objects.count() == 0
    assert events("oauth.connect_failed").count() == 1


def test_return_to_stays_same_origin(cycle):
    cycle.configure()
    path = f"{cycle.world.base}/oauth/{cycle.config.pk}/start?returnTo=//evil.example/x"
    location = cycle.browser.get(path)["Location"]
    redirect = cycle.provider.authorize(location)

    response = cycle.callback(redirect)

    assert response["Location"] == "/?oauth_connected=calendar"


def test_reconnect_other_identity_recorded(cycle):
    cycle.configure()
    cycle.connect("alice")

    cycle.connect("bob")

    latest = events("oauth.connected").order_by("-sequence").first()
    assert latest.metadata["identityChanged"] is True
    assert cycle.account().upstream_email == cycle.provider.users["bob"].email


# Refresh.


def test_expired_token_is_refreshed(cycle):
    cycle.configure()
    cycle.connect()
    cycle.expire()
    before = cycle.provider.stats()["token_requests"].get("refresh_token", 0)

    answer = cycle.call()

    stats = cycle.provider.stats()
    assert answer.status_code == 200, answer.content
    assert stats["token_requests"]["refresh_token"] == before + 1
    stored = secret_store().read(cycle.account().refresh_token)
    digest = hashlib.sha256(stored.encode()).hexdigest()
    assert stats["last_refresh_token"]["sha256"] == digest
    assert events("oauth.token_refreshed").count() == 1


def test_fresh_token_is_not_refreshed(cycle):
    cycle.configure()
    cycle.connect()
    before = cycle.provider.stats()["token_requests"].get("refresh_token", 0)

    cycle.call()

    after = cycle.provider.stats()["token_requests"].get("refresh_token", 0)
    assert after == before


def test_invalid_grant_revokes_account(cycle):
    cycle.configure()
    cycle.connect()
    account = cycle.account()
    refresh = secret_store().read(account.refresh_token)
    client = cycle.provider.clients["connect"]
    cycle.provider.request(
        "POST",
        cycle.provider.revocation_url,
        fields={
            "token": refresh,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
    )
    cycle.expire()

    answer = cycle.call()

    assert answer.json()["mock"] is True
    assert "reconnect" in answer.json()
    assert cycle.account().status == "revoked"
    assert events("oauth.refresh_failed").count() == 1


def test_threads_share_one_refresh(cycle):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: SQLite in memory locks concurrent writers")
    cycle.configure()
    cycle.connect()
    cycle.expire()
    before = cycle.provider.stats()["token_requests"].get("refresh_token", 0)
    answers: list[int] = []
    start = threading.Barrier(CONCURRENT_CALLS)

    def call() -> None:
        try:
            start.wait(timeout=30)
            answers.append(cycle.call().status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(CONCURRENT_CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    after = cycle.provider.stats()["token_requests"].get("refresh_token", 0)
    assert answers == [200] * CONCURRENT_CALLS
    assert after == before + 1
    assert ToolCall.objects.filter(outcome="executed").count() == CONCURRENT_CALLS
    stored = secret_store().read(cycle.account().refresh_token)
    digest = hashlib.sha256(stored.encode()).hexdigest()
    assert cycle.provider.stats()["last_refresh_token"]["sha256"] == digest


# Scopes and revocation.


def test_short_scopes_need_reconnect(cycle):
    cycle.configure()
    cycle.connect()
    ConnectedAccount.objects.filter(pk=cycle.account().pk).update(granted_scopes=[])

    answer = cycle.call()

    assert answer.json()["mock"] is True
    assert answer.json()["reconnect"]["startUrl"].endswith("/start")
    assert cycle.account().status == "needs_reconnect"


def test_member_revokes_own_account(cycle, world):
    cycle.configure()
    cycle.connect()
    account = cycle.account()
    before = cycle.provider.stats()["revocations"]

    response = world.member.client.delete(
        f"{world.base}/connected-accounts/{account.pk}"
    )

    assert response.status_code == 204
    assert cycle.provider.stats()["revocations"] > before
    assert cycle.account().status == "revoked"
    assert cycle.account().access_token_id is None
    assert cycle.call().json()["mock"] is True


def test_other_user_cannot_revoke(cycle, world):
    cycle.configure()
    cycle.connect()

    response = world.admin.client.delete(
        f"{world.base}/connected-accounts/{cycle.account().pk}"
    )

    assert response.status_code == 404
    assert cycle.account().status == "active"


def test_member_removal_revokes_accounts(cycle, world):
    cycle.configure()
    cycle.connect()

    world.owner.client.delete(f"{world.base}/members/{world.member.user.pk}")

    assert cycle.account().status == "revoked"
    assert events("oauth.revoked").count() == 1


def test_revoke_credentials_command(cycle, world):
    from django.core.management import call_command

    cycle.configure()
    cycle.connect()

    call_command("revoke_credentials", "--workspace", world.workspace.slug)

    assert cycle.account().status == "revoked"


def test_tokens_never_leak(cycle, caplog):
    caplog.set_level(logging.DEBUG)
    cycle.configure()
    cycle.connect()
    access = secret_store().read(cycle.account().access_token)
    refresh = secret_store().read(cycle.account().refresh_token)
    cycle.expire()
    answer = cycle.call()

    for value in (access, refresh):
        assert_no_canary(answer.content.decode(), "the answer", value)
        assert_no_canary(all_table_text(), "a database table", value)
        assert_no_canary(caplog.text, "a log line", value)
