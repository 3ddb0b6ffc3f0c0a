"""The apps, reviews, runs and tools, and audit events of the catalogue.

Each test triggers its event through the product's own entry point: an API
route, an action of the owners' approval desk, the tool-call pipeline, a Celery
task, the retention job or `manage.py export_audit`. It then checks the stored
event with `assert_event` and one or two fields the emitting code writes. The
canary search covers the grant's static secret and the caller's bearer token,
session cookie or run token.
"""

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.agents.models import AgentsApproval
from apps.applications.models import Review
from apps.audit.chain import chain_verify
from apps.audit.models import AuditEvent
from apps.audit.retention import retention_apply
from apps.execution.models import AgentRun, ToolCall
from apps.execution.tasks import reap
from tests.applications import test_approval_desk as approval_desk
from tests.audit.catalogue_support import CANARY, assert_event, emits
from tests.execution.conftest import build_app, setup_document, tool_document
from tests.publishing.test_publishing import DOMAIN, Desk, document

pytestmark = pytest.mark.django_db(transaction=True)


def token_canaries(persona) -> tuple[str, str]:
    """Return the default canary and the persona's bearer token."""
    return (CANARY, persona.token)


def session_canaries(client) -> tuple[str, str]:
    """Return the default canary and the session key of a signed-in desk client."""
    return (CANARY, client.session.session_key)


def keyed_tool(path: str) -> dict:
    """Return an agents.json whose tool on `path` sends API_KEY as a bearer token."""
    headers = {"Authorization": "Bearer {{secrets.API_KEY}}"}
    return tool_document(
        url=f"https://{DOMAIN}{path}", domain=DOMAIN, endpoint={"headers": headers}
    )


def keyed_app(world, path: str):
    """Build an approved app whose grant contains CANARY as its static secret."""
    return build_app(
        world,
        keyed_tool(path),
        setup=setup_document(DOMAIN),
        secrets={"API_KEY": CANARY},
    )


def runtime_client(run_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token}")
    return client


def only_call(built) -> ToolCall:
    return ToolCall.objects.get(run_id=built.run_id)


# Apps.


@emits("app.created")
def test_app_creation_recorded(world):
    response = world.member.post(f"{world.base}/apps", {"name": "Lookup"})

    assert response.status_code == 201, response.content
    event = assert_event(
        "app.created",
        workspace=world.workspace,
        outcome="success",
        actor=world.member.user,
        source_kind="web",
        target_type="app",
        target_id=response.json()["id"],
        canaries=token_canaries(world.member),
    )
    assert event.target_name == "Lookup"


@emits("app.deleted")
def test_published_app_deletion_recorded(world):
    desk = Desk(world)
    published_hash = desk.draft_hash()
    desk.publish_now(hash=published_hash)

    response = world.owner.client.delete(desk.url)

    assert response.status_code == 204, response.content
    event = assert_event(
        "app.deleted",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=desk.app_id,
        canaries=token_canaries(world.owner),
    )
    assert event.metadata["publishedHash"] == published_hash


@emits("app.agents_config.approved")
def test_desk_approval_recorded(world):
    app = approval_desk.stale_app(world)
    shown_hash = approval_desk.draft_hash(app)
    client = approval_desk.desk(world.owner.user)

    approval_desk.run_action(client, "approve_agents", [app])

    event = assert_event(
        "app.agents_config.approved",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=app.pk,
        canaries=session_canaries(client),
    )
    assert event.metadata["hash"] == shown_hash
    assert event.metadata["approvalSource"] == AgentsApproval.Source.AGENTS_PAGE


@emits("app.agents_config.stale")
def test_edit_after_approval_recorded_stale(world):
    desk = Desk(world)
    approved_hash = desk.draft_hash()
    approval = world.owner.post(f"{desk.url}/agents/approval", {"hash": approved_hash})
    assert approval.status_code == 200, approval.content

    draft_hash = desk.write(document("/v2"))

    event = assert_event(
        "app.agents_config.stale",
        workspace=world.workspace,
        outcome="success",
        actor=world.member.user,
        source_kind="web",
        target_type="app",
        target_id=desk.app_id,
        canaries=token_canaries(world.member),
    )
    assert event.metadata["approvedHash"] == approved_hash
    assert event.metadata["draftHash"] == draft_hash


