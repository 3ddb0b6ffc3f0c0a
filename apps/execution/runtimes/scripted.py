"""The `scripted` runtime, under the test settings only: run a list of
`{toolName, toolInput}` through the same pipeline, inline in the run task."""

import logging

from apps.execution.models import AgentRun, ToolCall

logger = logging.getLogger(__name__)


def _run_step(run: AgentRun, step: dict) -> dict:
    # NOTE: scripted steps run inline and take no workspace slot; this runtime
    # exists under the test settings only.
    from apps.execution.pipeline.runner import execute_tool_call
    from apps.execution.tasks import claim_tool_call

    call = ToolCall.objects.create(
        workspace_id=run.workspace_id,
        app_id=run.app_id,
        run=run,
        kind=ToolCall.Kind.AGENT_TOOL,
        agent_id=run.agent_id,
        tool_name=str(step.get("toolName", "")),
        source_version=run.source_version,
        triggering_user_id=run.triggering_user_id,
        tool_input=step.get("toolInput") or {},
    )
    claimed = claim_tool_call(call.pk)
    final = execute_tool_call(claimed)
    return {"toolCallId": str(call.pk), "status": final.http_status, **final.body}


def start(run: AgentRun) -> None:
    from apps.execution.actors import runtime_actor
    from apps.execution.runs import run_complete, run_mark_running

    run_mark_running(run_id=run.pk)
    script = (run.runtime_input or {}).get("script") or []
    results = [_run_step(run, step) for step in script if isinstance(step, dict)]
    run.refresh_from_db()
    run_complete(
        run=run,
        status=AgentRun.Status.COMPLETED,
        result={"steps": results},
        usage={"toolCalls": len(results)},
        actor=runtime_actor(run),
    )
    logger.info("scripted run finished: run=%s steps=%s", run.pk, len(results))
