"""Sign-in, access and member events, each triggered through its real entry point.

Sign-ins go through the loopback OpenID Connect provider. Members, invitations,
teams and personal API tokens go through the workspace API as the personas of
`world`. Every test checks its stored event with `assert_event`, which also
searches it for the secrets the trigger handled. These are the personas' bearer
tokens and the invitation and API tokens the product issued. At sign-in they are
the client secret, the provider password and the tokens the provider issued.
"""

import pytest

from apps.accounts.models import PersonalApiToken, User
from apps.accounts.oidc import ProviderBackend
from apps.workspaces.models import Membership, Team
from tests.audit.catalogue_support import CANARY, assert_event, emits
from tests.conftest import make_persona
from tests.invitations.conftest import invite, token_of
from tests.oidc import conftest as oidc_setup

TOKENS = "/api/me/tokens"


# Sign-in through the loopback provider.

# The sign-in fixture of the OIDC tests: the product set up for the provider.
oidc = oidc_setup.oidc


@pytest.fixture
def sign_in_secrets(oidc, monkeypatch) -> list[str]:
    """Collect the secrets a sign-in handles: the client secret, the provider
    password, and the tokens of each token response as the provider sends them."""
    secrets = [
        CANARY,
        oidc.provider.clients["sso"].client_secret,
        oidc.provider.users["alice"].password,
    ]
    get_token = ProviderBackend.get_token

    def collecting_get_token(backend, payload):
        token_response = get_token(backend, payload)
        kinds = ("access_token", "id_token", "refresh_token")
        for kind in kinds:
            if token_response.get(kind):
                secrets.append(str(token_response[kind]))
        return token_response

    monkeypatch.setattr(ProviderBackend, "get_token", collecting_get_token)
    return secrets


def provider_user() -> User:
    return User.objects.get(oidc_subject__gt="")


@emits("auth.login")
@pytest.mark.django_db(transaction=True)
def test_sign_in_recorded(oidc, sign_in_secrets):
    _, response = oidc.sign_in("alice")

    alice = provider_user()
    event = assert_event(
        "auth.login",
        workspace=None,
        outcome="success",
        actor=alice,
        source_kind="web",
        target_type="user",
        target_id=alice.pk,
        canaries=tuple(sign_in_secrets),
    )
    assert event.metadata == {"method": "oidc"}
    assert event.request_id == response["X-Request-Id"]


@emits("auth.login_failed")
@pytest.mark.django_db(transaction=True)
def test_unverified_email_failure_recorded(oidc, sign_in_secrets):
    alice = oidc.provider.users["alice"]
    User.objects.create_user("local-alice", email=alice.email)
    oidc.provider.set_user("alice", email_verified=False)

    oidc.sign_in("alice")

    event = assert_event(
        "auth.login_failed",
        workspace=None,
        outcome="failure",
        source_kind="web",
        target_type="user",
        target_id="",
        canaries=tuple(sign_in_secrets),
    )
    assert event.metadata == {"reason": "email_unverified"}
    assert event.actor_kind == "system"


@emits("auth.logout")
@pytest.mark.django_db(transaction=True)
def test_logout_recorded(oidc, sign_in_secrets):
    client, _ = oidc.sign_in("alice")

    response = client.post("/oidc/logout/")

    alice = provider_user()
    event = assert_event(
        "auth.logout",
        workspace=None,
        outcome="success",
        actor=alice,
        source_kind="web",
        target_type="user",
        target_id=alice.pk,
        canaries=tuple(sign_in_secrets),
    )
    assert event.request_id == response["X-Request-Id"]


# Access.


@emits("access.denied")
def test_member_denied_team_creation_recorded(world):
    path = f"{world.base}/teams"

    response = world.member.post(path, {"name": "Shadow"})

    event = assert_event(
        "access.denied",
        workspace=world.workspace,
        outcome="denied",
        actor=world.member.user,
        source_kind="web",
        target_type="route",
        canaries=(CANARY, world.member.token),
    )
    assert response.status_code == 403
    assert event.metadata == {
        "code": "workspace_members_forbidden",
        "permission": "members:manage",
    }
    assert event.target_name == "/api/workspaces/<str:workspace_id>/teams"
    assert event.related_ids == {"workspaceId": str(world.workspace.pk)}


