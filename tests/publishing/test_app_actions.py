"""App actions: an approved `appTools` entry called by app code for the signed-in
user, through the same pipeline as an agent's tool call."""

import pytest

from apps.execution.models import ToolCall
from apps.workspaces.models import Team
from tests.execution.conftest import tool_document

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "api.allowed.example"


def app_tools_document() -> dict:
    agents = tool_document(url=f"https://{DOMAIN}/agent", domain=DOMAIN)
    action = {
        "type": "custom",
        "name": "refresh",
        "description": "Refreshes the cache.",
        "integration": {"name": "Demo", "domain": DOMAIN},
        "endpoint": {
            "method": "POST",
            "url": f"https://{DOMAIN}/refresh",
            "body": {"force": "{{force}}"},
        },
        "mockData": [{"mocked": True}],
    }
    return {**agents, "appTools": [action]}


@pytest.fixture
def app_url(world) -> str:
    """An app by the owner, published to General, its draft approved."""
    general = Team.objects.get(workspace=world.workspace, is_default=True)
    app = world.owner.post(f"{world.base}/apps", {"name": "Actions"}).json()
    url = f"{world.base}/apps/{app['id']}"
    digest = world.owner.patch(f"{url}/agents", app_tools_document()).json()["hash"]
    published = world.owner.post(
        f"{url}/publish",
        {"teamIds": [str(general.pk)], "mode": "publish", "hash": digest},
    )
    assert published.status_code == 200, published.content
    return url


def execute(persona, app_url: str, version: str | None = None, name="refresh"):
    query = f"?version={version}" if version else ""
    return persona.post(
        f"{app_url}/app-tools/{name}/execute{query}", {"input": {"force": True}}
    )


def test_published_action_runs_as_viewer(world, app_url, upstream):
    upstream.server.set_json("/refresh", {"refreshed": True})

    answer = execute(world.member, app_url)

    assert answer.status_code == 200, answer.content
    assert answer.json()["data"] == {"refreshed": True}
    call = ToolCall.objects.get()
    assert call.kind == ToolCall.Kind.APP_ACTION
    assert call.triggering_user == world.member.user
    assert call.source_version == "published"


def test_draft_action_needs_builder(world, app_url, upstream):
    answer = execute(world.member, app_url, "draft")

    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    assert upstream.requests == []


def test_draft_action_for_builder(world, app_url, upstream):
    upstream.server.set_json("/refresh", {"refreshed": True})

    answer = execute(world.owner, app_url, "draft")

    assert answer.status_code == 200, answer.content
    assert ToolCall.objects.get().triggering_user == world.owner.user


def test_unapproved_draft_action_refused(world, app_url, upstream):
    changed = app_tools_document()
    changed["appTools"][0]["endpoint"]["url"] = f"https://{DOMAIN}/refresh-all"
    world.owner.patch(f"{app_url}/agents", changed)

    answer = execute(world.owner, app_url, "draft")

    assert answer.status_code == 403
    assert answer.json()["error"] == "draft_app_tools_config_unapproved"
    assert upstream.requests == []


def test_unknown_published_action_refused(world, app_url, upstream):
    answer = execute(world.member, app_url, name="drop_tables")

    assert answer.status_code == 403
    assert answer.json()["error"] == "published_agents_config_missing_app_tool"


def test_action_on_unpublished_app(world, upstream):
    app = world.owner.post(f"{world.base}/apps", {"name": "Draft only"}).json()

    answer = execute(world.owner, f"{world.base}/apps/{app['id']}")

    assert answer.status_code == 409
    assert answer.json()["error"] == "app_not_published"


def test_action_audited_with_user(world, app_url, upstream):
    from apps.audit.models import AuditEvent

    upstream.server.set_json("/refresh", {"refreshed": True})
    execute(world.member, app_url)

    [event] = AuditEvent.objects.filter(event_name="tool.custom.executed")
    assert event.actor_id == str(world.member.user.pk)
