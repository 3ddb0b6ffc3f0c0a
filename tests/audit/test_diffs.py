"""django-auditlog's diffs of the governed models: what they leave out, who they
name as actor, where they show and that bulk writes cannot skip them."""

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from apps.audit.actor import ACTOR_HEADER, AuditActorMiddleware, carry_actor
from apps.audit.diffs import GOVERNED, governed_models, secret_fields
from apps.audit.models import AuditEvent
from apps.execution.internal_auth import InternalCaller
from apps.workspaces.invitations import invitation_expire_due
from apps.workspaces.models import Invitation, Team
from tests.execution.conftest import tool_document
from tests.grants.test_grant_secrets import CANARY, Grants
from tests.invitations.conftest import invite, token_of
from tests.support.canary import assert_no_canary

ROOT = Path(__file__).resolve().parents[2]
NOT_GOVERNED = (
    "secret_store.StoredSecret",
    "secret_store.KeyCanary",
    "accounts.User",
    "accounts.PersonalApiToken",
    "audit.AuditEvent",
    "audit.AuditChainHead",
    "execution.AgentRun",
    "execution.ToolCall",
)
SNAPSHOT_MARKER = "snapshot-marker-7f3c91"


def entries_of(model_name: str) -> list[LogEntry]:
    model = apps.get_model(model_name)
    return list(LogEntry.objects.get_for_model(model).order_by("timestamp", "pk"))


def diff_text() -> str:
    rows = LogEntry.objects.values()
    return json.dumps(list(rows), default=str)


# Registration.


@pytest.mark.parametrize("governed", GOVERNED, ids=lambda governed: governed.model)
def test_governed_model_registered(governed):
    assert auditlog.contains(apps.get_model(governed.model))


@pytest.mark.parametrize("governed", GOVERNED, ids=lambda governed: governed.model)
def test_secret_fields_excluded(governed):
    model = apps.get_model(governed.model)

    excluded = set(auditlog.get_model_fields(model)["exclude_fields"])

    assert secret_fields(model) <= excluded


@pytest.mark.parametrize(
    ("model_name", "fields"),
    [
        ("integrations.GrantSecret", {"stored_secret"}),
        ("integrations.OAuthProviderConfig", {"client_secret"}),
        ("integrations.ConnectedAccount", {"access_token", "refresh_token"}),
        ("workspaces.Invitation", {"token_hash", "token_prefix"}),
    ],
)
def test_secret_fields_found(model_name, fields):
    assert secret_fields(apps.get_model(model_name)) == fields


@pytest.mark.parametrize(
    ("model_name", "field"),
    [("applications.AppSnapshot", "files"), ("agents.AgentsApproval", "payload")],
)
def test_snapshot_contents_excluded(model_name, field):
    model = apps.get_model(model_name)

    assert field in auditlog.get_model_fields(model)["exclude_fields"]


@pytest.mark.parametrize("model_name", NOT_GOVERNED)
def test_secret_and_user_models_not_registered(model_name):
    assert not auditlog.contains(apps.get_model(model_name))


def test_log_entry_admin_unregistered():
    assert not admin.site.is_registered(LogEntry)


# What the diffs leave out.


def test_grant_secret_diff_names_secret_only(world):
    grants = Grants(world)

    response = grants.configure(CANARY)

    assert response.status_code == 200
    [created] = entries_of("integrations.GrantSecret")
    assert created.changes_dict["name"] == ["None", "SLACK_BOT_TOKEN"]
    assert "stored_secret" not in created.changes_dict
    assert created.additional_data == {
        "workspace": str(world.workspace.pk),
        "grant": grants.grant_id,
    }
    assert_no_canary(diff_text(), "a model diff", CANARY)


def test_rotation_leaves_no_secret_diff(world):
    grants = Grants(world)
    grants.configure(f"{CANARY}-first")

    grants.configure(CANARY)

    updates = [
        entry
        for entry in entries_of("integrations.GrantSecret")
        if entry.action == LogEntry.Action.UPDATE
    ]
    assert all("stored_secret" not in entry.changes_dict for entry in updates)
    assert_no_canary(diff_text(), "a model diff", CANARY)
    assert_no_canary(diff_text(), "a model diff", f"{CANARY}-first")


def test_snapshot_diff_leaves_files_out(world):
    created = world.member.post(f"{world.base}/apps", {"name": "Lookup"}).json()
    document = tool_document(
        url="https://api.allowed.example/v1", domain="api.allowed.example"
    )
    document["agents"][0]["description"] = SNAPSHOT_MARKER

    response = world.member.patch(f"{world.base}/apps/{created['id']}/agents", document)

    assert response.status_code == 200
    changed = [entry.changes_dict for entry in entries_of("applications.AppSnapshot")]
    assert any("agents_hash" in changes for changes in changed)
    assert all("files" not in changes for changes in changed)
    assert SNAPSHOT_MARKER not in diff_text()


def test_invitation_diff_leaves_token_out(world):
    response = invite(world.admin, world, "new.person@example.test")

    token = token_of(response)
    [created] = entries_of("workspaces.Invitation")
    assert {"token_prefix", "token_hash"}.isdisjoint(created.changes_dict)
    assert created.changes_dict["email"] == ["None", "new.person@example.test"]
    assert_no_canary(diff_text(), "a model diff", token)


def test_remote_address_not_stored(world):
    Grants(world).configure(CANARY)

    addresses = set(LogEntry.objects.values_list("remote_addr", flat=True))

    assert addresses == {None}


# Who the actor is.


def test_bearer_user_is_actor(world):
    grants = Grants(world)

    grants.configure(CANARY)

    [created] = entries_of("integrations.GrantSecret")
    assert created.actor_id == world.admin.user.pk
    assert created.actor_email == world.admin.user.email


