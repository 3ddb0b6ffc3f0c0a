"""The governed tool call, driven through the routes as the README's try-it does.

A builder writes the Slack example, an owner approves it in Django admin, an
admin pastes the bot token, and the agent runtime calls the tool with its run
token. The upstream is a loopback HTTPS server that speaks `chat.postMessage`,
reached through SECOND_EGRESS_RESOLVE and a test CA.
"""

import json
import logging
import re
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.support.canary import all_table_text, redis_text
from tests.support.canary import assert_no_canary as support_assert_no_canary

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
CANARY = "xoxb-CANARY-7f3a9c-sk_live_CANARY"
TOOL = "send_slack_message"
AGENT = "release-notifier"


def example(name: str):
    return json.loads((EXAMPLES / name).read_text())


def assert_no_canary(text: str, where: str) -> None:
    support_assert_no_canary(text, where, CANARY)


class Flow:
    """The try-it steps as HTTP calls, remembering every answer to search later."""

    def __init__(self, world) -> None:
        self.world = world
        self.seen: list[str] = []
        self.admin_client = Client()
        self.admin_client.force_login(world.owner.user)

    def record(self, response):
        self.seen.append(response.content.decode(errors="replace"))
        return response

    def builder(self, method: str, path: str, data=None):
        persona = self.world.owner
        call = getattr(persona, method)
        return self.record(call(path, data) if data is not None else call(path))

    def create_app(self, name: str = "Release notifier") -> str:
        response = self.builder("post", f"{self.world.base}/apps", {"name": name})
        assert response.status_code == 201, response.content
        return f"{self.world.base}/apps/{response.json()['id']}"

    def write_example(self, app: str) -> dict:
        agents = self.builder(
            "patch", f"{app}/agents", example("slack-notifier.agents.json")
        )
        assert agents.status_code == 200, agents.content
        setup = self.builder(
            "put",
            f"{app}/integration-setup",
            example("slack-notifier.integration-setup.json"),
        )
        assert setup.status_code == 200, setup.content
        return setup.json()["integrations"][0]

    def admin_page(self, app: str):
        app_id = app.rsplit("/", 1)[1]
        response = self.admin_client.get(f"/admin/applications/app/{app_id}/change/")
        self.seen.append(response.content.decode(errors="replace"))
        return response

    def approve_in_admin(self, app: str) -> str:
        page = self.admin_page(app)
        assert page.status_code == 200
        shown = re.search(r'name="hash" value="([^"]+)"', page.content.decode())
        assert shown, "the admin page shows no approve button"
        app_id = app.rsplit("/", 1)[1]
        response = self.admin_client.post(
            f"/admin/applications/app/{app_id}/approve-agents/",
            {"hash": shown.group(1)},
        )
        assert response.status_code == 302
        return shown.group(1)

    def paste_secret(self, grant_id: str, value: str = CANARY):
        response = self.world.admin.patch(
            f"{self.world.base}/integrations/{grant_id}",
            {"secrets": {"SLACK_BOT_TOKEN": value}},
        )
        self.seen.append(response.content.decode(errors="replace"))
        return response

    def paste_secret_in_admin(self, grant_id: str, value: str = CANARY):
        path = f"/admin/integrations/integrationgrant/{grant_id}/change/"
        page = self.admin_client.get(path)
        assert 'type="password" name="secret__SLACK_BOT_TOKEN"' in page.content.decode()
        response = self.admin_client.post(
            path, {"secret__SLACK_BOT_TOKEN": value, "_save": "Save"}
        )
        assert response.status_code == 302, response.content
        return response

    def start_run(self, app: str) -> tuple[str, APIClient]:
        response = self.builder(
            "post", f"{app}/agent-runs", {"agentId": AGENT, "sourceVersion": "draft"}
        )
        assert response.status_code == 201, response.content
        runtime = APIClient()
        runtime.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['runToken']}")
        return response.json()["runId"], runtime

    def call_tool(self, runtime: APIClient, run_id: str, text: str = "Deployed v1"):
        body = {
            "runId": run_id,
            "toolName": TOOL,
            "toolInput": {"channel": "C0123456789", "text": text},
        }
        response = runtime.post(
            "/api/internal/tool-execute",
            data=json.dumps(body),
            content_type="application/json",
        )
        return self.record(response)


