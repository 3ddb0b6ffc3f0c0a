"""The integrations and OAuth events of the audit catalogue, each triggered through
its real entry point and checked with the shared catalogue helper.

Grant secrets go through the integrations API, key rotation through
`manage.py rotate_encryption_key`, and OAuth through the loopback provider:
an admin configures the provider app, a member connects and revokes an
account, and tool calls make the token broker refresh it.
"""

import io

import pytest
from django.core.management import call_command

from apps.integrations.models import ConnectedAccount
from apps.secret_store.models import StoredSecret
from apps.secret_store.store import secret_store
from tests.audit.catalogue_support import CANARY, assert_event, emits
from tests.grants.test_grant_secrets import Grants, orphan, slack_setup
from tests.oauth.test_connect_cycle import Cycle
from tests.secret_store.test_rotation import KEY_1, KEY_1_ID, KEY_2, KEY_2_ID

FIRST_SECRET = f"{CANARY}-first"
CLIENT_SECRET = f"{CANARY}-client"
ROTATED_CLIENT_SECRET = f"{CANARY}-client-rotated"


@pytest.fixture
def grants(world) -> Grants:
    """An app of the owner's with the Slack grant from its integration setup."""
    return Grants(world)


@pytest.fixture
def cycle(world, oauth_provider, oauth_routes, upstream) -> Cycle:
    """An approved app with an OAuth tool at the loopback provider."""
    return Cycle(world, oauth_provider, upstream)


def issued_tokens(account: ConnectedAccount) -> tuple[str, str]:
    """Return the access and refresh tokens the provider issued to `account`."""
    store = secret_store()
    return store.read(account.access_token), store.read(account.refresh_token)


def connect_secret(cycle: Cycle) -> str:
    """Return the client secret the provider registered for account connections."""
    return cycle.provider.clients["connect"].client_secret


# Integrations.


@pytest.mark.django_db
@emits("integration.requested")
def test_setup_sync_recorded(world):
    app = world.owner.post(f"{world.base}/apps", {"name": "Notifier"}).json()

    response = world.owner.put(
        f"{world.base}/apps/{app['id']}/integration-setup", slack_setup()
    )

    assert response.status_code == 200
    event = assert_event(
        "integration.requested",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=app["id"],
    )
    grant_id = response.json()["integrations"][0]["id"]
    assert event.related_ids == {"grantIds": [grant_id]}
    assert event.metadata["integrations"] == [
        {"domain": "slack.com", "keySlug": "default", "auth": "static"}
    ]


@pytest.mark.django_db
@emits("integration.orphaned")
def test_grant_dropped_from_setup_recorded(grants, world):
    grants.configure(CANARY)

    orphan(grants)

    assert grants.grant().status == "orphaned"
    event = assert_event(
        "integration.orphaned",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="integration",
        target_id=grants.grant_id,
    )
    assert event.target_parent == grants.app_id


@pytest.mark.django_db
@emits("integration.secret_rotated")
def test_secret_rotation_recorded(grants, world):
    grants.configure(FIRST_SECRET)

    response = grants.configure(CANARY)

    assert response.status_code == 200
    event = assert_event(
        "integration.secret_rotated",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="integration",
        target_id=grants.grant_id,
        canaries=(CANARY, FIRST_SECRET),
    )
    assert event.metadata == {"names": ["SLACK_BOT_TOKEN"]}
    assert StoredSecret.objects.get().version == 2


@pytest.mark.django_db
@emits("integration.reset")
def test_grant_reset_recorded(grants, world):
    grants.configure(CANARY)

    response = grants.reset()

    assert response.status_code == 200
    event = assert_event(
        "integration.reset",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="integration",
        target_id=grants.grant_id,
    )
    assert event.metadata == {"names": ["SLACK_BOT_TOKEN"], "status": "active"}
    assert event.actor_role == "admin"


@pytest.mark.django_db
@emits("integration.deleted")
def test_grant_deletion_recorded(grants, world):
    grants.configure(CANARY)

    response = grants.delete()

    assert response.status_code == 204
    event = assert_event(
        "integration.deleted",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="integration",
        target_id=grants.grant_id,
    )
    assert event.metadata["names"] == ["SLACK_BOT_TOKEN"]
    assert event.target_parent == grants.app_id


@pytest.mark.django_db
@emits("secrets.key_rotated")
def test_key_rotation_command_recorded(world, settings):
    settings.SECOND_TOKEN_ENCRYPTION_KEY = KEY_1
    Grants(world).configure(CANARY)
    settings.SECOND_TOKEN_ENCRYPTION_KEY = f"{KEY_2},{KEY_1}"

    call_command("rotate_encryption_key", stdout=io.StringIO(), stderr=io.StringIO())

    event = assert_event(
        "secrets.key_rotated",
        workspace=None,
        outcome="success",
        target_type="encryption_key",
        target_id=KEY_2_ID,
        canaries=(CANARY, KEY_1, KEY_2),
    )
    assert event.actor_kind == "system"
    assert event.actor_display == "manage.py rotate_encryption_key"
    assert event.metadata["rowsRewritten"] == 1
    assert event.metadata["remainingRowsByKeyId"] == {KEY_1_ID: 0}


# OAuth provider apps.


