"""Builders of approved apps, so pipeline tests start at the tool call."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.agents.selectors import agents_state_for_files
from apps.agents.services import agents_approve
from apps.applications.drafts import draft_write, serialise_json_file
from apps.applications.models import AGENTS_FILE, App
from apps.applications.services import app_create
from apps.audit.services import Actor, Source
from apps.execution.runs import run_create
from apps.integrations.grant_secrets import grant_configure_secrets
from apps.integrations.services import setup_sync

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def example(name: str):
    return json.loads((EXAMPLES / name).read_text())


def tool_document(*, url: str, domain: str, method: str = "GET", **tool) -> dict:
    """An agents.json with one agent `agent` and one custom tool `lookup`."""
    endpoint = {"method": method, "url": url, **tool.pop("endpoint", {})}
    return {
        "agents": [
            {
                "id": "agent",
                "name": "Agent",
                "description": "Looks things up.",
                "systemPrompt": "Use the tool.",
                "tools": [
                    {
                        "type": "custom",
                        "name": "lookup",
                        "integration": {"name": "Demo", "domain": domain},
                        "endpoint": endpoint,
                        "mockData": [{"mocked": True}],
                        **tool,
                    }
                ],
            }
        ]
    }


def setup_document(domain: str, secret: str = "API_KEY") -> dict:
    return {
        "integrations": [
            {
                "name": "Demo",
                "domain": domain,
                "secrets": [{"name": secret, "label": "API key", "required": True}],
            }
        ]
    }


@dataclass
class ToolHarness:
    world: object
    app: App
    run_id: str
    run_token: str

    def call(self, tool_input: dict | None = None, tool: str = "lookup", **extra):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.run_token}")
        body = {"runId": self.run_id, "toolName": tool, "toolInput": tool_input or {}}
        return client.post(
            "/api/internal/tool-execute",
            data=json.dumps({**body, **extra}),
            content_type="application/json",
        )


def build_app(
    world,
    document: dict,
    *,
    setup: dict | None = None,
    secrets: dict | None = None,
    approve: bool = True,
    approver=None,
    creator=None,
) -> ToolHarness:
    creator = creator or world.owner.user
    actor = Actor.for_user(creator)
    app = app_create(
        workspace=world.workspace,
        name="Harness",
        description="",
        user=creator,
        actor=actor,
        source=Source(),
    )
    draft_write(
        app=app,
        changes={AGENTS_FILE: serialise_json_file(document)},
        actor=actor,
        source=Source(),
    )
    if setup is not None:
        grants = setup_sync(app=app, setup_config=setup, actor=actor, source=Source())
        if secrets:
            grant_configure_secrets(
                grant=grants[0],
                secrets=secrets,
                user=world.admin.user,
                actor=Actor.for_user(world.admin.user, "admin"),
                source=Source(),
            )
    if approve:
        approver = approver or world.owner.user
        role = "owner" if approver == world.owner.user else "member"
        state = agents_state_for_files(app=app, files=app.snapshots.get().files)
        agents_approve(
            app=app,
            seen_hash=state.hash,
            user=approver,
            role=role,
            source="builder",
            audit_source=Source(),
        )
    agent_id = document["agents"][0]["id"] if document.get("agents") else "agent"
    run, token = run_create(
        app=app,
        agent_id=agent_id,
        prompt="",
        source_version="draft",
        user=creator,
        actor=actor,
        source=Source(),
    )
    return ToolHarness(world=world, app=app, run_id=str(run.pk), run_token=token)


@pytest.fixture
def harness(world):
    def make(document: dict, **options) -> ToolHarness:
        return build_app(world, document, **options)

    return make