def test_try_it_flow_injects_secret_server_side(
    world, upstream, execution_mode, caplog
):
    caplog.set_level(logging.DEBUG)
    flow = Flow(world)
    app = flow.create_app()
    grant = flow.write_example(app)
    assert grant["needsSetup"] is True
    run_id, runtime = flow.start_run(app)

    refused = flow.call_tool(runtime, run_id)
    assert refused.status_code == 403
    assert refused.json()["error"] == "draft_agents_config_unapproved"

    flow.approve_in_admin(app)
    mocked = flow.call_tool(runtime, run_id)
    assert mocked.status_code == 200, mocked.content
    assert mocked.json()["mock"] is True
    assert (
        mocked.json()["data"]
        in example("slack-notifier.agents.json")["agents"][0]["tools"][0]["mockData"]
    )
    assert upstream.requests == []

    flow.paste_secret_in_admin(grant["id"])
    configured = flow.builder("get", f"{world.base}/integrations/{grant['id']}")
    assert configured.status_code == 200, configured.content
    assert configured.json()["needsSetup"] is False
    assert configured.json()["configuredSecretNames"] == ["SLACK_BOT_TOKEN"]

    sent = flow.call_tool(runtime, run_id)
    assert sent.status_code == 200, sent.content
    assert sent.json()["mock"] is False
    assert sent.json()["success"] is True
    assert sent.json()["data"]["ok"] is True
    assert len(upstream.requests) == 1
    assert upstream.requests[0].headers["authorization"] == f"Bearer {CANARY}"
    assert json.loads(upstream.requests[0].body)["text"] == "Deployed v1"

    detail = flow.builder("get", f"{app}/agent-runs/{run_id}")
    assert [call["outcome"] for call in detail.json()["toolCalls"]] == [
        "denied",
        "mocked",
        "executed",
    ]
    flow.builder("get", f"{world.base}/integrations")
    flow.builder("get", f"{world.base}/integrations/{grant['id']}")
    flow.builder("get", f"{app}/agents")
    flow.admin_page(app)
    grant_page = flow.admin_client.get(
        f"/admin/integrations/integrationgrant/{grant['id']}/change/"
    )
    assert grant_page.status_code == 200
    flow.seen.append(grant_page.content.decode())

    for index, text in enumerate(flow.seen):
        assert_no_canary(text, f"answer #{index}")
    assert_no_canary(all_table_text(), "a database table")
    assert_no_canary(redis_text(), "Redis")
    assert_no_canary(caplog.text, "a log line")
    assert_no_canary(execution_mode.worker_log(), "the worker log")


def test_edit_after_approval_makes_call_stale(world, upstream, execution_mode):
    flow = Flow(world)
    app = flow.create_app()
    grant = flow.write_example(app)
    old_hash = flow.approve_in_admin(app)
    flow.paste_secret(grant["id"], "xoxb-real-looking-token")
    run_id, runtime = flow.start_run(app)
    assert flow.call_tool(runtime, run_id).json()["mock"] is False

    edited = example("slack-notifier.agents.json")
    edited["agents"][0]["description"] = "Announces deployments and incidents."
    assert flow.builder("patch", f"{app}/agents", edited).status_code == 200

    refused = flow.call_tool(runtime, run_id)
    assert refused.status_code == 403
    assert refused.json()["error"] == "draft_agents_config_unapproved"
    page = flow.admin_page(app).content.decode()
    assert 'id="agents-state">stale<' in page
    assert "The draft changed after it was approved" in page

    late = flow.builder("post", f"{app}/agents/approval", {"hash": old_hash})
    assert late.status_code == 409
    assert late.json()["error"] == "agents_config_changed"
    assert len(upstream.requests) == 1


def test_other_apps_grant_does_not_power_call(world, upstream, execution_mode):
    flow = Flow(world)
    first = flow.create_app("First")
    flow.write_example(first)
    flow.approve_in_admin(first)
    second = flow.create_app("Second")
    second_grant = flow.write_example(second)
    flow.approve_in_admin(second)
    assert flow.paste_secret(second_grant["id"]).status_code == 200

    run_id, runtime = flow.start_run(first)
    answer = flow.call_tool(runtime, run_id)

    assert answer.status_code == 200
    assert answer.json()["mock"] is True
    assert answer.json()["mockReason"] == "integration needs setup"
    assert upstream.requests == []
