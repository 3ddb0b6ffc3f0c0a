"""The web side of a tool call: caller checks, the queued row, the wait, the reply."""

import logging
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from apps.core.errors import ApiError, Conflict
from apps.execution.channel import wait_done
from apps.execution.models import AgentRun, ToolCall
from apps.workspaces.models import Workspace

logger = logging.getLogger(__name__)

# SQLite has no row locks, so local mode serialises the slot count in-process.
_LOCAL_SLOT_LOCK = threading.Lock()
WAIT_MARGIN_SECONDS = 10


@dataclass(frozen=True)
class ToolCallAnswer:
    status: int
    body: dict
    headers: dict


def check_run_open(run: AgentRun) -> None:
    if not run.is_open:
        raise Conflict(
            "run_not_active",
            f"The run is {run.status}; tool calls are accepted only while it is "
            "pending or running.",
        )


def _count_slots(workspace_id) -> int:
    return ToolCall.objects.filter(
        workspace_id=workspace_id, state__in=ToolCall.SLOT_STATES
    ).count()


def _insert_under_slot_limit(fields: dict) -> ToolCall:
    limit = settings.SECOND_TOOL_CONCURRENCY_PER_WORKSPACE
    with transaction.atomic():
        # The workspace row lock serialises slot counting across processes.
        Workspace.objects.select_for_update().filter(pk=fields["workspace_id"]).first()
        if _count_slots(fields["workspace_id"]) >= limit:
            raise ApiError(
                "tool_rate_limited",
                f"This workspace already has {limit} tool calls in flight; retry "
                "after the Retry-After delay.",
                status_code=429,
                headers={"Retry-After": "1"},
                extra={"retryable": True},
            )
        return ToolCall.objects.create(**fields)


def _enqueue(tool_call_id) -> None:
    from apps.execution.tasks import run_tool_call

    expires = settings.SECOND_EGRESS_DEADLINE_SECONDS + WAIT_MARGIN_SECONDS
    run_tool_call.apply_async(args=[str(tool_call_id)], expires=expires)


def tool_call_queue(**fields) -> ToolCall:
    """Write a queued ToolCall row, holding one of the workspace's slots.

    Raises ApiError `tool_rate_limited` (429) when every slot is taken.
    """
    if connection.vendor == "sqlite":
        with _LOCAL_SLOT_LOCK:
            call = _insert_under_slot_limit(fields)
    else:
        call = _insert_under_slot_limit(fields)
    # Enqueued once the row is committed and the slot lock is released: with
    # eager tasks the call runs right here, and must not hold the lock.
    transaction.on_commit(lambda: _enqueue(call.pk))
    return call


def _timeout_answer(call_id, *, retryable: bool) -> ToolCallAnswer:
    detail = (
        "The tool call was not started in time and will not be sent; retry it."
        if retryable
        else "The tool call is still running or finished late; read its result on "
        "the run."
    )
    body = {
        "error": "tool_execution_timeout",
        "detail": detail,
        "toolCallId": str(call_id),
        "retryable": retryable,
    }
    return ToolCallAnswer(status=504, body=body, headers={})


def tool_call_await(call: ToolCall) -> ToolCallAnswer:
    """Wait for the worker's signal, then respond from the row."""
    timeout = settings.SECOND_EGRESS_DEADLINE_SECONDS + WAIT_MARGIN_SECONDS
    wait_done(call.pk, timeout_seconds=timeout)
    call.refresh_from_db()
    if call.state == ToolCall.State.COMPLETED:
        return ToolCallAnswer(status=call.http_status, body=call.result, headers={})

    expired = ToolCall.objects.filter(pk=call.pk, state=ToolCall.State.QUEUED).update(
        state=ToolCall.State.EXPIRED
    )
    logger.warning(
        "tool call wait timed out: call=%s expired=%s state=%s",
        call.pk,
        bool(expired),
        call.state,
    )
    return _timeout_answer(call.pk, retryable=bool(expired))


def tool_call_run(**fields) -> ToolCallAnswer:
    """Queue a call, let the worker run it and return its stored result."""
    call = tool_call_queue(**fields)
    return tool_call_await(call)
