"""App-agent runs: creation with a run token, hand-off to the runtime, completion."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.agents.selectors import agents_state_for_files
from apps.agents.tools import agent_config
from apps.applications.models import App, AppSnapshot
from apps.applications.selectors import snapshot_find
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, Conflict, NotFound
from apps.core.tokens import issue_token, token_matches, token_prefix
from apps.execution.bounds import bound_json
from apps.execution.models import AgentRun, SourceVersion

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 100_000


def _agents_payload(app: App, source_version: str) -> tuple[object, str]:
    """Return the agents document a run of this version uses, and its hash."""
    if source_version == SourceVersion.PUBLISHED:
        snapshot = snapshot_find(app=app, kind=AppSnapshot.Kind.PUBLISHED)
        if snapshot is None or snapshot.approval is None:
            raise Conflict(
                "app_not_published",
                "The app has never been published; start a draft run "
                '(`"sourceVersion": "draft"`) or publish the app first.',
            )
        return snapshot.approval.payload, snapshot.approval.hash
    snapshot = snapshot_find(app=app, kind=AppSnapshot.Kind.DRAFT)
    state = agents_state_for_files(app=app, files=snapshot.files if snapshot else {})
    return state.document, state.hash or ""


def run_create(
    *,
    app: App,
    agent_id: str,
    prompt: str,
    source_version: str,
    user,
    actor: Actor,
    source: Source,
    runtime_input: dict | None = None,
) -> tuple[AgentRun, str]:
    """Create a run for `agent_id` and hand it to the runtime; return it and its token.

    Raises ApiError `no_agents_defined`, `agent_not_found` (404) and
    Conflict `app_not_published`.
    """
    document, agents_hash = _agents_payload(app, source_version)
    agents = (document or {}).get("agents") if isinstance(document, dict) else None
    if not agents:
        raise ApiError(
            "no_agents_defined",
            "The app's agents.json defines no agents; add one with PATCH .../agents.",
        )
    if agent_config(document, agent_id) is None:
        raise ApiError(
            "agent_not_found",
            f"No agent has the id {agent_id!r} in the {source_version} agents.json.",
            status_code=404,
        )

    issued = issue_token("run")
    with transaction.atomic():
        run = AgentRun.objects.create(
            workspace_id=app.workspace_id,
            app=app,
            agent_id=agent_id,
            source_version=source_version,
            prompt=prompt[:MAX_PROMPT_CHARS],
            triggering_user=user,
            token_prefix=issued.prefix,
            token_hash=issued.token_hash,
            approval_hash=agents_hash,
            runtime=settings.SECOND_AGENT_RUNTIME,
            runtime_input=runtime_input,
        )
        transaction.on_commit(lambda: _enqueue_start(run.pk))

    audit_record(
        workspace=app.workspace,
        entry=AuditEntry(
            event_name="app_agent_run.created",
            outcome="started",
            summary=f"{actor.display} started a {source_version} run of agent "
            f"{agent_id} in {app.name}",
            actor=actor,
            source=source,
            target=Target(type="agent_run", id=str(run.pk), parent=str(app.pk)),
            metadata={"agentId": agent_id, "sourceVersion": source_version},
        ),
    )
    logger.info("run created: app=%s run=%s", app.pk, run.pk)
    return run, issued.token


def _enqueue_start(run_id) -> None:
    from apps.execution.tasks import start_agent_run

    start_agent_run.delay(str(run_id))


def run_find_by_token(token: str) -> AgentRun | None:
    """Return the run that `token` proves, whatever its status, else None."""
    prefix = token_prefix("run", token)
    if prefix is None:
        return None
    runs = AgentRun.objects.select_related("app", "workspace")
    run = runs.filter(token_prefix=prefix).first()
    if run is not None and token_matches("run", token, run.token_hash):
        return run
    run = runs.filter(runtime_token_prefix=prefix).first()
    if run is not None and token_matches("run", token, run.runtime_token_hash):
        return run
    return None


def run_issue_runtime_token(*, run: AgentRun) -> str:
    """Issue the token the runtime acts with for `run`; return it, never stored."""
    issued = issue_token("run")
    AgentRun.objects.filter(pk=run.pk).update(
        runtime_token_prefix=issued.prefix, runtime_token_hash=issued.token_hash
    )
    return issued.token


def run_agent_config(run: AgentRun) -> dict | None:
    """Return the run's agent as approved, with the tool names it may call.

    Draft runs use the current approval when there is one, else the draft;
    agents.json contains placeholders but no secret values either way.
    """
    payload = _approved_or_draft_payload(run.app, run.source_version)
    agent = agent_config(payload, run.agent_id) if payload else None
    if agent is None:
        return None
    tools = [
        tool.get("name")
        for tool in agent.get("tools", [])
        if tool.get("type") == "custom" and tool.get("enabled", True)
    ]
    return {**agent, "callableTools": tools}


def _approved_or_draft_payload(app: App, source_version: str):
    if source_version == SourceVersion.PUBLISHED:
        return _agents_payload(app, source_version)[0]
    snapshot = snapshot_find(app=app, kind=AppSnapshot.Kind.DRAFT)
    state = agents_state_for_files(app=app, files=snapshot.files if snapshot else {})
    return state.approval.payload if state.approval else state.document


def run_fail(*, run: AgentRun, code: str, detail: str) -> bool:
    """Fail an open run with `code`; return False if it had already ended."""
    changed = AgentRun.objects.filter(
        pk=run.pk, status__in=AgentRun.OPEN_STATUSES
    ).update(
        status=AgentRun.Status.FAILED,
        error_code=code,
        error_detail=detail[:500],
        finished_at=timezone.now(),
    )
    if changed != 1:
        return False
    audit_record(
        workspace=run.workspace,
        entry=AuditEntry(
            event_name="app_agent_run.failed",
            outcome="failure",
            summary=f"run of agent {run.agent_id} failed: {code}",
            actor=Actor.system(),
            source=Source(kind="worker", trust="server"),
            target=Target(type="agent_run", id=str(run.pk), parent=str(run.app_id)),
            metadata={"agentId": run.agent_id, "errorCode": code},
        ),
    )
    logger.info("run failed: run=%s code=%s", run.pk, code)
    return True


def runs_fail_for_user(*, workspace, user) -> int:
    """Fail the open runs `user` started in `workspace` (`member_removed`)."""
    open_runs = AgentRun.objects.select_related("workspace").filter(
        workspace=workspace, triggering_user=user, status__in=AgentRun.OPEN_STATUSES
    )
    detail = "The member who started the run was removed from the workspace."
    return sum(
        run_fail(run=run, code="member_removed", detail=detail) for run in open_runs
    )


def runs_fail_timed_out(*, now=None) -> int:
    """Fail every run still open after SECOND_RUN_TIMEOUT_SECONDS (`run_timed_out`).

    Each run ends by a conditional update, so two reapers at once fail it once.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SECOND_RUN_TIMEOUT_SECONDS)
    stale = AgentRun.objects.select_related("workspace").filter(
        status__in=AgentRun.OPEN_STATUSES, created_at__lt=cutoff
    )
    detail = "The run stayed open longer than SECOND_RUN_TIMEOUT_SECONDS."
    return sum(run_fail(run=run, code="run_timed_out", detail=detail) for run in stale)