@emits("app.agents_config.revoked")
def test_desk_revocation_recorded(world):
    app = approval_desk.make_app(world, "Live", approval_desk.public_document())
    approval_desk.publish(world, app)
    approved_hash = approval_desk.draft_hash(app)
    client = approval_desk.desk(world.owner.user)

    approval_desk.run_action(client, "revoke_approval", [app])

    event = assert_event(
        "app.agents_config.revoked",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=app.pk,
        canaries=session_canaries(client),
    )
    assert event.metadata["revokedHashes"] == [approved_hash]


@emits("app.published")
def test_publish_at_once_recorded(world):
    desk = Desk(world)
    published_hash = desk.draft_hash()

    response = desk.publish_now(hash=published_hash)

    assert response.status_code == 200, response.content
    event = assert_event(
        "app.published",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=desk.app_id,
        canaries=token_canaries(world.owner),
    )
    assert event.metadata["hash"] == published_hash
    assert event.related_ids["teamIds"] == [desk.general]


@emits("app.unpublished")
def test_unpublish_recorded(world):
    desk = Desk(world)
    published_hash = desk.draft_hash()
    desk.publish_now(hash=published_hash)

    response = world.owner.post(f"{desk.url}/unpublish")

    assert response.json()["unpublished"] is True
    event = assert_event(
        "app.unpublished",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=desk.app_id,
        canaries=token_canaries(world.owner),
    )
    assert event.metadata["hash"] == published_hash


@emits("app.teams_changed")
def test_team_change_recorded(world):
    desk = Desk(world)
    team = world.owner.post(f"{world.base}/teams", {"name": "Platform"}).json()

    response = world.owner.patch(desk.url, {"teamIds": [team["id"]]})

    assert response.status_code == 200, response.content
    event = assert_event(
        "app.teams_changed",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=desk.app_id,
        canaries=token_canaries(world.owner),
    )
    assert event.related_ids == {"teamIdsBefore": [], "teamIds": [team["id"]]}


@emits("app.collaborators_changed")
def test_collaborator_change_recorded(world):
    app = approval_desk.make_app(world, "Release notes")
    member_id = str(world.member.user.pk)

    response = world.owner.put(
        f"{world.base}/apps/{app.pk}/collaborators", {"userIds": [member_id]}
    )

    assert response.status_code == 200, response.content
    event = assert_event(
        "app.collaborators_changed",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=app.pk,
        canaries=token_canaries(world.owner),
    )
    assert event.metadata == {"addedCount": 1, "removedCount": 0}
    assert event.related_ids["addedUserIds"] == [member_id]


# Reviews.


@emits("review.requested")
def test_review_request_recorded(world):
    desk = Desk(world)

    response = desk.request()

    assert response.status_code == 202, response.content
    event = assert_event(
        "review.requested",
        workspace=world.workspace,
        outcome="success",
        actor=world.member.user,
        source_kind="web",
        target_type="review",
        target_id=response.json()["review"]["id"],
        canaries=token_canaries(world.member),
    )
    assert event.metadata["reviewedHash"] == desk.draft_hash()
    assert event.related_ids["teamIds"] == [desk.general]


@emits("review.approved")
def test_review_approval_recorded(world):
    desk = Desk(world)
    review = desk.request().json()["review"]

    response = desk.approve(review["id"])

    assert response.status_code == 200, response.content
    event = assert_event(
        "review.approved",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="review",
        target_id=review["id"],
        canaries=token_canaries(world.owner),
    )
    approval = Review.objects.get(pk=review["id"]).approval
    assert event.related_ids["approvalId"] == str(approval.pk)
    assert event.metadata["hash"] == review["draftHash"]


