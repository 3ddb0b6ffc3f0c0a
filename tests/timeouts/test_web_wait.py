"""The web side's wait for a worker, with a real Celery worker on Redis.

The web deadline is 1 s, so the web gives up after 11 s (deadline plus 10 s).
A call that no worker picked up by then is expired and never sent. A call that
a worker already claimed returns `retryable: false` and finishes on the run.
"""

import threading

import pytest

from apps.execution.channel import wait_done
from apps.execution.models import AgentRun, ToolCall
from apps.execution.tasks import run_tool_call
from apps.execution.tool_calls import tool_call_queue
from tests.support.egress_fixtures import assert_no_dials
from tests.timeouts.conftest import public_tool, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The upstream delays its response until the web has given up, and this caps
# the delay if the test fails first. The worker's deadline is longer than both.
MAX_HOLD_SECONDS = 30.0
WORKER_DEADLINE_SECONDS = "40"


def _only_call() -> ToolCall:
    return ToolCall.objects.get()


def test_unclaimed_call_expires_unsent(settings, worker_mode, harness, upstream):
    settings.SECOND_EGRESS_DEADLINE_SECONDS = 1
    built = harness(public_tool("/json"))

    answer = built.call()

    assert answer.status_code == 504, answer.content
    body = answer.json()
    assert body["error"] == "tool_execution_timeout"
    assert body["retryable"] is True
    call = _only_call()
    assert body["toolCallId"] == str(call.pk)
    assert call.state == ToolCall.State.EXPIRED

    # A worker that starts now finds the first message past its expiry. A second
    # message for the same id acts as a redelivery and finds the row no longer
    # queued. Neither sends anything.
    worker = worker_mode(upstream.env)
    run_tool_call.apply_async(args=[str(call.pk)])
    wait_for(
        lambda: f"tool call not claimed: call={call.pk}" in worker.log(),
        what="the worker to refuse the expired call",
    )
    assert "Discarding revoked task: execution.run_tool_call" in worker.log()

    call.refresh_from_db()
    assert call.state == ToolCall.State.EXPIRED
    assert call.started_at is None
    assert upstream.requests == []
    assert_no_dials(upstream.dial_log)


def _late_route(release: threading.Event):
    def route(handler, _request) -> None:
        release.wait(MAX_HOLD_SECONDS)
        handler.send_body(200, b'{"late": true}')

    return route


def _run_detail(world, built) -> dict:
    path = f"{world.base}/apps/{built.app.pk}/agent-runs/{built.run_id}"
    response = world.owner.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def test_claimed_call_finishes_on_run(settings, world, worker_mode, harness, upstream):
    settings.SECOND_EGRESS_DEADLINE_SECONDS = 1
    release = threading.Event()
    upstream.server.set_route("/late", _late_route(release))
    worker_mode(
        {**upstream.env, "SECOND_EGRESS_DEADLINE_SECONDS": WORKER_DEADLINE_SECONDS}
    )
    built = harness(public_tool("/late"))

    try:
        answer = built.call()
    finally:
        # The upstream responds only after the web has returned its 504.
        release.set()

    assert answer.status_code == 504, answer.content
    body = answer.json()
    assert body["error"] == "tool_execution_timeout"
    assert body["retryable"] is False
    call_id = body["toolCallId"]

    def finished_call():
        calls = _run_detail(world, built)["toolCalls"]
        return calls[0] if calls and calls[0]["state"] == "completed" else None

    listed = wait_for(finished_call, what="the late result on the run")
    assert listed["id"] == call_id
    assert listed["outcome"] == "executed"
    assert listed["result"]["data"] == {"late": True}
    assert listed["result"]["toolCallId"] == call_id
    assert len(upstream.requests) == 1


def _queue_call(built) -> ToolCall:
    run = AgentRun.objects.select_related("app").get(pk=built.run_id)
    return tool_call_queue(
        workspace_id=run.workspace_id,
        app=run.app,
        run=run,
        kind=ToolCall.Kind.AGENT_TOOL,
        agent_id=run.agent_id,
        tool_name="lookup",
        source_version=run.source_version,
        triggering_user_id=run.triggering_user_id,
        tool_input={},
    )


def test_worker_wakes_the_waiter(worker_mode, harness, upstream):
    worker_mode(upstream.env)
    built = harness(public_tool("/json"))

    call = _queue_call(built)

    # A hang guard, not a deadline the product promises: the worker signals
    # right after it stores the row, well within this bound.
    assert wait_done(call.pk, timeout_seconds=15) is True
    call.refresh_from_db()
    assert call.state == ToolCall.State.COMPLETED