def test_diff_shares_request_id(world):
    grants = Grants(world)

    response = grants.configure(CANARY)

    [created] = entries_of("integrations.GrantSecret")
    assert created.cid == response["X-Request-Id"]


def test_session_user_is_actor(world):
    browser = Client()
    browser.force_login(world.owner.user)
    team = Team.objects.create(workspace=world.workspace, name="Platform")

    response = browser.patch(
        f"{world.base}/teams/{team.pk}",
        json.dumps({"name": "Everyone"}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    [renamed] = [
        entry
        for entry in entries_of("workspaces.Team")
        if entry.action == LogEntry.Action.UPDATE
    ]
    assert renamed.actor_id == world.owner.user.pk


def test_system_job_has_no_actor(world):
    invite(world.admin, world, "late@example.test")
    Invitation.objects.filter(email="late@example.test").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert invitation_expire_due() == 1

    expired = entries_of("workspaces.Invitation")[-1]
    assert expired.changes_dict["status"] == ["pending", "expired"]
    assert expired.actor_id is None


def queued_headers(user) -> dict:
    """Return the headers a task queued in a request made by `user` carries."""
    headers: dict = {}

    def view(request):
        carry_actor(headers=headers)
        return HttpResponse()

    request = RequestFactory().post("/api/anything")
    request.user = user
    AuditActorMiddleware(view)(request)
    return headers


def test_task_carries_request_user(world):
    assert queued_headers(world.member.user) == {
        ACTOR_HEADER: str(world.member.user.pk)
    }


def test_task_from_run_carries_triggering_user(world):
    from apps.execution.models import AgentRun

    run = AgentRun(triggering_user=world.member.user)

    headers = queued_headers(InternalCaller(kind="run", run=run))

    assert headers == {ACTOR_HEADER: str(world.member.user.pk)}


def test_task_from_internal_token_carries_nobody(world):
    assert queued_headers(InternalCaller(kind="internal")) == {}


# Where diffs show, and where they do not.


def test_grant_history_shows_secret_diff(world):
    grants = Grants(world)
    grants.configure(CANARY)
    browser = Client()
    browser.force_login(world.owner.user)

    page = browser.get(
        f"/admin/integrations/integrationgrant/{grants.grant_id}/history/"
    )

    assert page.status_code == 200
    text = page.content.decode()
    assert "SLACK_BOT_TOKEN" in text
    assert "Grant secret" in text
    assert_no_canary(text, "the grant's history page", CANARY)


def test_workspace_history_keeps_other_workspace_out(world):
    Grants(world).configure(CANARY)
    browser = Client()
    browser.force_login(world.outsider.user)

    own = browser.get(
        f"/admin/workspaces/workspace/{world.other_workspace.pk}/history/"
    )
    foreign = browser.get(f"/admin/workspaces/workspace/{world.workspace.pk}/history/")

    assert own.status_code == 200
    assert "SLACK_BOT_TOKEN" not in own.content.decode()
    assert foreign.status_code == 404


def test_app_history_lists_deleted_part(world):
    grants = Grants(world)
    grants.configure(CANARY)
    browser = Client()
    browser.force_login(world.owner.user)

    grants.delete()
    page = browser.get(f"/admin/applications/app/{grants.app_id}/history/")

    assert page.status_code == 200
    assert "Integration grant" in page.content.decode()
    assert "delete" in page.content.decode().lower()


def test_log_entry_admin_url_not_found(world):
    browser = Client()
    browser.force_login(world.owner.user)

    assert browser.get("/admin/auditlog/logentry/").status_code == 404


def test_diffs_stay_out_of_read_api_and_export(world, tmp_path):
    Grants(world).configure(CANARY)
    output = tmp_path / "events.jsonl"

    listed = world.owner.get(f"{world.base}/audit-events?limit=200").json()
    stored = {
        str(pk)
        for pk in AuditEvent.objects.filter(workspace=world.workspace).values_list(
            "pk", flat=True
        )
    }
    call_command(
        "export_audit",
        "--workspace",
        "acme",
        "--output",
        str(output),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    assert LogEntry.objects.exists()
    assert {item["id"] for item in listed["results"]} <= stored
    exported = {json.loads(line)["id"] for line in output.read_text().splitlines()}
    assert exported == stored


# Bulk writes.


def run_as_product(source: str, namespace: dict) -> None:
    """Run `source` as if it were a file of the product's apps/ directory."""
    code = compile(source, str(ROOT / "apps" / "bulk_probe.py"), "exec")
    exec(code, namespace)  # noqa: S102 - the test's own literal source


def test_product_bulk_update_caught(world, governed_bulk_writes):
    namespace = {"Team": Team, "workspace": world.workspace}

    run_as_product(
        "Team.objects.filter(workspace=workspace).update(name='Renamed')", namespace
    )

    assert governed_bulk_writes == ["Team update ['name']"]
    governed_bulk_writes.clear()


def test_product_bulk_create_caught(world, governed_bulk_writes):
    namespace = {"Team": Team, "workspace": world.workspace}

    run_as_product(
        "Team.objects.bulk_create([Team(workspace=workspace, name='Ops')])",
        namespace,
    )

    assert governed_bulk_writes == ["Team bulk_create"]
    governed_bulk_writes.clear()


def test_excluded_field_update_allowed(world, governed_bulk_writes):
    from apps.applications.models import App

    namespace = {"App": App, "now": timezone.now()}

    run_as_product("App.objects.all().update(updated_at=now)", namespace)

    assert governed_bulk_writes == []


def test_governed_models_cover_registry():
    registered = {
        model for model in auditlog.get_models() if model in governed_models()
    }

    assert registered == set(governed_models())