# Members.


def member_path(world, user) -> str:
    return f"{world.base}/members/{user.pk}"


def membership_of(world, user) -> Membership:
    return Membership.objects.get(workspace=world.workspace, user=user)


@emits("member.added")
def test_member_added_by_invitation_recorded(world):
    invitee = make_persona("invitee")
    created = invite(world.owner, world, invitee.user.email)
    token = token_of(created)

    invitee.post(f"/api/invitations/{token}/accept")

    membership = membership_of(world, invitee.user)
    event = assert_event(
        "member.added",
        workspace=world.workspace,
        outcome="success",
        actor=invitee.user,
        source_kind="web",
        target_type="membership",
        target_id=membership.pk,
        canaries=(CANARY, token, invitee.token, world.owner.token),
    )
    assert event.metadata == {
        "role": "member",
        "invitationId": created.json()["id"],
    }


@emits("member.role_changed")
def test_role_change_recorded(world):
    membership = membership_of(world, world.member.user)

    response = world.admin.patch(
        member_path(world, world.member.user), {"role": "admin"}
    )

    event = assert_event(
        "member.role_changed",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="membership",
        target_id=membership.pk,
        canaries=(CANARY, world.admin.token),
    )
    assert event.metadata == {"fromRole": "member", "toRole": "admin"}
    assert event.related_ids == {"userId": str(world.member.user.pk)}
    assert event.request_id == response["X-Request-Id"]


@emits("member.removed")
def test_member_removal_recorded(world):
    membership = membership_of(world, world.member.user)

    response = world.admin.client.delete(member_path(world, world.member.user))

    event = assert_event(
        "member.removed",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="membership",
        target_id=membership.pk,
        canaries=(CANARY, world.admin.token),
    )
    assert event.metadata == {"role": "member"}
    assert event.request_id == response["X-Request-Id"]


# Invitations.


def invitation_path(world, invitation_id: str, action: str) -> str:
    return f"{world.base}/invitations/{invitation_id}/{action}"


@emits("invitation.created")
def test_invitation_created_recorded(world):
    response = invite(world.admin, world, "newcomer@example.test", role="admin")

    event = assert_event(
        "invitation.created",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="invitation",
        target_id=response.json()["id"],
        canaries=(CANARY, token_of(response), world.admin.token),
    )
    assert event.metadata["role"] == "admin"
    assert event.metadata["emailMasked"] == "n***@example.test"


@emits("invitation.resent")
def test_invitation_resent_recorded(world):
    created = invite(world.owner, world, "again@example.test")
    invitation_id = created.json()["id"]

    resent = world.admin.post(invitation_path(world, invitation_id, "resend"))

    event = assert_event(
        "invitation.resent",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="invitation",
        target_id=invitation_id,
        canaries=(
            CANARY,
            token_of(created),
            token_of(resent),
            world.owner.token,
            world.admin.token,
        ),
    )
    assert event.metadata["sendCount"] == 2
    assert event.metadata["expiresAt"] == resent.json()["expiresAt"]


@emits("invitation.revoked")
def test_invitation_revoked_recorded(world):
    created = invite(world.owner, world, "withdrawn@example.test")
    invitation_id = created.json()["id"]

    response = world.admin.post(invitation_path(world, invitation_id, "revoke"))

    event = assert_event(
        "invitation.revoked",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="invitation",
        target_id=invitation_id,
        canaries=(CANARY, token_of(created), world.owner.token, world.admin.token),
    )
    assert event.target_name == "w***@example.test"
    assert event.request_id == response["X-Request-Id"]


