"""The `webhook` runtime: POST the run to SECOND_AGENT_RUNTIME_URL.

The body is `{runId, runToken, agent, prompt, callbackUrl}`. `agent` is the
approved configuration of the run's agent, which contains placeholders but never a
secret value, with the names of the tools the runtime may call. The request goes
through the egress client; `SECOND_EGRESS_OPERATOR_HOSTS` lets ops place the
runtime on the private network.
"""

import json
import logging

from django.conf import settings

from apps.execution.egress.client import EgressPolicy, OutboundRequest, send
from apps.execution.egress.errors import EgressError
from apps.execution.models import AgentRun

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/api/internal/agent-run-complete"


def _body(run: AgentRun, token: str) -> bytes:
    from apps.execution.runs import run_agent_config

    agent = run_agent_config(run)
    body = {
        "runId": str(run.pk),
        "runToken": token,
        "agent": agent,
        "prompt": run.prompt,
        "callbackUrl": settings.SECOND_PUBLIC_URL.rstrip("/") + CALLBACK_PATH,
    }
    return json.dumps(body).encode()


def start(run: AgentRun) -> None:
    from apps.execution.runs import run_fail, run_issue_runtime_token, run_mark_running

    token = run_issue_runtime_token(run=run)
    request = OutboundRequest(
        method="POST",
        url=settings.SECOND_AGENT_RUNTIME_URL,
        headers={"Content-Type": "application/json"},
        body=_body(run, token),
    )
    policy = EgressPolicy(
        allowed_domain=None, operator_hosts_allowed=True, purpose="runtime_webhook"
    )
    try:
        response = send(request, policy=policy)
    except EgressError as error:
        logger.warning("runtime hand-off failed: run=%s code=%s", run.pk, error.code)
        run_fail(
            run=run,
            code="runtime_handoff_failed",
            detail=f"The runtime webhook could not be reached ({error.code}).",
        )
        return
    if not 200 <= response.status < 300:
        logger.warning(
            "runtime hand-off rejected: run=%s status=%s", run.pk, response.status
        )
        run_fail(
            run=run,
            code="runtime_handoff_failed",
            detail=f"The runtime webhook answered HTTP {response.status}.",
        )
        return
    run_mark_running(run_id=run.pk)