@pytest.mark.django_db(transaction=True)
@emits("oauth.provider_configured")
def test_provider_configuration_recorded(cycle, world):
    response = cycle.configure(clientSecret=CLIENT_SECRET)

    assert response.status_code == 200
    event = assert_event(
        "oauth.provider_configured",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="oauth_provider",
        target_id=cycle.config.pk,
        canaries=(CANARY, CLIENT_SECRET),
    )
    assert event.metadata["fields"] == ["client_id", "revocation_url", "userinfo_url"]
    assert event.metadata["clientAuthMethod"] == "client_secret_post"
    assert event.target_name == "calendar"


@pytest.mark.django_db(transaction=True)
@emits("oauth.provider_secret_rotated")
def test_client_secret_rotation_recorded(cycle, world):
    cycle.configure(clientSecret=CLIENT_SECRET)
    path = f"{world.base}/oauth-providers/{cycle.config.pk}"

    response = world.admin.patch(path, {"clientSecret": ROTATED_CLIENT_SECRET})

    assert response.status_code == 200
    event = assert_event(
        "oauth.provider_secret_rotated",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="oauth_provider",
        target_id=cycle.config.pk,
        canaries=(CANARY, CLIENT_SECRET, ROTATED_CLIENT_SECRET),
    )
    assert event.metadata["fields"] == []
    config = cycle.config
    assert secret_store().read(config.client_secret) == ROTATED_CLIENT_SECRET


# Connected accounts.


@pytest.mark.django_db(transaction=True)
@emits("oauth.connected")
def test_account_connection_recorded(cycle, world):
    cycle.configure()

    response = cycle.connect()

    assert response.status_code == 302
    account = cycle.account()
    event = assert_event(
        "oauth.connected",
        workspace=world.workspace,
        outcome="success",
        actor=world.member.user,
        source_kind="web",
        target_type="connected_account",
        target_id=account.pk,
        canaries=(CANARY, connect_secret(cycle), *issued_tokens(account)),
    )
    assert event.metadata["scopes"] == ["calendar.read", "email", "openid"]
    assert event.metadata["reconnected"] is False


@pytest.mark.django_db(transaction=True)
@emits("oauth.connect_failed")
def test_refused_code_exchange_recorded(cycle, world):
    cycle.configure(clientSecret=CLIENT_SECRET)

    response = cycle.connect()

    assert response["Location"].startswith("/done?oauth_error=")
    event = assert_event(
        "oauth.connect_failed",
        workspace=world.workspace,
        outcome="failure",
        actor=world.member.user,
        source_kind="web",
        target_type="oauth_provider",
        target_id=cycle.config.pk,
        canaries=(CANARY, CLIENT_SECRET),
    )
    assert event.metadata == {"error": "invalid_client"}
    assert ConnectedAccount.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@emits("oauth.token_refreshed")
def test_token_refresh_recorded(cycle, world):
    cycle.configure()
    cycle.connect()
    first_tokens = issued_tokens(cycle.account())
    cycle.expire()

    answer = cycle.call()

    assert answer.status_code == 200, answer.content
    account = cycle.account()
    event = assert_event(
        "oauth.token_refreshed",
        workspace=world.workspace,
        outcome="success",
        source_kind="worker",
        target_type="connected_account",
        target_id=account.pk,
        canaries=(
            CANARY,
            connect_secret(cycle),
            *first_tokens,
            *issued_tokens(account),
        ),
    )
    assert event.actor_kind == "system"
    assert event.actor_display == "token broker"
    assert event.metadata == {"refreshRotated": True}


@pytest.mark.django_db(transaction=True)
@emits("oauth.refresh_failed")
def test_refused_refresh_recorded(cycle, world):
    cycle.configure()
    cycle.connect()
    account = cycle.account()
    tokens = issued_tokens(account)
    cycle.provider.request(
        "POST",
        cycle.provider.revocation_url,
        fields={
            "token": tokens[1],
            "client_id": cycle.provider.clients["connect"].client_id,
            "client_secret": connect_secret(cycle),
        },
    )
    cycle.expire()

    answer = cycle.call()

    assert answer.json()["mock"] is True
    event = assert_event(
        "oauth.refresh_failed",
        workspace=world.workspace,
        outcome="failure",
        source_kind="worker",
        target_type="connected_account",
        target_id=account.pk,
        canaries=(CANARY, connect_secret(cycle), *tokens),
    )
    assert event.metadata == {"error": "invalid_grant", "revoked": True}
    assert cycle.account().status == "revoked"


@pytest.mark.django_db(transaction=True)
@emits("oauth.revoked")
def test_account_revocation_recorded(cycle, world):
    cycle.configure()
    cycle.connect()
    account = cycle.account()
    tokens = issued_tokens(account)

    response = world.member.client.delete(
        f"{world.base}/connected-accounts/{account.pk}"
    )

    assert response.status_code == 204
    event = assert_event(
        "oauth.revoked",
        workspace=world.workspace,
        outcome="success",
        actor=world.member.user,
        source_kind="web",
        target_type="connected_account",
        target_id=account.pk,
        canaries=(CANARY, connect_secret(cycle), *tokens),
    )
    assert event.metadata == {
        "revokedAtProvider": True,
        "reason": "revoked by its user",
    }
    assert event.actor_role == "member"
