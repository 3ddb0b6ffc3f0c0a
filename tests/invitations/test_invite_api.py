"""Creating, listing, resending and revoking invitations through the API."""

import pytest

from apps.audit.models import AuditEvent
from apps.workspaces.invitations import invitation_find_by_token
from apps.workspaces.models import Invitation
from tests.invitations.conftest import invite, token_of


def test_owner_invites_member(world, platform_team):
    response = invite(
        world.owner, world, "New.Person@Example.test", team_ids=[str(platform_team.pk)]
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new.person@example.test"
    assert body["role"] == "member"
    assert body["status"] == "pending"
    assert body["teamIds"] == [str(platform_team.pk)]
    assert body["invitedBy"] == {
        "id": str(world.owner.user.pk),
        "name": world.owner.user.name,
    }
    assert body["acceptUrl"].startswith("http://testserver/invitations/inv_")
    assert {"createdAt", "expiresAt", "lastSentAt", "id"} <= set(body)


def test_invitation_expires_in_seven_days(world):
    response = invite(world.owner, world, "week@example.test")

    invitation = Invitation.objects.get(pk=response.json()["id"])
    lifetime = invitation.expires_at - invitation.created_at
    assert round(lifetime.total_seconds() / 86400) == 7


def test_admin_invites_admin(world):
    response = invite(world.admin, world, "second.admin@example.test", role="admin")

    assert response.status_code == 201, response.content


def test_admin_cannot_invite_owner(world):
    response = invite(world.admin, world, "boss@example.test", role="owner")

    assert response.status_code == 403
    assert response.json()["error"] == "workspace_owner_invite_forbidden"
    assert not Invitation.objects.filter(email="boss@example.test").exists()


def test_owner_invites_owner(world):
    response = invite(world.owner, world, "boss@example.test", role="owner")

    assert response.status_code == 201, response.content
    assert response.json()["role"] == "owner"


def test_member_cannot_invite(world):
    response = invite(world.member, world, "friend@example.test")

    assert response.status_code == 403
    assert response.json()["error"] == "workspace_invitations_forbidden"


def test_member_cannot_list(world):
    response = world.member.get(f"{world.base}/invitations")

    assert response.status_code == 403
    assert response.json()["error"] == "workspace_invitations_forbidden"


def test_unknown_role_rejected(world):
    response = invite(world.owner, world, "x@example.test", role="superuser")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_role"


def test_invalid_email_rejected(world):
    response = invite(world.owner, world, "not-an-email")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "email" in body["fields"]


def test_existing_member_conflict(world):
    response = invite(world.owner, world, "MEMBER@example.test")

    assert response.status_code == 409
    assert response.json()["error"] == "workspace_member_already_exists"


def test_pending_invitation_conflict(world):
    first = invite(world.owner, world, "twice@example.test")
    second = invite(world.admin, world, "Twice@Example.test")

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"] == "workspace_invitation_already_pending"


def test_foreign_team_rejected(world, foreign_team):
    response = invite(
        world.owner, world, "teams@example.test", team_ids=[str(foreign_team.pk)]
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert list(body["fields"]) == ["teamIds"]
    assert not Invitation.objects.filter(email="teams@example.test").exists()


@pytest.mark.parametrize(
    "team_id", ["not-a-uuid", "6f1c1e55-0000-4000-8000-000000000000"]
)
def test_unknown_team_rejected(world, team_id):
    response = invite(world.owner, world, "teams@example.test", team_ids=[team_id])

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["teamIds"]


def test_list_shows_no_accept_url(world):
    invite(world.owner, world, "listed@example.test")

    response = world.admin.get(f"{world.base}/invitations")

    assert response.status_code == 200
    [listed] = response.json()
    assert listed["email"] == "listed@example.test"
    assert "acceptUrl" not in listed


def test_list_filters_by_status(world):
    still_pending = invite(world.owner, world, "kept@example.test").json()
    withdrawn = invite(world.owner, world, "gone@example.test").json()
    world.owner.post(f"{world.base}/invitations/{withdrawn['id']}/revoke")

    pending = world.owner.get(f"{world.base}/invitations?status=pending").json()
    revoked = world.owner.get(f"{world.base}/invitations?status=revoked").json()
    unknown = world.owner.get(f"{world.base}/invitations?status=lost")

    assert [item["id"] for item in pending] == [still_pending["id"]]
    assert [item["id"] for item in revoked] == [withdrawn["id"]]
    assert unknown.status_code == 400


def test_resend_replaces_token(world):
    created = invite(world.owner, world, "again@example.test")
    old_token = token_of(created)
    invitation_id = created.json()["id"]

    resent = world.admin.post(f"{world.base}/invitations/{invitation_id}/resend")

    assert resent.status_code == 200, resent.content
    new_token = token_of(resent)
    assert new_token != old_token
    assert invitation_find_by_token(token=old_token) is None
    assert str(invitation_find_by_token(token=new_token).pk) == invitation_id
    invitation = Invitation.objects.get(pk=invitation_id)
    assert invitation.send_count == 2
    assert resent.json()["expiresAt"] >= created.json()["expiresAt"]


def test_admin_cannot_resend_owner_invitation(world):
    created = invite(world.owner, world, "boss@example.test", role="owner").json()

    resent = world.admin.post(f"{world.base}/invitations/{created['id']}/resend")
    revoked = world.admin.post(f"{world.base}/invitations/{created['id']}/revoke")

    assert resent.status_code == 403
    assert resent.json()["error"] == "workspace_owner_invite_forbidden"
    assert revoked.status_code == 403
    assert revoked.json()["error"] == "workspace_owner_invite_forbidden"


def test_member_cannot_resend_or_revoke(world):
    created = invite(world.owner, world, "kept@example.test").json()

    for action in ("resend", "revoke"):
        response = world.member.post(
            f"{world.base}/invitations/{created['id']}/{action}"
        )
        assert response.status_code == 403
        assert response.json()["error"] == "workspace_invitations_forbidden"


def test_revoke_marks_revoked(world):
    created = invite(world.owner, world, "gone@example.test").json()

    response = world.admin.post(f"{world.base}/invitations/{created['id']}/revoke")

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert Invitation.objects.get(pk=created["id"]).revoked_at is not None


def test_revoked_cannot_be_resent(world):
    created = invite(world.owner, world, "gone@example.test").json()
    world.owner.post(f"{world.base}/invitations/{created['id']}/revoke")

    again = world.owner.post(f"{world.base}/invitations/{created['id']}/revoke")
    resent = world.owner.post(f"{world.base}/invitations/{created['id']}/resend")

    assert again.status_code == 409
    assert again.json()["error"] == "invitation_not_pending"
    assert resent.status_code == 409


def test_revoked_email_can_be_invited_again(world):
    created = invite(world.owner, world, "again@example.test").json()
    world.owner.post(f"{world.base}/invitations/{created['id']}/revoke")

    response = invite(world.owner, world, "again@example.test")

    assert response.status_code == 201


def test_writes_are_audited_without_email(world):
    created = invite(world.owner, world, "audited.person@example.test")
    invitation_id = created.json()["id"]
    world.owner.post(f"{world.base}/invitations/{invitation_id}/resend")
    world.owner.post(f"{world.base}/invitations/{invitation_id}/revoke")

    events = AuditEvent.objects.filter(target_id=invitation_id).order_by("sequence")

    assert [event.event_name for event in events] == [
        "invitation.created",
        "invitation.resent",
        "invitation.revoked",
    ]
    for event in events:
        stored = f"{event.summary} {event.target_name} {event.metadata}"
        assert "audited.person" not in stored
        assert "inv_" not in stored
        assert event.metadata["emailMasked"] == "a***@example.test"


def test_owner_invite_denial_audited(world):
    invite(world.admin, world, "boss@example.test", role="owner")

    denial = AuditEvent.objects.get(event_name="access.denied")
    assert denial.metadata["code"] == "workspace_owner_invite_forbidden"


ROUTES = [
    ("GET", "invitations"),
    ("POST", "invitations"),
    ("POST", "invitations/{id}/resend"),
    ("POST", "invitations/{id}/revoke"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_outsider_gets_not_found(world, method, route):
    created = invite(world.owner, world, "private@example.test").json()
    path = f"{world.base}/" + route.format(id=created["id"])

    if method == "GET":
        response = world.outsider.get(path)
    else:
        response = world.outsider.post(
            path, {"email": "x@example.test", "role": "member"}
        )

    assert response.status_code == 404
    assert response.content == b'{"error":"not_found","detail":"Not found."}'


@pytest.mark.parametrize("action", ["resend", "revoke"])
def test_other_workspace_invitation_not_found(world, action):
    foreign_base = f"/api/workspaces/{world.other_workspace.pk}"
    foreign = world.outsider.post(
        f"{foreign_base}/invitations",
        {"email": "theirs@example.test", "role": "member"},
    ).json()

    response = world.owner.post(f"{world.base}/invitations/{foreign['id']}/{action}")

    assert response.status_code == 404
    assert response.content == b'{"error":"not_found","detail":"Not found."}'
    assert Invitation.objects.get(pk=foreign["id"]).send_count == 1


@pytest.mark.parametrize(
    "invitation_id", ["not-a-uuid", "6f1c1e55-0000-4000-8000-000000000000"]
)
def test_unknown_invitation_not_found(world, invitation_id):
    response = world.owner.post(f"{world.base}/invitations/{invitation_id}/resend")

    assert response.status_code == 404


# The token lookup, the membership, the invitations with their inviters, and
# one query for the teams of all of them.
LIST_QUERIES = 4


def test_list_query_count_constant(world, platform_team, django_assert_num_queries):
    invite(world.owner, world, "one@example.test", team_ids=[str(platform_team.pk)])
    with django_assert_num_queries(LIST_QUERIES):
        first = world.owner.get(f"{world.base}/invitations")
    assert len(first.json()) == 1

    for index in range(49):
        invite(
            world.owner,
            world,
            f"many{index}@example.test",
            team_ids=[str(platform_team.pk)],
        )

    with django_assert_num_queries(LIST_QUERIES):
        many = world.owner.get(f"{world.base}/invitations")
    assert len(many.json()) == 50
    assert all(item["teamIds"] == [str(platform_team.pk)] for item in many.json())
