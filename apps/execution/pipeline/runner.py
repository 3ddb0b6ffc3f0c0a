"""Run a claimed tool call through the steps, audit it and store its result."""

import logging
import time

from django.db import DatabaseError
from django.utils import timezone

from apps.audit.models import AuditChainHead
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.execution.bounds import bound_json
from apps.execution.models import ToolCall
from apps.execution.pipeline import results, steps
from apps.execution.pipeline.context import CallContext, Final
from apps.execution.scrubbing import scrub

logger = logging.getLogger(__name__)

STEPS_BEFORE_TEMPLATES = (
    steps.check_approval,
    steps.check_spec,
    steps.find_grant,
    steps.resolve_oauth,
    steps.read_static_secrets,
)

AUDIT_EVENTS = {
    "executed": "tool.custom.executed",
    "failed": "tool.custom.failed",
    "mocked": "tool.custom.mocked",
    "denied": "tool.custom.denied",
}


def _audit_ready() -> bool:
    """Check that the audit log accepts writes, before anything is sent."""
    try:
        AuditChainHead.objects.exists()
    except DatabaseError:
        return False
    return True


def run_steps(ctx: CallContext) -> Final:
    for step in STEPS_BEFORE_TEMPLATES:
        final = step(ctx)
        if final is not None:
            return final
    rendered = steps.render_template(ctx)
    if isinstance(rendered, Final):
        return rendered
    if not _audit_ready():
        return results.failed(
            "audit_write_failed",
            "The audit log cannot be written, so the call was not sent; retry later.",
            status=500,
            retryable=True,
        )
    return steps.call_upstream(ctx, rendered)


def _run_steps_safely(ctx: CallContext) -> Final:
    try:
        return run_steps(ctx)
    except Exception:  # noqa: BLE001 - the row must end, whatever failed
        logger.exception("tool call failed unexpectedly: call=%s", ctx.tool_call.pk)
        return results.failed(
            "tool_execution_failed",
            "The tool call failed on the server"
            + (" after it was sent upstream." if ctx.upstream_sent else "; retry it."),
            status=500,
            retryable=not ctx.upstream_sent,
        )


def _audit_entry(ctx: CallContext, final: Final, duration_ms: int) -> AuditEntry:
    call = ctx.tool_call
    spec = ctx.spec
    metadata = {
        "toolName": call.tool_name,
        "agentId": call.agent_id,
        "kind": call.kind,
        "sourceVersion": call.source_version,
        "approvalHash": ctx.approval_hash,
        "method": spec.endpoint.get("method", "") if spec else "",
        "domain": spec.integration.get("domain", "") if spec else "",
        "host": final.upstream_host,
        "upstreamStatus": final.upstream_status,
        "errorCode": final.error_code,
        "errorCategory": final.error_category,
        "mockReason": final.mock_reason,
        "reason": final.reason,
        "durationMs": duration_ms,
        "requestBytes": final.request_bytes,
        "responseBytes": final.response_bytes,
        **final.audit_metadata,
    }
    agent_label = call.agent_id or "app action"
    actor = Actor(kind="agent", id=call.agent_id, display=f"agent {agent_label}")
    if call.kind == ToolCall.Kind.APP_ACTION and call.triggering_user is not None:
        # App code calls an app action for the signed-in user who triggered it.
        actor = Actor.for_user(call.triggering_user)
    return AuditEntry(
        event_name=AUDIT_EVENTS[final.outcome],
        outcome={"executed": "success", "mocked": "success"}.get(
            final.outcome, "denied" if final.outcome == "denied" else "failure"
        ),
        severity="warning" if final.outcome == "denied" else "info",
        summary=f"{call.tool_name} {final.outcome} for {agent_label}",
        actor=actor,
        source=Source(kind="worker", trust="server"),
        target=Target(
            type="tool_call",
            id=str(call.pk),
            name=call.tool_name,
            parent=str(ctx.app.pk),
        ),
        metadata=metadata,
        related_ids={
            "runId": str(call.run_id) if call.run_id else None,
            "triggeringUserId": str(call.triggering_user_id or "") or None,
            "grantId": str(ctx.grant.pk) if ctx.grant else None,
        },
    )


def _audit(ctx: CallContext, final: Final, duration_ms: int) -> Final:
    """Write the call's one audit event; a failure fails the call."""
    try:
        audit_record(
            workspace=ctx.app.workspace, entry=_audit_entry(ctx, final, duration_ms)
        )
    except Exception:  # noqa: BLE001 - any failure to audit must fail the call
        logger.exception("audit write failed: call=%s", ctx.tool_call.pk)
        return results.failed(
            "audit_write_failed",
            "The call's audit event could not be written."
            + (" The upstream call was sent." if ctx.upstream_sent else ""),
            status=500,
            retryable=not ctx.upstream_sent,
        )
    return final


def _store(call: ToolCall, final: Final, duration_ms: int, approval_hash: str) -> None:
    body = {**final.body, "toolCallId": str(call.pk)}
    ToolCall.objects.filter(pk=call.pk, state=ToolCall.State.RUNNING).update(
        state=ToolCall.State.COMPLETED,
        outcome=final.outcome,
        mock=final.outcome == "mocked",
        mock_reason=final.mock_reason[:200],
        error_code=final.error_code[:64],
        error_category=final.error_category[:32],
        http_status=final.http_status,
        upstream_status=final.upstream_status,
        upstream_host=final.upstream_host[:253],
        approval_hash=approval_hash,
        result=bound_json(body),
        request_bytes=final.request_bytes,
        response_bytes=final.response_bytes,
        finished_at=timezone.now(),
        duration_ms=duration_ms,
    )


def execute_tool_call(call: ToolCall) -> Final:
    """Run the pipeline for a call already claimed as `running`, then store it."""
    started = time.monotonic()
    ctx = CallContext(tool_call=call, app=call.app, run=call.run)
    try:
        final = _run_steps_safely(ctx)
        final.body = scrub(final.body, ctx.injected)
        duration_ms = int((time.monotonic() - started) * 1000)
        final = _audit(ctx, final, duration_ms)
        _store(call, final, duration_ms, ctx.approval_hash)
    finally:
        ctx.secrets.clear()
    logger.info(
        "tool call finished: call=%s outcome=%s status=%s",
        call.pk,
        final.outcome,
        final.http_status,
    )
    return final
