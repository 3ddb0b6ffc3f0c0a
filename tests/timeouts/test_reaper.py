"""The tool-call reaper: lost running rows, stale queued rows and its command.

These run on SQLite and PostgreSQL with eager tasks. Rows are aged by writing
their timestamps in the past, so no test waits for a clock.
"""

import datetime
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.execution.models import ToolCall
from apps.execution.pipeline.runner import execute_tool_call
from apps.execution.reaper import (
    lost_after_seconds,
    tool_calls_expire_stale,
    tool_calls_mark_lost,
    wait_seconds,
)
from apps.execution.tasks import claim_tool_call
from tests.timeouts.conftest import public_tool, require_postgres

pytestmark = pytest.mark.django_db(transaction=True)


def _ago(seconds: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


def _row(built, *, state: str, started_at=None, created_at=None) -> ToolCall:
    """A tool call row of the harness's run, as a worker or waiter left it."""
    call = ToolCall.objects.create(
        workspace_id=built.app.workspace_id,
        app=built.app,
        run_id=built.run_id,
        kind=ToolCall.Kind.AGENT_TOOL,
        agent_id="agent",
        tool_name="lookup",
        source_version="draft",
        state=state,
        started_at=started_at,
    )
    if created_at is not None:
        # auto_now_add ignores a value given to create(), so age the row after.
        ToolCall.objects.filter(pk=call.pk).update(created_at=created_at)
    return call


def _lost_events(call: ToolCall):
    return AuditEvent.objects.filter(
        event_name="tool.custom.failed", target_id=str(call.pk)
    )


def test_lost_row_frees_slot(settings, world, harness, upstream):
    settings.SECOND_TOOL_CONCURRENCY_PER_WORKSPACE = 1
    built = harness(public_tool("/json"))
    stuck = _row(
        built,
        state=ToolCall.State.RUNNING,
        started_at=_ago(lost_after_seconds() + 5),
    )
    assert built.call().status_code == 429

    assert tool_calls_mark_lost() == 1

    stuck.refresh_from_db()
    assert stuck.state == ToolCall.State.LOST
    assert stuck.error_code == "tool_call_lost"
    assert stuck.result["error"] == "tool_call_lost"
    assert stuck.result["toolCallId"] == str(stuck.pk)
    assert stuck.result["retryable"] is False
    assert stuck.result["detail"]

    event = _lost_events(stuck).get()
    assert event.workspace_id == world.workspace.pk
    assert event.outcome == "failure"
    assert event.target_parent == str(built.app.pk)
    assert event.metadata["errorCode"] == "tool_call_lost"
    assert event.related_ids["runId"] == built.run_id

    path = f"{world.base}/apps/{built.app.pk}/agent-runs/{built.run_id}"
    listed = world.owner.get(path).json()["toolCalls"][0]
    assert listed["state"] == "lost"
    assert listed["result"]["error"] == "tool_call_lost"

    answer = built.call()
    assert answer.status_code == 200, answer.content
    assert answer.json()["data"] == {"ok": True}


def test_second_pass_changes_nothing(harness, upstream):
    built = harness(public_tool("/json"))
    stuck = _row(
        built,
        state=ToolCall.State.RUNNING,
        started_at=_ago(lost_after_seconds() + 5),
    )
    assert tool_calls_mark_lost() == 1
    first = ToolCall.objects.get(pk=stuck.pk)

    assert tool_calls_mark_lost() == 0

    again = ToolCall.objects.get(pk=stuck.pk)
    assert again.state == ToolCall.State.LOST
    assert again.finished_at == first.finished_at
    assert _lost_events(stuck).count() == 1


def test_rows_within_their_time_are_kept(harness, upstream):
    built = harness(public_tool("/json"))
    running = _row(
        built,
        state=ToolCall.State.RUNNING,
        started_at=_ago(lost_after_seconds() - 30),
    )
    queued = _row(built, state=ToolCall.State.QUEUED)
    finished = _row(
        built,
        state=ToolCall.State.COMPLETED,
        started_at=_ago(lost_after_seconds() + 600),
    )

    assert tool_calls_mark_lost() == 0
    assert tool_calls_expire_stale() == 0

    states = dict(ToolCall.objects.values_list("pk", "state"))
    assert states[running.pk] == ToolCall.State.RUNNING
    assert states[queued.pk] == ToolCall.State.QUEUED
    assert states[finished.pk] == ToolCall.State.COMPLETED
    assert not AuditEvent.objects.filter(event_name="tool.custom.failed").exists()


def test_late_worker_does_not_overwrite_a_lost_row(harness, upstream):
    built = harness(public_tool("/json"))
    stuck = _row(
        built,
        state=ToolCall.State.RUNNING,
        started_at=_ago(lost_after_seconds() + 5),
    )
    claimed_copy = ToolCall.objects.select_related("app__workspace", "run").get(
        pk=stuck.pk
    )
    assert tool_calls_mark_lost() == 1

    # The worker that held the row finishes after the reaper: its store is
    # conditional on `running`, so the lost result stays.
    execute_tool_call(claimed_copy)

    stuck.refresh_from_db()
    assert stuck.state == ToolCall.State.LOST
    assert stuck.result["error"] == "tool_call_lost"


def test_stale_queued_row_expires_and_is_never_claimed(harness, upstream):
    built = harness(public_tool("/json"))
    stale = _row(
        built, state=ToolCall.State.QUEUED, created_at=_ago(wait_seconds() + 60)
    )

    assert tool_calls_expire_stale() == 1

    stale.refresh_from_db()
    assert stale.state == ToolCall.State.EXPIRED
    assert claim_tool_call(stale.pk) is None
    assert upstream.requests == []
    assert tool_calls_expire_stale() == 0


def test_command_prints_counts(harness, upstream):
    built = harness(public_tool("/json"))
    _row(
        built,
        state=ToolCall.State.RUNNING,
        started_at=_ago(lost_after_seconds() + 5),
    )
    _row(built, state=ToolCall.State.QUEUED, created_at=_ago(wait_seconds() + 60))
    out = io.StringIO()

    call_command("reap_tool_calls", stdout=out)

    assert out.getvalue().splitlines() == ["lost 1", "expired 1"]
    out = io.StringIO()
    call_command("reap_tool_calls", stdout=out)
    assert out.getvalue().splitlines() == ["lost 0", "expired 0"]


def test_two_reapers_at_once_mark_each_row_once(harness, upstream):
    require_postgres()
    built = harness(public_tool("/json"))
    rows = [
        _row(
            built,
            state=ToolCall.State.RUNNING,
            started_at=_ago(lost_after_seconds() + 5),
        )
        for _ in range(6)
    ]
    start = threading.Barrier(2)
    counts: list[int] = []

    def reap() -> None:
        try:
            start.wait(timeout=10)
            counts.append(tool_calls_mark_lost())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reap, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(counts) == 2
    assert sum(counts) == len(rows)
    assert ToolCall.objects.filter(state=ToolCall.State.LOST).count() == len(rows)
    for row in rows:
        assert _lost_events(row).count() == 1
