"""Per-workspace slots: a full workspace is rejected while another one runs.

Tasks run eagerly, each call in its own thread with its own PostgreSQL
connection, so the slot count and its workspace row lock are the real ones.
The in-memory SQLite test database fails concurrent writes from threads with
"database table is locked", so this test needs PostgreSQL.
"""

import threading

import pytest
from django.db import connections

from apps.execution.models import ToolCall
from tests.timeouts.conftest import public_tool, require_postgres, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Caps how long the upstream delays a call if the test fails before releasing it.
MAX_HOLD_SECONDS = 30.0


def _hold_route(release: threading.Event):
    def route(handler, _request) -> None:
        release.wait(MAX_HOLD_SECONDS)
        handler.send_body(200, b'{"held": true}')

    return route


def _call_in_thread(built, answers: list) -> threading.Thread:
    def target() -> None:
        try:
            answers.append(built.call())
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _running_in(workspace_id) -> int:
    return ToolCall.objects.filter(
        workspace_id=workspace_id, state=ToolCall.State.RUNNING
    ).count()


def test_full_workspace_rejected_other_runs(
    settings, world, harness, other_harness, upstream
):
    require_postgres()
    settings.SECOND_TOOL_CONCURRENCY_PER_WORKSPACE = 2
    settings.SECOND_EGRESS_DEADLINE_SECONDS = 40
    release = threading.Event()
    upstream.server.set_route("/hold", _hold_route(release))
    holding = harness(public_tool("/hold"))
    other = other_harness(public_tool("/json"))

    answers: list = []
    threads = [_call_in_thread(holding, answers) for _ in range(2)]
    try:
        wait_for(
            lambda: _running_in(world.workspace.pk) == 2,
            what="two calls holding workspace A's slots",
        )

        rejected = holding.call()
        elsewhere = other.call()
        still_running = _running_in(world.workspace.pk)
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=MAX_HOLD_SECONDS + 10)

    assert rejected.status_code == 429, rejected.content
    assert rejected.json()["error"] == "tool_rate_limited"
    assert rejected.json()["retryable"] is True
    assert int(rejected["Retry-After"]) >= 1
    assert elsewhere.status_code == 200, elsewhere.content
    assert elsewhere.json()["data"] == {"ok": True}
    assert still_running == 2

    assert [answer.status_code for answer in answers] == [200, 200]
    assert all(answer.json()["data"] == {"held": True} for answer in answers)
    assert ToolCall.objects.filter(workspace=world.workspace).count() == 2
