"""The scheduled jobs exist, and running each twice changes nothing the first
run did not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import Source
from apps.audit.tasks import apply_retention
from apps.execution.models import ToolCall
from apps.execution.tasks import reap
from apps.integrations.tasks import clean_oauth_state
from apps.workspaces.invitations import invitation_create
from apps.workspaces.models import Invitation, Membership
from apps.workspaces.tasks import expire_invitations
from config.celery import app
from tests.execution.conftest import build_app, tool_document

pytestmark = pytest.mark.django_db


def test_beat_schedules_every_job():
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}

    assert tasks == {
        "execution.reap",
        "workspaces.expire_invitations",
        "integrations.clean_oauth_state",
        "audit.apply_retention",
    }


def test_invitation_expiry_runs_twice(world):
    inviter = Membership.objects.get(user=world.owner.user)
    invitation, _ = invitation_create(
        workspace=world.workspace,
        inviter_membership=inviter,
        email="late@example.test",
        role="member",
        team_ids=[],
        source=Source(),
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert expire_invitations.apply().get() == 1
    assert expire_invitations.apply().get() == 0
    assert Invitation.objects.get(pk=invitation.pk).status == "expired"


def test_reaper_runs_twice(world):
    built = build_app(
        world,
        tool_document(
            url="https://api.allowed.example/json", domain="api.allowed.example"
        ),
    )
    ToolCall.objects.create(
        workspace=built.app.workspace,
        app=built.app,
        kind=ToolCall.Kind.AGENT_TOOL,
        tool_name="lookup",
        source_version="draft",
        state=ToolCall.State.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
    )

    reap.apply().get()
    events_after_first = AuditEvent.objects.filter(
        event_name="tool.custom.failed"
    ).count()
    reap.apply().get()

    assert ToolCall.objects.get().state == "lost"
    assert events_after_first == 1
    assert AuditEvent.objects.filter(event_name="tool.custom.failed").count() == 1


@pytest.mark.parametrize("job", [clean_oauth_state, apply_retention])
def test_placeholder_jobs_remove_nothing(job):
    assert job.apply().get() == 0
