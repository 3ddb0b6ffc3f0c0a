"""End tool calls that no worker will finish: lost running rows, stale queued rows.

A worker that dies mid-call leaves its row `running`, holding one of the
workspace's slots for good. Once the web side has stopped waiting and the task
time limit has passed, no live worker can still hold the call, so the row is
marked `lost`, which frees the slot and shows the failure on the run. A queued
row whose waiter died before giving up is moved to `expired`, as the waiter
would have done; its task message has expired too, so it is never sent.

Every change is a conditional update on the row's state, so two reapers (or a
reaper and a late worker) racing on one row change it once.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.execution.models import ToolCall
from apps.execution.tool_calls import WAIT_MARGIN_SECONDS

logger = logging.getLogger(__name__)

LOST_CODE = "tool_call_lost"
LOST_STATUS = 504
LOST_DETAIL = (
    "The worker running this tool call stopped before it finished. The call may "
    "or may not have reached the provider, so it is not retried; check the "
    "provider before sending it again."
)
# Extra time a queued row gets past the web wait, so a waiter that is still
# alive expires its own row and returns `retryable: true` itself.
QUEUED_GRACE_SECONDS = 10
BATCH_SIZE = 500


@dataclass(frozen=True)
class ReapCounts:
    lost: int
    expired: int


def wait_seconds() -> float:
    """Return the seconds the web side waits for a call before it gives up."""
    return settings.SECOND_EGRESS_DEADLINE_SECONDS + WAIT_MARGIN_SECONDS


def lost_after_seconds() -> float:
    """Return the seconds a row may stay `running` before it counts as lost.

    NOTE: this relies on the worker's hard time limit ending the task first. The
    default prefork pool enforces it; the threads pool does not, so there a
    call marked lost may still be running.
    """
    return wait_seconds() + settings.CELERY_TASK_TIME_LIMIT


def _lost_body(call_id) -> dict:
    return {
        "error": LOST_CODE,
        "detail": LOST_DETAIL,
        "toolCallId": str(call_id),
        "retryable": False,
    }


def _lost_entry(call: ToolCall, cutoff_seconds: float) -> AuditEntry:
    agent_label = call.agent_id or "app action"
    return AuditEntry(
        event_name="tool.custom.failed",
        outcome="failure",
        severity="warning",
        summary=f"{call.tool_name} lost for {agent_label}",
        actor=Actor.system("tool-call reaper"),
        source=Source(kind="worker", trust="server"),
        target=Target(
            type="tool_call",
            id=str(call.pk),
            name=call.tool_name,
            parent=str(call.app_id),
        ),
        metadata={
            "toolName": call.tool_name,
            "agentId": call.agent_id,
            "kind": call.kind,
            "sourceVersion": call.source_version,
            "errorCode": LOST_CODE,
            "errorCategory": "timeout",
            "reason": LOST_CODE,
            "startedAt": call.started_at.isoformat() if call.started_at else None,
            "lostAfterSeconds": cutoff_seconds,
        },
        related_ids={
            "runId": str(call.run_id) if call.run_id else None,
            "triggeringUserId": str(call.triggering_user_id or "") or None,
        },
    )


def _mark_one_lost(call_id, *, started_before, now, cutoff_seconds: float) -> bool:
    """Mark one running row lost and audit it; return False if it changed first.

    The update and its audit event commit together: if the audit write raises,
    the row stays `running` and the next pass tries again.
    """
    with transaction.atomic():
        changed = ToolCall.objects.filter(
            pk=call_id,
            state=ToolCall.State.RUNNING,
            started_at__lt=started_before,
        ).update(
            state=ToolCall.State.LOST,
            outcome=ToolCall.Outcome.FAILED,
            error_code=LOST_CODE,
            error_category="timeout",
            http_status=LOST_STATUS,
            result=_lost_body(call_id),
            finished_at=now,
        )
        if changed != 1:
            return False

        call = ToolCall.objects.select_related("app__workspace").get(pk=call_id)
        audit_record(
            workspace=call.app.workspace, entry=_lost_entry(call, cutoff_seconds)
        )
    logger.warning("tool call marked lost: call=%s app=%s", call_id, call.app_id)
    return True


def tool_calls_mark_lost(*, now: datetime.datetime | None = None) -> int:
    """Mark rows `running` for longer than `lost_after_seconds()` as `lost`.

    Each row this call changes gets the result `tool_call_lost` and one
    `tool.custom.failed` audit event; rows another process changed first are
    skipped. One call handles at most BATCH_SIZE rows, oldest first, and the
    next call takes the rest. Returns how many rows this call marked. Raises
    whatever the database or the audit log raises; rows already marked stay
    marked.
    """
    now = now or timezone.now()
    cutoff_seconds = lost_after_seconds()
    started_before = now - datetime.timedelta(seconds=cutoff_seconds)

    candidates = list(
        ToolCall.objects.filter(
            state=ToolCall.State.RUNNING, started_at__lt=started_before
        )
        .order_by("started_at")
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )

    marked = 0
    for call_id in candidates:
        if _mark_one_lost(
            call_id,
            started_before=started_before,
            now=now,
            cutoff_seconds=cutoff_seconds,
        ):
            marked += 1
    return marked


def tool_calls_expire_stale(*, now: datetime.datetime | None = None) -> int:
    """Move rows still `queued` well past the web wait to `expired`.

    Nothing was sent for them and nothing will be: the worker claims only
    queued rows, and their task messages have expired. Returns how many rows
    changed.
    """
    now = now or timezone.now()
    created_before = now - datetime.timedelta(
        seconds=wait_seconds() + QUEUED_GRACE_SECONDS
    )
    expired = ToolCall.objects.filter(
        state=ToolCall.State.QUEUED, created_at__lt=created_before
    ).update(state=ToolCall.State.EXPIRED)
    if expired:
        logger.info("stale queued tool calls expired: count=%s", expired)
    return expired


def tool_calls_reap(*, now: datetime.datetime | None = None) -> ReapCounts:
    """Run both passes with one clock; see the two functions for what changes."""
    now = now or timezone.now()
    lost = tool_calls_mark_lost(now=now)
    expired = tool_calls_expire_stale(now=now)
    return ReapCounts(lost=lost, expired=expired)
