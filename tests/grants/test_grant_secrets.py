"""A grant's secrets through the API and Django admin: configure, rotate, reset,
delete, orphaned grants and the read models, which name secrets and never show
values or store ids."""

import copy
import json
import logging
from pathlib import Path

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.integrations.grant_secrets import grant_read_secrets
from apps.integrations.models import GrantSecret, IntegrationGrant
from apps.secret_store.models import StoredSecret
from tests.support.canary import all_table_text, assert_no_canary, redis_text

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
CANARY = "xoxb-CANARY-grant-51c7-sk_live_CANARY"
SECOND_CANARY = "xoxb-CANARY-grant-rotated-88d1"
INTERNAL_TOKEN = "test-internal-token-0123456789abcdefghijklmnop"


def slack_setup() -> dict:
    return json.loads((EXAMPLES / "slack-notifier.integration-setup.json").read_text())


class Grants:
    """One app with the Slack grant, and every response seen, for the canary search."""

    def __init__(self, world) -> None:
        self.world = world
        self.seen: list[str] = []
        app = world.owner.post(f"{world.base}/apps", {"name": "Notifier"}).json()
        self.app = f"{world.base}/apps/{app['id']}"
        self.app_id = app["id"]
        self.grant_id = self.sync(slack_setup()).json()["integrations"][0]["id"]

    def record(self, response):
        self.seen.append(response.content.decode(errors="replace"))
        return response

    def sync(self, setup: dict):
        return self.record(self.world.owner.put(f"{self.app}/integration-setup", setup))

    @property
    def url(self) -> str:
        return f"{self.world.base}/integrations/{self.grant_id}"

    def configure(self, value: str = CANARY):
        body = {"secrets": {"SLACK_BOT_TOKEN": value}}
        return self.record(self.world.admin.patch(self.url, body))

    def reset(self):
        return self.record(self.world.admin.post(f"{self.url}/reset"))

    def delete(self):
        return self.record(self.world.admin.client.delete(self.url))

    def get(self):
        return self.record(self.world.admin.get(self.url))

    def grant(self) -> IntegrationGrant:
        return IntegrationGrant.objects.get(pk=self.grant_id)

    def assert_no_leak(self, caplog) -> None:
        for value in (CANARY, SECOND_CANARY):
            for index, text in enumerate(self.seen):
                assert_no_canary(text, f"answer #{index}", value)
            assert_no_canary(all_table_text(), "a database table", value)
            assert_no_canary(redis_text(), "Redis", value)
            assert_no_canary(caplog.text, "a log line", value)


@pytest.fixture
def grants(world, caplog) -> Grants:
    caplog.set_level(logging.DEBUG)
    return Grants(world)


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_name=name).order_by("sequence"))


# Configure and rotate.


def test_configure_names_secret_only(grants, caplog):
    body = grants.configure().json()

    assert body["configuredSecretNames"] == ["SLACK_BOT_TOKEN"]
    assert body["secrets"][0]["configured"] is True
    assert body["secrets"][0]["rotatedAt"] is not None
    assert body["needsSetup"] is False
    grants.assert_no_leak(caplog)


def test_configure_hides_store_id(grants):
    body = grants.configure().content.decode()
    stored = StoredSecret.objects.get()

    assert str(stored.pk) not in body
    assert stored.ciphertext not in body


def test_rotate_replaces_value(grants, caplog):
    grants.configure()

    assert grants.configure(SECOND_CANARY).status_code == 200
    assert grant_read_secrets(grants.grant()) == {"SLACK_BOT_TOKEN": SECOND_CANARY}
    assert StoredSecret.objects.count() == 1
    assert StoredSecret.objects.get().version == 2
    assert len(events("integration.secret_rotated")) == 2
    grants.assert_no_leak(caplog)


def test_new_group_needs_setup_again(grants):
    grants.configure()
    setup = slack_setup()
    setup["integrations"][0]["permissionGroups"].append(
        {"name": "Channels", "description": "Read channels", "permissions": ["read"]}
    )

    synced = grants.sync(setup).json()["integrations"][0]

    assert synced["needsSetup"] is True
    assert synced["setupReasons"] == ["permission group 'Channels' is not configured"]
    assert grants.configure().json()["needsSetup"] is False


def test_new_required_secret_needs_setup(grants):
    grants.configure()
    setup = slack_setup()
    setup["integrations"][0]["secrets"].append(
        {"name": "SLACK_SIGNING_SECRET", "label": "Signing secret"}
    )

    synced = grants.sync(setup).json()["integrations"][0]

    assert synced["setupReasons"] == [
        "required secret SLACK_SIGNING_SECRET is not configured"
    ]


# Reset.


def test_reset_deletes_secrets(grants, caplog):
    grants.configure()

    response = grants.reset()

    assert response.status_code == 200
    assert response.json()["needsSetup"] is True
    assert response.json()["setupReasons"] == ["not configured"]
    assert response.json()["configuredSecretNames"] == []
    assert StoredSecret.objects.count() == 0
    assert GrantSecret.objects.count() == 0
    grants.assert_no_leak(caplog)


def test_reset_is_audited(grants):
    grants.configure()
    grants.reset()

    [event] = events("integration.reset")

    assert event.target_id == grants.grant_id
    assert event.metadata["names"] == ["SLACK_BOT_TOKEN"]


