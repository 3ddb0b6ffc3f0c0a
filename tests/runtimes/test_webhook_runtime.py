"""The webhook runtime: a small external runtime, written here, receives the run,
calls two approved tools with the run token and completes the run."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.execution.models import AgentRun
from apps.execution.runs import runs_fail_timed_out
from tests.execution.conftest import build_app

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "api.allowed.example"
RUNTIME_HOST = "runtime.test"


def two_tool_document() -> dict:
    def tool(name: str, path: str) -> dict:
        return {
            "type": "custom",
            "name": name,
            "integration": {"name": "Demo", "domain": DOMAIN},
            "endpoint": {"method": "GET", "url": f"https://{DOMAIN}{path}"},
            "mockData": [{"mocked": True}],
        }

    return {
        "agents": [
            {
                "id": "agent",
                "name": "Agent",
                "description": "Uses two tools.",
                "systemPrompt": "Use both tools.",
                "tools": [tool("first", "/json"), tool("second", "/echo")],
            }
        ]
    }


@pytest.fixture
def runtime_server(make_upstream, settings):
    """A loopback HTTPS server for the upstream API and the runtime's webhook."""
    server = make_upstream(names=(DOMAIN, RUNTIME_HOST))
    server.server.set_json("/runs", {"accepted": True}, status=202)
    settings.SECOND_AGENT_RUNTIME = "webhook"
    settings.SECOND_AGENT_RUNTIME_URL = f"https://{RUNTIME_HOST}/runs"
    return server


def start_run(world) -> dict:
    built = build_app(world, two_tool_document())
    response = world.owner.post(
        f"{world.base}/apps/{built.app.pk}/agent-runs",
        {"agentId": "agent", "prompt": "Check both", "sourceVersion": "draft"},
    )
    assert response.status_code == 201, response.content
    return {"app": built.app, **response.json()}


def webhook_body(server, run_id: str) -> dict:
    """The one webhook delivery of `run_id` (building the app starts a run too)."""
    bodies = [json.loads(r.body) for r in server.requests if r.path == "/runs"]
    mine = [body for body in bodies if body["runId"] == run_id]
    assert len(mine) == 1
    return mine[0]


def runtime_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def call_tool(client, run_id: str, tool: str):
    body = {"runId": run_id, "toolName": tool, "toolInput": {}}
    return client.post("/api/internal/tool-execute", body, format="json")


def test_runtime_calls_tools_and_completes(world, runtime_server):
    started = start_run(world)
    delivered = webhook_body(runtime_server.server, started["runId"])

    assert delivered["runId"] == started["runId"]
    assert delivered["prompt"] == "Check both"
    assert delivered["agent"]["callableTools"] == ["first", "second"]
    assert delivered["callbackUrl"].endswith("/api/internal/agent-run-complete")
    assert AgentRun.objects.get(pk=started["runId"]).status == "running"

    runtime = runtime_client(delivered["runToken"])
    assert call_tool(runtime, delivered["runId"], "first").json()["data"] == {
        "ok": True
    }
    assert call_tool(runtime, delivered["runId"], "second").status_code == 200
    done = runtime.post(
        "/api/internal/agent-run-complete",
        {
            "runId": delivered["runId"],
            "status": "completed",
            "result": {"summary": "ok"},
        },
        format="json",
    )
    assert done.status_code == 200, done.content

    detail = world.owner.get(
        f"{world.base}/apps/{started['app'].pk}/agent-runs/{started['runId']}"
    ).json()
    assert detail["status"] == "completed"
    assert detail["result"] == {"summary": "ok"}
    assert [call["toolName"] for call in detail["toolCalls"]] == ["first", "second"]
    assert AuditEvent.objects.filter(event_name="app_agent_run.completed").count() == 1


def test_runtime_token_only_for_its_run(world, runtime_server):
    first = start_run(world)
    token = webhook_body(runtime_server.server, first["runId"])["runToken"]
    second = start_run(world)

    answer = call_tool(runtime_client(token), second["runId"], "first")

    assert answer.status_code == 403
    assert answer.json()["error"] == "run_mismatch"
    assert first["runId"] != second["runId"]


def test_token_refused_after_completion(world, runtime_server):
    started = start_run(world)
    token = webhook_body(runtime_server.server, started["runId"])["runToken"]
    runtime = runtime_client(token)
    runtime.post(
        "/api/internal/agent-run-complete",
        {"runId": started["runId"], "status": "failed", "result": None},
        format="json",
    )

    answer = call_tool(runtime, started["runId"], "first")

    assert answer.status_code == 409
    assert answer.json()["error"] == "run_not_active"


def test_token_refused_after_reaper(world, runtime_server, settings):
    started = start_run(world)
    token = webhook_body(runtime_server.server, started["runId"])["runToken"]
    later = timezone.now() + timedelta(seconds=settings.SECOND_RUN_TIMEOUT_SECONDS + 1)

    # The app's builder started a run as well, so two runs time out.
    assert runs_fail_timed_out(now=later) == 2
    assert runs_fail_timed_out(now=later) == 0

    run = AgentRun.objects.get(pk=started["runId"])
    assert run.status == "failed"
    assert run.error_code == "run_timed_out"
    answer = call_tool(runtime_client(token), started["runId"], "first")
    assert answer.status_code == 409
    assert answer.json()["error"] == "run_not_active"


def test_refused_handoff_fails_run(world, runtime_server):
    runtime_server.server.set_json("/runs", {"error": "busy"}, status=503)
    started = start_run(world)

    run = AgentRun.objects.get(pk=started["runId"])
    assert run.status == "failed"
    assert run.error_code == "runtime_handoff_failed"
    assert "503" in run.error_detail


def test_unreachable_runtime_fails_run(world, runtime_server, settings):
    settings.SECOND_AGENT_RUNTIME_URL = "https://unknown-runtime.test/runs"
    started = start_run(world)

    run = AgentRun.objects.get(pk=started["runId"])
    assert run.status == "failed"
    assert run.error_code == "runtime_handoff_failed"
    failures = AuditEvent.objects.filter(
        event_name="app_agent_run.failed", target_id=started["runId"]
    )
    assert failures.count() == 1


def test_runs_list_newest_first(world, runtime_server):
    first = start_run(world)
    app = first["app"]
    for _ in range(2):
        world.owner.post(
            f"{world.base}/apps/{app.pk}/agent-runs",
            {"agentId": "agent", "sourceVersion": "draft"},
        )

    page = world.owner.get(f"{world.base}/apps/{app.pk}/agent-runs?limit=2").json()

    assert len(page["results"]) == 2
    assert page["next"]
    rest = world.owner.get(page["next"]).json()
    listed = [run["id"] for run in page["results"] + rest["results"]]
    assert listed[2] == first["runId"]
    assert len(listed) == 4
