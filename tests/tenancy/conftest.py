"""Apps built through the routes, with their grant, a draft run and a review."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.integrations.models import OAuthProviderConfig
from apps.workspaces.models import Team

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
AGENT = "release-notifier"


def example(name: str):
    return json.loads((EXAMPLES / name).read_text())


@dataclass
class BuiltApp:
    workspace_id: str
    app_id: str
    grant_id: str
    run_id: str
    run_token: str
    review_id: str
    config_id: str


def build_app(persona, workspace, name: str) -> BuiltApp:
    """Create an app as `persona` with the Slack example, its grant, a draft run,
    a pending review, and an OAuth provider config in its workspace."""
    base = f"/api/workspaces/{workspace.pk}/apps"
    created = persona.post(base, {"name": name})
    assert created.status_code == 201, created.content
    app_id = created.json()["id"]

    agents = persona.patch(
        f"{base}/{app_id}/agents", example("slack-notifier.agents.json")
    )
    assert agents.status_code == 200, agents.content

    setup = persona.put(
        f"{base}/{app_id}/integration-setup",
        example("slack-notifier.integration-setup.json"),
    )
    assert setup.status_code == 200, setup.content
    grant_id = setup.json()["integrations"][0]["id"]

    run = persona.post(
        f"{base}/{app_id}/agent-runs",
        {"agentId": AGENT, "prompt": "Announce v1.2", "sourceVersion": "draft"},
    )
    assert run.status_code == 201, run.content
    body = run.json()

    general = Team.objects.get(workspace=workspace, is_default=True)
    review = persona.post(
        f"{base}/{app_id}/publish", {"teamIds": [str(general.pk)], "mode": "request"}
    )
    assert review.status_code == 202, review.content
    config = OAuthProviderConfig.objects.create(
        workspace=workspace,
        provider_key=f"provider-{app_id[:8]}",
        authorization_url="https://auth.provider.example/o/authorize/",
        token_url="https://auth.provider.example/o/token/",
    )
    return BuiltApp(
        workspace_id=str(workspace.pk),
        app_id=app_id,
        grant_id=grant_id,
        run_id=body["runId"],
        run_token=body["runToken"],
        review_id=review.json()["review"]["id"],
        config_id=str(config.pk),
    )


@pytest.fixture
def built(world):
    """Apps on both sides of the tenancy line.

    The member of workspace A creates `mine` and `sibling`, so the member builds
    them and can see them. The owner of A creates `hidden`, which stays
    unpublished, so the member cannot see it. `foreign` is in the outsider's
    workspace.
    """
    return {
        "mine": build_app(world.member, world.workspace, "Member app"),
        "sibling": build_app(world.member, world.workspace, "Member second app"),
        "hidden": build_app(world.owner, world.workspace, "Owner app"),
        "foreign": build_app(world.outsider, world.other_workspace, "Outsider app"),
    }
