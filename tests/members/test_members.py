"""Members: list, change role, remove, with the rules of the member table."""

import pytest
from django.db import transaction

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.audit.services import Source
from apps.core.errors import ApiError, PermissionDenied
from apps.workspaces.members import (
    _check_keeps_an_owner,
    member_change_role,
    member_find,
)
from apps.workspaces.models import Membership, TeamMembership
from apps.workspaces.services import membership_add
from tests.conftest import make_persona

pytestmark = pytest.mark.django_db


def members_path(world, user=None) -> str:
    path = f"{world.base}/members"
    return f"{path}/{user.pk}" if user else path


def role_of(world, user) -> str:
    return Membership.objects.get(workspace=world.workspace, user=user).role


def test_member_lists_members(world):
    response = world.member.get(members_path(world))

    assert response.status_code == 200
    roles = {item["username"]: item["role"] for item in response.json()}
    assert roles == {"owner": "owner", "admin": "admin", "member": "member"}
    assert all(len(item["teamIds"]) == 1 for item in response.json())


def test_outsider_gets_404_on_members(world):
    response = world.outsider.get(members_path(world))

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}


def test_admin_promotes_member(world):
    response = world.admin.patch(
        members_path(world, world.member.user), {"role": "admin"}
    )

    assert response.status_code == 200, response.content
    assert role_of(world, world.member.user) == "admin"
    event = AuditEvent.objects.get(event_name="member.role_changed")
    assert event.metadata == {"fromRole": "member", "toRole": "admin"}
    assert event.changes[0]["field"] == "role"
    assert User.objects.get(pk=world.member.user.pk).is_staff is True


def test_owner_demotes_admin(world):
    response = world.owner.patch(
        members_path(world, world.admin.user), {"role": "member"}
    )

    assert response.status_code == 200
    assert role_of(world, world.admin.user) == "member"
    assert User.objects.get(pk=world.admin.user.pk).is_staff is False


@pytest.mark.parametrize(
    ("actor", "target", "role", "status", "code"),
    [
        ("member", "admin", "member", 403, "workspace_members_forbidden"),
        ("admin", "owner", "member", 403, "workspace_owner_management_forbidden"),
        ("admin", "member", "owner", 403, "workspace_owner_management_forbidden"),
        ("admin", "admin", "member", 400, "cannot_change_own_role"),
        ("owner", "owner", "admin", 400, "cannot_change_own_role"),
        ("owner", "member", "superuser", 400, "invalid_role"),
    ],
)
def test_role_change_rules(world, actor, target, role, status, code):
    response = getattr(world, actor).patch(
        members_path(world, getattr(world, target).user), {"role": role}
    )

    assert response.status_code == status
    assert response.json()["error"] == code


@pytest.mark.parametrize(
    ("actor", "target", "status", "code"),
    [
        ("member", "admin", 403, "workspace_members_forbidden"),
        ("admin", "owner", 403, "workspace_owner_management_forbidden"),
        ("admin", "admin", 400, "cannot_remove_self"),
        ("owner", "owner", 400, "cannot_remove_self"),
    ],
)
def test_remove_rules(world, actor, target, status, code):
    response = getattr(world, actor).client.delete(
        members_path(world, getattr(world, target).user)
    )

    assert response.status_code == status
    assert response.json()["error"] == code


def test_forbidden_owner_change_is_audited(world):
    world.admin.patch(members_path(world, world.owner.user), {"role": "member"})

    denial = AuditEvent.objects.get(event_name="access.denied")
    assert denial.metadata["code"] == "workspace_owner_management_forbidden"
    assert denial.metadata["permission"] == "members:manage-owner"


def test_admin_removes_member(world):
    response = world.admin.client.delete(members_path(world, world.member.user))

    assert response.status_code == 204
    assert not Membership.objects.filter(user=world.member.user).exists()
    assert not TeamMembership.objects.filter(
        membership__user=world.member.user
    ).exists()
    assert AuditEvent.objects.filter(event_name="member.removed").count() == 1
    assert world.member.get(members_path(world)).status_code == 404


def test_unknown_member_is_404(world):
    stranger = make_persona("stranger")
    response = world.owner.patch(members_path(world, stranger.user), {"role": "admin"})

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}


def test_stale_owner_view_is_rechecked(world):
    second = make_persona("second-owner")
    membership_add(
        workspace=world.workspace,
        user=second.user,
        role="owner",
        actor=world.owner.user,
    )
    first_view = member_find(workspace=world.workspace, user_id=world.owner.user.pk)
    second_view = member_find(workspace=world.workspace, user_id=second.user.pk)
    member_change_role(
        actor_membership=second_view, target=first_view, role="admin", source=Source()
    )

    # first_view still has the owner role in memory, but the service re-reads it
    # under a lock.
    with pytest.raises(PermissionDenied) as refused:
        member_change_role(
            actor_membership=first_view,
            target=second_view,
            role="admin",
            source=Source(),
        )

    assert refused.value.code == "workspace_owner_management_forbidden"
    assert role_of(world, second.user) == "owner"


def test_last_owner_check_refuses(world):
    only_owner = member_find(workspace=world.workspace, user_id=world.owner.user.pk)

    with transaction.atomic(), pytest.raises(ApiError) as refused:
        _check_keeps_an_owner(only_owner)

    assert refused.value.code == "workspace_must_have_owner"


def test_workspace_patch_needs_manage(world):
    response = world.member.patch(world.base, {"name": "Renamed"})

    assert response.status_code == 403
    assert response.json()["error"] == "workspace_manage_forbidden"


def test_admin_renames_workspace(world):
    response = world.admin.patch(world.base, {"name": "Acme Labs"})

    assert response.status_code == 200
    assert response.json()["name"] == "Acme Labs"
    assert world.member.get(world.base).json()["name"] == "Acme Labs"


def test_workspace_slug_must_be_free(world):
    response = world.owner.patch(world.base, {"slug": "other"})

    assert response.status_code == 409
    assert response.json()["error"] == "workspace_slug_unavailable"


@pytest.mark.parametrize("extra", [0, 47])
def test_member_list_queries_constant(world, extra, django_assert_num_queries):
    for index in range(extra):
        user = User.objects.create_user(username=f"bulk{index}", password="x")
        membership_add(workspace=world.workspace, user=user, role="member", actor=None)

    with django_assert_num_queries(QUERIES_FOR_MEMBER_LIST):
        response = world.member.get(members_path(world))

    assert len(response.json()) == 3 + extra


# Token lookup, last-used touch, membership, member rows, their teams.
QUERIES_FOR_MEMBER_LIST = 5
