"""Memberships derived from the identity provider's claim, and invitations
accepted at login."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.claims_sync import (
    invitations_accept_at_login,
    memberships_sync_from_claims,
)
from apps.applications.models import App
from apps.audit.models import AuditEvent
from apps.audit.services import Source
from apps.execution.models import AgentRun
from apps.integrations.models import ConnectedAccount, OAuthProviderConfig
from apps.workspaces.invitations import invitation_create, invitation_revoke
from apps.workspaces.models import DEFAULT_TEAM_NAME, Membership, Team, Workspace
from tests.conftest import make_persona
from tests.execution.conftest import build_app, tool_document

pytestmark = pytest.mark.django_db

ROLE_MAP = {
    "eng": [{"workspace": "acme", "role": "member"}],
    "eng-leads": [{"workspace": "acme", "role": "admin"}],
    "acme-owners": [{"workspace": "acme", "role": "owner"}],
    "solo-owners": [{"workspace": "solo", "role": "owner"}],
    "solo-members": [{"workspace": "solo", "role": "member"}],
    "ghosts": [{"workspace": "missing", "role": "member"}],
}


@pytest.fixture(autouse=True)
def role_map(settings):
    settings.SECOND_OIDC_ROLE_CLAIM = "groups"
    settings.SECOND_OIDC_ROLE_MAP = ROLE_MAP


@pytest.fixture
def claimant(world):
    """An account that is in no workspace, with the email claimant@example.test."""
    return make_persona("claimant").user


@pytest.fixture
def solo(db) -> Workspace:
    """A workspace without members, so a claim-made owner is its only owner."""
    workspace = Workspace.objects.create(name="Solo", slug="solo")
    Team.objects.create(workspace=workspace, name=DEFAULT_TEAM_NAME, is_default=True)
    return workspace


def sync(user, *groups: str) -> None:
    memberships_sync_from_claims(
        user=user, claims={"groups": list(groups)}, source=Source()
    )


def membership_of(user, workspace) -> Membership | None:
    return Membership.objects.filter(user=user, workspace=workspace).first()


def events(workspace, event_name: str):
    return AuditEvent.objects.filter(
        workspace=workspace, event_name=event_name
    ).order_by("sequence")


# Adding


def test_claim_adds_membership_role(world, claimant):
    sync(claimant, "eng-leads")

    membership = membership_of(claimant, world.workspace)
    assert membership is not None
    assert membership.role == "admin"
    assert membership.source == Membership.Source.IDENTITY_CLAIM


def test_claim_membership_joins_general(world, claimant):
    sync(claimant, "eng")

    membership = membership_of(claimant, world.workspace)
    team_names = set(membership.teams.values_list("name", flat=True))
    assert team_names == {DEFAULT_TEAM_NAME}


def test_claim_admin_derives_staff(world, claimant):
    sync(claimant, "eng-leads")

    claimant.refresh_from_db()
    assert claimant.is_staff


def test_string_claim_is_one_item(world, claimant):
    memberships_sync_from_claims(
        user=claimant, claims={"groups": "eng-leads"}, source=Source()
    )

    assert membership_of(claimant, world.workspace).role == "admin"


def test_configured_claim_name_is_read(world, claimant, settings):
    settings.SECOND_OIDC_ROLE_CLAIM = "roles"

    memberships_sync_from_claims(
        user=claimant,
        claims={"groups": ["eng"], "roles": ["eng-leads"]},
        source=Source(),
    )

    assert membership_of(claimant, world.workspace).role == "admin"


def test_unmapped_value_adds_nothing(world, claimant):
    sync(claimant, "sales")

    assert not Membership.objects.filter(user=claimant).exists()


@pytest.mark.parametrize(
    "groups",
    [("eng", "eng-leads", "acme-owners"), ("acme-owners", "eng-leads", "eng")],
)
def test_strongest_role_wins(world, claimant, groups):
    sync(claimant, *groups)

    assert membership_of(claimant, world.workspace).role == "owner"


def test_strongest_role_wins_on_change(world, claimant):
    sync(claimant, "eng")

    sync(claimant, "eng", "eng-leads")

    assert membership_of(claimant, world.workspace).role == "admin"


def test_unknown_slug_is_skipped(world, claimant, caplog):
    with caplog.at_level(logging.WARNING, logger="apps.accounts.claims_sync"):
        sync(claimant, "ghosts", "eng")

    assert membership_of(claimant, world.workspace) is not None
    assert not Workspace.objects.filter(slug="missing").exists()
    assert "slug=missing" in caplog.text
    assert "group=ghosts" in caplog.text


def test_invalid_map_role_is_skipped(world, claimant, settings):
    settings.SECOND_OIDC_ROLE_MAP = {
        "eng": [{"workspace": "acme", "role": "superuser"}]
    }

    sync(claimant, "eng")

    assert membership_of(claimant, world.workspace) is None


def test_second_sync_writes_nothing(world, claimant):
    sync(claimant, "eng")
    count = AuditEvent.objects.filter(workspace=world.workspace).count()

    sync(claimant, "eng")

    assert AuditEvent.objects.filter(workspace=world.workspace).count() == count


# Changing roles


def test_claim_change_changes_role(world, claimant):
    sync(claimant, "eng")

    sync(claimant, "eng-leads")

    assert membership_of(claimant, world.workspace).role == "admin"


def test_claim_demotion_drops_staff(world, claimant):
    sync(claimant, "eng-leads")

    sync(claimant, "eng")

    claimant.refresh_from_db()
    assert not claimant.is_staff


def test_owner_demoted_beside_other_owner(world, claimant):
    sync(claimant, "acme-owners")

    sync(claimant, "eng")

    assert membership_of(claimant, world.workspace).role == "member"


# Removing


def test_dropped_value_removes_membership(world, claimant):
    sync(claimant, "eng")

    sync(claimant)

    assert membership_of(claimant, world.workspace) is None


def test_absent_claim_removes_membership(world, claimant):
    sync(claimant, "eng")

    memberships_sync_from_claims(user=claimant, claims={}, source=Source())

    assert membership_of(claimant, world.workspace) is None


def test_removal_keeps_other_workspaces(world, claimant, solo):
    sync(claimant, "eng", "solo-members")

    sync(claimant, "solo-members")

    assert membership_of(claimant, world.workspace) is None
    assert membership_of(claimant, solo) is not None


def test_removal_drops_collaborator(world, claimant):
    sync(claimant, "eng")
    built = build_app(world, public_tool())
    built.app.collaborators.add(claimant)

    sync(claimant)

    assert not App.objects.get(pk=built.app.pk).collaborators.exists()


def test_removal_fails_open_runs(world, claimant):
    sync(claimant, "eng")
    built = build_app(world, public_tool(), creator=claimant)

    sync(claimant)

    run = AgentRun.objects.get(pk=built.run_id)
    assert run.status == "failed"
    assert run.error_code == "member_removed"


def test_removal_revokes_connected_accounts(world, claimant):
    sync(claimant, "eng")
    account = connected_account(world, claimant)

    sync(claimant)

    account.refresh_from_db()
    assert account.status == ConnectedAccount.Status.REVOKED


# Memberships of other sources


@pytest.mark.parametrize("groups", [(), ("eng-leads",), ("acme-owners",)])
def test_manual_membership_is_untouched(world, groups):
    sync(world.member.user, *groups)

    membership = membership_of(world.member.user, world.workspace)
    assert membership is not None
    assert membership.role == "member"
    assert membership.source == Membership.Source.MANUAL


def test_creator_membership_is_untouched(world):
    sync(world.owner.user, "eng")

    membership = membership_of(world.owner.user, world.workspace)
    assert membership.role == "owner"
    assert membership.source == Membership.Source.CREATOR


def test_untouched_membership_writes_no_event(world):
    count = AuditEvent.objects.filter(workspace=world.workspace).count()

    sync(world.member.user, "eng-leads")

    assert AuditEvent.objects.filter(workspace=world.workspace).count() == count


# The last owner


def test_last_owner_is_not_removed(claimant, solo):
    sync(claimant, "solo-owners")

    sync(claimant)

    membership = membership_of(claimant, solo)
    assert membership is not None
    assert membership.role == "owner"


def test_last_owner_removal_is_audited(claimant, solo):
    sync(claimant, "solo-owners")

    sync(claimant)

    event = events(solo, "member.removed").get()
    assert event.outcome == "failure"
    assert event.metadata["reason"] == "last_owner"
    assert event.metadata["source"] == "identity_claim"


def test_last_owner_is_not_demoted(claimant, solo):
    sync(claimant, "solo-owners")

    sync(claimant, "solo-members")

    assert membership_of(claimant, solo).role == "owner"


def test_last_owner_demotion_is_audited(claimant, solo):
    sync(claimant, "solo-owners")

    sync(claimant, "solo-members")

    event = events(solo, "member.role_changed").get()
    assert event.outcome == "failure"
    assert event.metadata["reason"] == "last_owner"
    assert event.metadata["toRole"] == "member"


# Audit events


def test_add_is_audited(world, claimant):
    sync(claimant, "eng")

    event = events(world.workspace, "member.added").last()
    assert event.outcome == "success"
    assert event.actor_display == "identity provider"
    assert event.related_ids["userId"] == str(claimant.pk)
    assert event.metadata["source"] == "identity_claim"
    assert event.metadata["role"] == "member"


def test_role_change_is_audited(world, claimant):
    sync(claimant, "eng")

    sync(claimant, "eng-leads")

    event = events(world.workspace, "member.role_changed").get()
    assert event.outcome == "success"
    assert event.metadata["fromRole"] == "member"
    assert event.metadata["toRole"] == "admin"
    assert event.metadata["source"] == "identity_claim"


def test_removal_is_audited(world, claimant):
    sync(claimant, "eng")

    sync(claimant)

    event = events(world.workspace, "member.removed").get()
    assert event.outcome == "success"
    assert event.metadata["source"] == "identity_claim"
    assert event.related_ids["userId"] == str(claimant.pk)


def test_events_hold_no_email(world, claimant):
    sync(claimant, "eng")
    sync(claimant, "eng-leads")
    sync(claimant)

    names = ("member.added", "member.role_changed", "member.removed")
    for event in AuditEvent.objects.filter(event_name__in=names):
        assert claimant.email not in str(event.metadata)
        assert claimant.email not in event.summary


def test_sync_logs_no_email(world, claimant, caplog):
    with caplog.at_level(logging.INFO):
        sync(claimant, "eng", "ghosts")
        sync(claimant)

    assert claimant.email not in caplog.text


# Invitations at login


@pytest.fixture
def platform_team(world) -> Team:
    return Team.objects.create(workspace=world.workspace, name="Platform")


def invite(world, email: str, role: str = "member", team_ids=()):
    invitation, _ = invitation_create(
        workspace=world.workspace,
        inviter_membership=membership_of(world.owner.user, world.workspace),
        email=email,
        role=role,
        team_ids=list(team_ids),
        source=Source(),
    )
    return invitation


def verified(user):
    user.email_verified = True
    user.save(update_fields=["email_verified"])
    return user


def test_verified_email_accepts_invitation(world, claimant, platform_team):
    invitation = invite(
        world, "claimant@example.test", role="admin", team_ids=[platform_team.pk]
    )

    accepted = invitations_accept_at_login(user=verified(claimant), source=Source())

    assert accepted == 1
    membership = membership_of(claimant, world.workspace)
    assert membership.role == "admin"
    assert membership.source == Membership.Source.INVITATION
    team_names = set(membership.teams.values_list("name", flat=True))
    assert team_names == {DEFAULT_TEAM_NAME, "Platform"}
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    assert invitation.accepted_by == claimant


def test_email_case_is_ignored(world, claimant):
    invite(world, "claimant@example.test")
    claimant.email = "Claimant@Example.TEST"

    accepted = invitations_accept_at_login(user=verified(claimant), source=Source())

    assert accepted == 1


def test_unverified_email_accepts_nothing(world, claimant):
    invitation = invite(world, "claimant@example.test")

    accepted = invitations_accept_at_login(user=claimant, source=Source())

    assert accepted == 0
    assert membership_of(claimant, world.workspace) is None
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_expired_invitation_not_accepted(world, claimant):
    invitation = invite(world, "claimant@example.test")
    invitation.expires_at = timezone.now() - timedelta(minutes=1)
    invitation.save(update_fields=["expires_at"])

    accepted = invitations_accept_at_login(user=verified(claimant), source=Source())

    assert accepted == 0
    assert membership_of(claimant, world.workspace) is None


def test_revoked_invitation_not_accepted(world, claimant):
    invitation = invite(world, "claimant@example.test")
    invitation_revoke(
        invitation=invitation,
        inviter_membership=membership_of(world.owner.user, world.workspace),
        source=Source(),
    )

    accepted = invitations_accept_at_login(user=verified(claimant), source=Source())

    assert accepted == 0
    assert membership_of(claimant, world.workspace) is None


def test_other_email_not_accepted(world, claimant):
    invite(world, "someone-else@example.test")

    accepted = invitations_accept_at_login(user=verified(claimant), source=Source())

    assert accepted == 0


def test_member_workspace_is_skipped(world, claimant):
    invitation = invite(world, "claimant@example.test", role="admin")
    sync(claimant, "eng")

    accepted = invitations_accept_at_login(user=verified(claimant), source=Source())

    assert accepted == 0
    assert membership_of(claimant, world.workspace).role == "member"
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_acceptance_is_audited(world, claimant):
    invite(world, "claimant@example.test")

    invitations_accept_at_login(user=verified(claimant), source=Source())

    names = list(
        AuditEvent.objects.filter(workspace=world.workspace)
        .order_by("sequence")
        .values_list("event_name", flat=True)
    )
    assert names[-2:] == ["invitation.accepted", "member.added"]
    accepted = events(world.workspace, "invitation.accepted").get()
    assert accepted.actor_id == str(claimant.pk)
    assert claimant.email not in str(accepted.metadata)


# Helpers for the removal side effects


def public_tool() -> dict:
    return tool_document(
        url="https://api.allowed.example/json", domain="api.allowed.example"
    )


def connected_account(world, user) -> ConnectedAccount:
    """Create a live account with no revocation URL, so revoking sends nothing."""
    config = OAuthProviderConfig.objects.create(
        workspace=world.workspace,
        provider_key="calendar",
        authorization_url="https://auth.provider.example/o/authorize/",
        token_url="https://auth.provider.example/o/token/",
    )
    return ConnectedAccount.objects.create(
        workspace=world.workspace,
        config=config,
        user=user,
        granted_scopes=["calendar.read"],
    )