def run_mark_running(*, run_id) -> bool:
    """Move a pending run to running; return False if it was not pending."""
    changed = AgentRun.objects.filter(pk=run_id, status=AgentRun.Status.PENDING).update(
        status=AgentRun.Status.RUNNING, started_at=timezone.now()
    )
    return changed == 1


def run_complete(
    *, run: AgentRun, status: str, result, usage, actor: Actor
) -> AgentRun:
    """End an open run with `status` (completed or failed), its result and usage.

    Raises Conflict `run_not_active` when the run has already ended.
    """
    if status not in (AgentRun.Status.COMPLETED, AgentRun.Status.FAILED):
        raise ApiError(
            "invalid_request",
            f"status {status!r} is not 'completed' or 'failed'.",
            extra={"fields": {"status": ["Send 'completed' or 'failed'."]}},
        )
    changed = AgentRun.objects.filter(
        pk=run.pk, status__in=AgentRun.OPEN_STATUSES
    ).update(
        status=status,
        result=bound_json(result),
        usage=bound_json(usage),
        finished_at=timezone.now(),
    )
    if changed != 1:
        raise Conflict("run_not_active", "The run has already ended.")
    run.refresh_from_db()

    event = (
        "app_agent_run.completed" if status == "completed" else "app_agent_run.failed"
    )
    audit_record(
        workspace=run.workspace,
        entry=AuditEntry(
            event_name=event,
            outcome="completed" if status == "completed" else "failure",
            summary=f"run of agent {run.agent_id} {status}",
            actor=actor,
            source=Source(kind="app_agent", trust="run_token_or_internal"),
            target=Target(type="agent_run", id=str(run.pk), parent=str(run.app_id)),
            metadata={"agentId": run.agent_id, "status": status},
        ),
    )
    return run


def run_find_in_app(*, app: App, run_id) -> AgentRun:
    from apps.workspaces.selectors import parse_id

    parsed = parse_id(run_id)
    run = AgentRun.objects.filter(pk=parsed, app=app).first() if parsed else None
    if run is None:
        raise NotFound()
    return run