@emits("invitation.accepted")
def test_invitation_accepted_recorded(world):
    invitee = make_persona("invitee")
    created = invite(world.owner, world, invitee.user.email, role="admin")
    token = token_of(created)

    response = invitee.post(f"/api/invitations/{token}/accept")

    event = assert_event(
        "invitation.accepted",
        workspace=world.workspace,
        outcome="success",
        actor=invitee.user,
        source_kind="web",
        target_type="invitation",
        target_id=created.json()["id"],
        canaries=(CANARY, token, invitee.token, world.owner.token),
    )
    assert event.metadata["role"] == "admin"
    assert event.request_id == response["X-Request-Id"]


# Teams.


def teams_path(world, suffix: str = "") -> str:
    return f"{world.base}/teams{suffix}"


@pytest.fixture
def design(world) -> Team:
    return Team.objects.create(workspace=world.workspace, name="Design")


@emits("team.created")
def test_team_created_recorded(world):
    response = world.admin.post(teams_path(world), {"name": "Platform"})

    event = assert_event(
        "team.created",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="team",
        target_id=response.json()["id"],
        canaries=(CANARY, world.admin.token),
    )
    assert event.target_name == "Platform"
    assert event.request_id == response["X-Request-Id"]


@emits("team.renamed")
def test_team_rename_recorded(world, design):
    world.admin.patch(teams_path(world, f"/{design.pk}"), {"name": "UX"})

    event = assert_event(
        "team.renamed",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="team",
        target_id=design.pk,
        canaries=(CANARY, world.admin.token),
    )
    assert event.metadata == {"previousName": "Design", "name": "UX"}
    assert [change["field"] for change in event.changes] == ["name"]


@emits("team.deleted")
def test_team_deletion_recorded(world, design):
    design.members.add(membership_of(world, world.member.user))

    world.admin.client.delete(teams_path(world, f"/{design.pk}"))

    event = assert_event(
        "team.deleted",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="team",
        target_id=design.pk,
        canaries=(CANARY, world.admin.token),
    )
    assert event.metadata == {"memberCount": 1, "appCount": 0}
    assert event.target_name == "Design"


@emits("team.member_added")
def test_team_member_added_recorded(world, design):
    membership = membership_of(world, world.member.user)

    world.admin.put(teams_path(world, f"/{design.pk}/members/{world.member.user.pk}"))

    event = assert_event(
        "team.member_added",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="team",
        target_id=design.pk,
        canaries=(CANARY, world.admin.token),
    )
    assert event.related_ids == {
        "userId": str(world.member.user.pk),
        "membershipId": str(membership.pk),
    }


@emits("team.member_removed")
def test_team_member_removed_recorded(world, design):
    membership = membership_of(world, world.member.user)
    design.members.add(membership)

    world.admin.client.delete(
        teams_path(world, f"/{design.pk}/members/{world.member.user.pk}")
    )

    event = assert_event(
        "team.member_removed",
        workspace=world.workspace,
        outcome="success",
        actor=world.admin.user,
        source_kind="web",
        target_type="team",
        target_id=design.pk,
        canaries=(CANARY, world.admin.token),
    )
    assert event.related_ids == {
        "userId": str(world.member.user.pk),
        "membershipId": str(membership.pk),
    }


# Personal API tokens.


@emits("api_token.created")
def test_api_token_created_recorded(world):
    response = world.owner.post(TOKENS, {"name": "laptop"})

    created = response.json()
    event = assert_event(
        "api_token.created",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="api_token",
        target_id=created["id"],
        canaries=(CANARY, created["token"], world.owner.token),
    )
    stored = PersonalApiToken.objects.get(pk=created["id"])
    assert event.metadata == {"prefix": stored.prefix}
    assert event.target_name == "laptop"


@emits("api_token.revoked")
def test_api_token_revoked_recorded(world):
    created = world.owner.post(TOKENS, {"name": "laptop"}).json()

    response = world.owner.client.delete(f"{TOKENS}/{created['id']}")

    event = assert_event(
        "api_token.revoked",
        workspace=world.workspace,
        outcome="success",
        actor=world.owner.user,
        source_kind="web",
        target_type="api_token",
        target_id=created["id"],
        canaries=(CANARY, created["token"], world.owner.token),
    )
    assert event.metadata == {"prefix": created["prefix"].removeprefix("pat_")}
    assert event.request_id == response["X-Request-Id"]