@emits("review.changes_requested")
def test_changes_request_recorded(world):
    desk = Desk(world)
    review = desk.request().json()["review"]

    response = world.owner.post(
        f"{world.base}/reviews/{review['id']}/changes", {"message": "Narrow the URL."}
    )

    assert response.status_code == 200, response.content
    event = assert_event(
        "review.changes_requested",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="review",
        target_id=review["id"],
        canaries=token_canaries(world.owner),
    )
    assert event.metadata == {"reviewedHash": review["draftHash"]}
    assert event.target_parent == desk.app_id


@emits("review.superseded")
def test_draft_edit_recorded_superseding(world):
    desk = Desk(world)
    review = desk.request().json()["review"]

    desk.write(document("/v2"))

    event = assert_event(
        "review.superseded",
        workspace=world.workspace,
        outcome="success",
        actor=world.member.user,
        source_kind="web",
        target_type="review",
        target_id=review["id"],
        canaries=token_canaries(world.member),
    )
    assert event.metadata["reason"] == "the draft changed"
    assert event.metadata["reviewedHash"] == review["draftHash"]


# App-agent runs.


@emits("app_agent_run.created")
def test_run_start_recorded(world):
    desk = Desk(world)

    response = world.member.post(
        f"{desk.url}/agent-runs",
        {"agentId": "agent", "prompt": f"Find {CANARY}", "sourceVersion": "draft"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    event = assert_event(
        "app_agent_run.created",
        workspace=world.workspace,
        outcome="started",
        actor=world.member.user,
        source_kind="web",
        target_type="agent_run",
        target_id=body["runId"],
        canaries=(*token_canaries(world.member), body["runToken"]),
    )
    assert event.metadata == {"agentId": "agent", "sourceVersion": "draft"}
    assert event.target_parent == desk.app_id


@emits("app_agent_run.completed")
def test_run_completion_recorded(world):
    built = build_app(world, tool_document(url=f"https://{DOMAIN}/v1", domain=DOMAIN))

    response = runtime_client(built.run_token).post(
        "/api/internal/agent-run-complete",
        {"runId": built.run_id, "status": "completed", "result": {"note": CANARY}},
        format="json",
    )

    assert response.status_code == 200, response.content
    event = assert_event(
        "app_agent_run.completed",
        workspace=world.workspace,
        outcome="completed",
        source_kind="app_agent",
        target_type="agent_run",
        target_id=built.run_id,
        canaries=(CANARY, built.run_token),
    )
    assert (event.actor_kind, event.actor_id) == ("agent", "agent")
    assert event.metadata["status"] == "completed"


@emits("app_agent_run.failed")
def test_reaper_recorded_timed_out_run(world, settings):
    built = build_app(world, tool_document(url=f"https://{DOMAIN}/v1", domain=DOMAIN))
    opened = timezone.now() - timedelta(seconds=settings.SECOND_RUN_TIMEOUT_SECONDS + 1)
    AgentRun.objects.filter(pk=built.run_id).update(created_at=opened)

    reap.apply().get()

    event = assert_event(
        "app_agent_run.failed",
        workspace=world.workspace,
        outcome="failure",
        source_kind="worker",
        target_type="agent_run",
        target_id=built.run_id,
        canaries=(CANARY, built.run_token),
    )
    assert event.actor_kind == "system"
    assert event.metadata["errorCode"] == "run_timed_out"


# Tool calls.


@emits("tool.custom.executed")
def test_tool_call_recorded_executed(world, upstream):
    built = keyed_app(world, "/echo")

    answer = built.call()

    assert answer.status_code == 200, answer.content
    assert upstream.requests[0].headers["authorization"] == f"Bearer {CANARY}"
    event = assert_event(
        "tool.custom.executed",
        workspace=world.workspace,
        outcome="success",
        source_kind="worker",
        target_type="tool_call",
        target_id=only_call(built).pk,
        canaries=(CANARY, built.run_token),
    )
    assert event.metadata["host"] == DOMAIN
    assert event.metadata["upstreamStatus"] == 200
    assert event.related_ids["runId"] == built.run_id


@emits("tool.custom.failed")
def test_upstream_error_recorded_failed(world, upstream):
    upstream.server.set_json("/limited", {"error": "slow down"}, status=429)
    built = keyed_app(world, "/limited")

    answer = built.call()

    assert answer.json()["success"] is False
    event = assert_event(
        "tool.custom.failed",
        workspace=world.workspace,
        outcome="failure",
        source_kind="worker",
        target_type="tool_call",
        target_id=only_call(built).pk,
        canaries=(CANARY, built.run_token),
    )
    assert event.metadata["errorCategory"] == "rate_limit"
    assert event.metadata["upstreamStatus"] == 429


@emits("tool.custom.mocked")
def test_unconfigured_tool_recorded_mocked(world, upstream):
    built = build_app(world, keyed_tool("/echo"), setup=setup_document(DOMAIN))

    answer = built.call()

    assert answer.json()["mock"] is True
    event = assert_event(
        "tool.custom.mocked",
        workspace=world.workspace,
        outcome="success",
        source_kind="worker",
        target_type="tool_call",
        target_id=only_call(built).pk,
        canaries=(CANARY, built.run_token),
    )
    assert event.metadata["mockReason"] == "integration needs setup"
    assert upstream.requests == []


@emits("tool.custom.denied")
def test_private_address_recorded_denied(world, test_resolver, settings):
    settings.SECOND_EGRESS_RESOLVE = {}
    test_resolver.set_answers(DOMAIN, ["10.0.0.5"])
    built = keyed_app(world, "/echo")

    answer = built.call()

    assert answer.json()["error"] == "private_ip_blocked"
    event = assert_event(
        "tool.custom.denied",
        workspace=world.workspace,
        outcome="denied",
        source_kind="worker",
        target_type="tool_call",
        target_id=only_call(built).pk,
        canaries=(CANARY, built.run_token),
    )
    assert event.metadata["egressReason"] == "private"
    assert event.severity == "warning"


# The audit log itself.


@emits("audit.viewed")
def test_audit_read_recorded(world):
    cache.clear()

    response = world.admin.get(f"{world.base}/audit-events")

    assert response.status_code == 200, response.content
    event = assert_event(
        "audit.viewed",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="audit_log",
        target_id=world.workspace.pk,
        canaries=token_canaries(world.admin),
    )
    assert event.metadata == {"view": "list"}


@emits("audit.exported")
def test_export_command_recorded(world):
    stored = AuditEvent.objects.filter(workspace=world.workspace).count()

    call_command(
        "export_audit",
        "--workspace",
        world.workspace.slug,
        "--format",
        "csv",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    event = assert_event(
        "audit.exported",
        workspace=world.workspace,
        outcome="success",
        target_type="workspace",
        target_id=world.workspace.pk,
    )
    assert event.actor_kind == "system"
    assert event.metadata["format"] == "csv"
    assert event.metadata["rows"] == stored


@emits("audit.checkpoint")
def test_retention_recorded_checkpoint(world, settings):
    stored = AuditEvent.objects.filter(workspace=world.workspace).count()
    days = settings.SECOND_AUDIT_RETENTION_DAYS

    retention_apply(now=timezone.now() + timedelta(days=days + 1))

    event = assert_event(
        "audit.checkpoint",
        workspace=world.workspace,
        outcome="completed",
        source_kind="worker",
        target_type="audit_chain",
        target_id=world.workspace.pk,
    )
    assert event.metadata["removedCount"] == stored
    assert chain_verify(workspace_id_or_none=world.workspace.pk).intact


# Visibility of the published version.


@emits("app.visibility_changed")
def test_first_publish_recorded_visibility(world):
    desk = Desk(world)

    response = desk.publish_now(hash=desk.draft_hash())

    assert response.status_code == 200, response.content
    event = assert_event(
        "app.visibility_changed",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="app",
        target_id=desk.app_id,
        canaries=token_canaries(world.owner),
    )
    assert event.metadata["audienceBefore"] == "builders"
    assert event.metadata["audience"] == "teams"
    assert event.related_ids == {"teamIdsBefore": [], "teamIds": [desk.general]}
