"""Celery tasks: each takes an id, loads the row and calls one service."""

import logging

from celery import shared_task
from django.utils import timezone

from apps.execution.channel import notify_done
from apps.execution.models import AgentRun, ToolCall

logger = logging.getLogger(__name__)


def claim_tool_call(tool_call_id) -> ToolCall | None:
    """Move a queued call to running; None if another worker or the waiter won.

    The conditional update is the claim: a redelivered message finds the row
    no longer queued and sends nothing.
    """
    claimed = ToolCall.objects.filter(
        pk=tool_call_id, state=ToolCall.State.QUEUED
    ).update(state=ToolCall.State.RUNNING, started_at=timezone.now())
    if claimed != 1:
        return None
    return ToolCall.objects.select_related("app__workspace", "run").get(pk=tool_call_id)


# Tool calls are acknowledged on receipt and never retried: a call may have
# reached the provider, and sending it twice is not safe.
@shared_task(bind=True, name="execution.run_tool_call", acks_late=False, max_retries=0)
def run_tool_call(self, tool_call_id: str) -> None:
    from apps.execution.pipeline.runner import execute_tool_call

    call = claim_tool_call(tool_call_id)
    if call is None:
        logger.info("tool call not claimed: call=%s", tool_call_id)
        return
    try:
        execute_tool_call(call)
    finally:
        notify_done(tool_call_id, from_broker=not self.request.is_eager)


@shared_task(name="execution.start_agent_run")
def start_agent_run(run_id: str) -> None:
    """Hand a new run to its runtime adapter, once."""
    from apps.execution.runtimes import runtime_start

    run = (
        AgentRun.objects.select_related("app__workspace", "workspace")
        .filter(pk=run_id, status=AgentRun.Status.PENDING)
        .first()
    )
    if run is None:
        logger.info("run not pending, not handed off: run=%s", run_id)
        return
    runtime_start(run)
    logger.info("run handed to runtime: run=%s runtime=%s", run_id, run.runtime)


@shared_task(name="execution.reap")
def reap() -> None:
    """Fail runs open too long and end tool calls no worker will finish."""
    from apps.execution.reaper import tool_calls_reap
    from apps.execution.runs import runs_fail_timed_out

    counts = tool_calls_reap()
    timed_out = runs_fail_timed_out()
    logger.info(
        "reaper ran: lost=%s expired=%s runs=%s",
        counts.lost,
        counts.expired,
        timed_out,
    )
