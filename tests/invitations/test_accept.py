"""Accepting invitations through the API, and expiring them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.workspaces.invitations import invitation_expire_due
from apps.workspaces.models import Invitation, Membership
from tests.invitations.conftest import invite, token_of

NOT_FOUND = b'{"error":"not_found","detail":"Not found."}'


def accept(persona, token: str):
    return persona.post(f"/api/invitations/{token}/accept")


def test_accept_creates_membership(world, invitee, platform_team):
    created = invite(
        world.admin, world, "Invitee@Example.TEST", team_ids=[str(platform_team.pk)]
    )

    response = accept(invitee, token_of(created))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["workspace"]["id"] == str(world.workspace.pk)
    assert body["role"] == "member"
    membership = Membership.objects.get(workspace=world.workspace, user=invitee.user)
    assert membership.role == "member"
    assert membership.source == Membership.Source.INVITATION
    team_names = set(membership.teams.values_list("name", flat=True))
    assert team_names == {"General", "Platform"}
    invitation = Invitation.objects.get(pk=created.json()["id"])
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_by == invitee.user
    assert invitation.accepted_at is not None


def test_accept_admin_derives_staff(world, invitee):
    created = invite(world.owner, world, "invitee@example.test", role="admin")

    accept(invitee, token_of(created))

    invitee.user.refresh_from_db()
    assert invitee.user.is_staff


def test_accept_member_is_not_staff(world, invitee):
    created = invite(world.owner, world, "invitee@example.test")

    accept(invitee, token_of(created))

    invitee.user.refresh_from_db()
    assert not invitee.user.is_staff


def test_accept_is_audited(world, invitee):
    created = invite(world.owner, world, "invitee@example.test")

    accept(invitee, token_of(created))

    names = list(
        AuditEvent.objects.filter(workspace=world.workspace)
        .order_by("sequence")
        .values_list("event_name", flat=True)
    )
    assert names[-2:] == ["invitation.accepted", "member.added"]
    accepted = AuditEvent.objects.get(event_name="invitation.accepted")
    assert accepted.actor_id == str(invitee.user.pk)
    assert "invitee@" not in str(accepted.metadata)


def test_accept_unknown_token(world, invitee):
    for token in ("garbage", "inv_abcdefghijkl_" + "x" * 43):
        response = accept(invitee, token)
        assert response.status_code == 404
        assert response.content == NOT_FOUND


def test_accept_twice_not_found(world, invitee):
    token = token_of(invite(world.owner, world, "invitee@example.test"))
    accept(invitee, token)

    response = accept(invitee, token)

    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_revoke_then_accept_not_found(world, invitee):
    created = invite(world.owner, world, "invitee@example.test")
    world.owner.post(f"{world.base}/invitations/{created.json()['id']}/revoke")

    response = accept(invitee, token_of(created))

    assert response.status_code == 404
    assert response.content == NOT_FOUND
    assert not Membership.objects.filter(user=invitee.user).exists()


def test_resend_invalidates_old_token(world, invitee):
    created = invite(world.owner, world, "invitee@example.test")
    resent = world.owner.post(f"{world.base}/invitations/{created.json()['id']}/resend")

    old = accept(invitee, token_of(created))
    new = accept(invitee, token_of(resent))

    assert old.status_code == 404
    assert new.status_code == 200


def test_accept_expired(world, invitee):
    created = invite(world.owner, world, "invitee@example.test")
    Invitation.objects.filter(pk=created.json()["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    response = accept(invitee, token_of(created))

    assert response.status_code == 410
    assert response.json()["error"] == "invitation_expired"
    assert not Membership.objects.filter(user=invitee.user).exists()


def test_expire_due_is_idempotent(world, invitee):
    due = invite(world.owner, world, "invitee@example.test").json()
    live = invite(world.owner, world, "later@example.test").json()
    Invitation.objects.filter(pk=due["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    first = invitation_expire_due()
    second = invitation_expire_due()

    assert first == 1
    assert second == 0
    assert Invitation.objects.get(pk=due["id"]).status == "expired"
    assert Invitation.objects.get(pk=live["id"]).status == "pending"


def test_expired_shows_in_list(world):
    created = invite(world.owner, world, "late@example.test").json()
    Invitation.objects.filter(pk=created["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    listed = world.owner.get(f"{world.base}/invitations?status=expired").json()

    assert [item["status"] for item in listed] == ["expired"]


def test_past_due_pending_allows_new_invite(world):
    created = invite(world.owner, world, "late@example.test").json()
    Invitation.objects.filter(pk=created["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    response = invite(world.owner, world, "late@example.test")

    assert response.status_code == 201
    assert Invitation.objects.get(pk=created["id"]).status == "expired"


def test_accept_email_mismatch(world):
    token = token_of(invite(world.owner, world, "someone.else@example.test"))

    response = accept(world.outsider, token)

    assert response.status_code == 403
    assert response.json()["error"] == "invitation_email_mismatch"
    assert Invitation.objects.get().status == "pending"


def test_accept_already_member(world):
    # The member's email changes after the invitation is sent, so the invitation
    # names an email that a current member now has.
    token = token_of(invite(world.owner, world, "renamed@example.test"))
    world.member.user.email = "renamed@example.test"
    world.member.user.save(update_fields=["email"])

    response = accept(world.member, token)

    assert response.status_code == 409
    assert response.json()["error"] == "workspace_member_already_exists"


def test_accept_needs_identity(world, client):
    token = token_of(invite(world.owner, world, "invitee@example.test"))

    response = client.post(f"/api/invitations/{token}/accept")

    assert response.status_code == 401


@pytest.mark.parametrize("step", ["created", "resent", "accepted"])
def test_token_stored_nowhere(world, invitee, step):
    created = invite(world.owner, world, "invitee@example.test")
    token = token_of(created)
    if step in ("resent", "accepted"):
        resent = world.owner.post(
            f"{world.base}/invitations/{created.json()['id']}/resend"
        )
        token = token_of(resent)
    if step == "accepted":
        accept(invitee, token)
    # inv_<prefix>_<secret>: the secret itself may contain "_".
    secret = token.split("_", 2)[2]

    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                text = " ".join(str(value) for value in row)
                if token in text or secret in text:
                    found.append(table)

    assert found == []
