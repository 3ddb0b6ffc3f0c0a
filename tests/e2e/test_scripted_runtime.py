"""The try-it flow driven by the `scripted` runtime, with no external process:
the run task itself calls the tool through the pipeline."""

import time

import pytest

from tests.e2e.test_governed_tool_call import (
    AGENT,
    CANARY,
    TOOL,
    Flow,
    assert_no_canary,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCRIPT = [{"toolName": TOOL, "toolInput": {"channel": "C0123456789", "text": "v2"}}]


def scripted_run(flow: Flow, app: str) -> dict:
    response = flow.builder(
        "post",
        f"{app}/agent-runs",
        {"agentId": AGENT, "sourceVersion": "draft", "script": SCRIPT},
    )
    assert response.status_code == 201, response.content
    return response.json()


def finished_run(flow: Flow, app: str, run_id: str) -> dict:
    """Read the run until it has ended; with a worker the task runs elsewhere."""
    deadline = time.monotonic() + 60  # hang guard only
    while True:
        detail = flow.builder("get", f"{app}/agent-runs/{run_id}").json()
        if detail["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return detail
        time.sleep(0.2)


@pytest.fixture
def scripted(settings):
    settings.SECOND_AGENT_RUNTIME = "scripted"


def test_scripted_run_calls_tool(world, upstream, execution_mode, scripted):
    flow = Flow(world)
    app = flow.create_app()
    grant = flow.write_example(app)
    flow.approve_in_admin(app)
    flow.paste_secret_in_admin(grant["id"])

    started = scripted_run(flow, app)
    detail = finished_run(flow, app, started["runId"])

    assert detail["status"] == "completed"
    step = detail["result"]["steps"][0]
    assert step["mock"] is False
    assert step["data"]["ok"] is True
    assert [call["outcome"] for call in detail["toolCalls"]] == ["executed"]
    assert len(upstream.requests) == 1
    assert upstream.requests[0].headers["authorization"] == f"Bearer {CANARY}"
    for text in flow.seen:
        assert_no_canary(text, "an answer")


def test_scripted_run_before_approval_is_refused(
    world, upstream, execution_mode, scripted
):
    flow = Flow(world)
    app = flow.create_app()
    flow.write_example(app)

    started = scripted_run(flow, app)
    detail = finished_run(flow, app, started["runId"])

    assert detail["result"]["steps"][0]["error"] == "draft_agents_config_unapproved"
    assert upstream.requests == []


def test_script_needs_scripted_runtime(world, upstream):
    flow = Flow(world)
    app = flow.create_app()
    flow.write_example(app)

    response = flow.builder(
        "post",
        f"{app}/agent-runs",
        {"agentId": AGENT, "sourceVersion": "draft", "script": SCRIPT},
    )

    assert response.status_code == 400
    assert "script" in response.json()["fields"]