def test_reset_then_configure_again(grants):
    grants.configure()
    grants.reset()

    assert grants.configure(SECOND_CANARY).json()["needsSetup"] is False
    assert grant_read_secrets(grants.grant()) == {"SLACK_BOT_TOKEN": SECOND_CANARY}


# Delete.


def test_delete_removes_grant_and_secrets(grants, caplog):
    grants.configure()

    assert grants.delete().status_code == 204
    assert IntegrationGrant.objects.filter(pk=grants.grant_id).exists() is False
    assert StoredSecret.objects.count() == 0
    assert grants.get().status_code == 404
    grants.assert_no_leak(caplog)


def test_delete_is_audited(grants):
    grants.configure()
    grants.delete()

    [event] = events("integration.deleted")

    assert event.target_id == grants.grant_id
    assert event.metadata["names"] == ["SLACK_BOT_TOKEN"]


def test_deleted_grant_returns_on_sync(grants):
    grants.configure()
    grants.delete()

    synced = grants.sync(slack_setup()).json()["integrations"][0]

    assert synced["id"] != grants.grant_id
    assert synced["needsSetup"] is True


# Orphaned grants.


def orphan(grants: Grants) -> None:
    setup = copy.deepcopy(slack_setup())
    setup["integrations"][0]["domain"] = "api.github.com"
    setup["integrations"][0]["secrets"][0]["name"] = "GITHUB_TOKEN"
    grants.sync(setup)


def test_orphaned_grant_keeps_secrets(grants):
    grants.configure()
    orphan(grants)

    body = grants.get().json()

    assert body["status"] == "orphaned"
    assert body["needsSetup"] is True
    assert body["configuredSecretNames"] == ["SLACK_BOT_TOKEN"]
    assert StoredSecret.objects.count() == 1


def test_orphaned_grant_refuses_configure(grants):
    orphan(grants)

    response = grants.configure()

    assert response.status_code == 409
    assert response.json()["error"] == "integration_orphaned"


def test_orphaned_grant_deletes(grants):
    grants.configure()
    orphan(grants)

    assert grants.delete().status_code == 204
    assert StoredSecret.objects.count() == 0


# Read models.


def test_list_names_only(grants, caplog):
    grants.configure()

    body = grants.record(grants.world.owner.get(f"{grants.world.base}/integrations"))

    assert body.status_code == 200
    assert body.json()[0]["configuredSecretNames"] == ["SLACK_BOT_TOKEN"]
    grants.assert_no_leak(caplog)


def test_internal_route_names_only(grants, client, caplog):
    grants.configure()

    response = grants.record(
        client.get(
            "/api/internal/workspace-integrations",
            {"workspaceId": str(grants.world.workspace.pk), "appId": grants.app_id},
            HTTP_AUTHORIZATION=f"Bearer {INTERNAL_TOKEN}",
        )
    )

    assert response.status_code == 200
    integration = response.json()["integrations"][0]
    assert integration["configuredSecretNames"] == ["SLACK_BOT_TOKEN"]
    grants.assert_no_leak(caplog)


# Django admin.


@pytest.fixture
def admin_client(world) -> Client:
    client = Client()
    client.force_login(world.admin.user)
    return client


def test_admin_shows_rotation_time(grants, admin_client, caplog):
    grants.configure()
    page = admin_client.get(
        f"/admin/integrations/integrationgrant/{grants.grant_id}/change/"
    )
    grants.seen.append(page.content.decode())

    assert "SLACK_BOT_TOKEN (last rotated" in page.content.decode()
    grants.assert_no_leak(caplog)


def test_admin_reset_action(grants, admin_client):
    grants.configure()

    response = admin_client.post(
        "/admin/integrations/integrationgrant/",
        {"action": "reset_secrets", "_selected_action": [grants.grant_id]},
        follow=True,
    )

    assert "Reset 1 grant(s)." in response.content.decode()
    assert StoredSecret.objects.count() == 0
    assert grants.grant().configured_at is None
    assert len(events("integration.reset")) == 1


def test_admin_delete_page(grants, admin_client):
    grants.configure()
    path = f"/admin/integrations/integrationgrant/{grants.grant_id}/delete/"

    response = admin_client.post(path, {"post": "yes"}, follow=True)

    assert "Deleted 1 grant(s)." in response.content.decode()
    assert IntegrationGrant.objects.filter(pk=grants.grant_id).exists() is False
    assert StoredSecret.objects.count() == 0
    assert len(events("integration.deleted")) == 1


def test_admin_bulk_delete_per_grant(grants, admin_client):
    grants.configure()

    response = admin_client.post(
        "/admin/integrations/integrationgrant/",
        {
            "action": "delete_selected",
            "_selected_action": [grants.grant_id],
            "post": "yes",
        },
        follow=True,
    )

    assert "Deleted 1 grant(s)." in response.content.decode()
    assert len(events("integration.deleted")) == 1


def test_member_cannot_reset_in_admin(grants, world):
    grants.configure()
    client = Client()
    client.force_login(world.member.user)

    response = client.post(
        "/admin/integrations/integrationgrant/",
        {"action": "reset_secrets", "_selected_action": [grants.grant_id]},
    )

    assert response.status_code in (302, 403)
    assert StoredSecret.objects.count() == 1
