"""Teams: list, create, rename, delete and membership, with the General rules."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.workspaces.models import Team, TeamMembership
from apps.workspaces.services import membership_add
from tests.conftest import make_persona

NOT_FOUND = b'{"error":"not_found","detail":"Not found."}'


def teams_path(world, suffix: str = "") -> str:
    return f"{world.base}/teams{suffix}"


def events(world, name: str, target_id: str):
    return AuditEvent.objects.filter(
        workspace=world.workspace, event_name=name, target_id=target_id
    )


def denied_events(world, persona, code: str):
    return AuditEvent.objects.filter(
        workspace=world.workspace,
        event_name="access.denied",
        actor_id=str(persona.user.pk),
        metadata__code=code,
    )


def general(world) -> Team:
    return Team.objects.get(workspace=world.workspace, is_default=True)


@pytest.fixture
def design(world) -> dict:
    response = world.admin.post(teams_path(world), {"name": "Design"})
    assert response.status_code == 201, response.content
    return response.json()


# Listing.


def test_list_has_general(world):
    names = [team["name"] for team in world.member.get(teams_path(world)).json()]
    assert names == ["General"]


def test_list_general_is_default(world):
    (team,) = world.member.get(teams_path(world)).json()
    assert team["isDefault"] is True


def test_list_general_members(world):
    (team,) = world.member.get(teams_path(world)).json()
    expected = {str(p.user.pk) for p in (world.owner, world.admin, world.member)}
    assert set(team["memberIds"]) == expected


def test_list_body_keys(world, design):
    listed = {team["id"]: team for team in world.member.get(teams_path(world)).json()}
    assert set(listed[design["id"]]) == {
        "id",
        "name",
        "isDefault",
        "memberIds",
        "createdAt",
    }


def test_list_excludes_other_workspace(world):
    Team.objects.create(workspace=world.other_workspace, name="Secret team")
    names = [team["name"] for team in world.owner.get(teams_path(world)).json()]
    assert "Secret team" not in names


def test_list_trailing_slash(world):
    assert world.member.get(teams_path(world, "/")).status_code == 200


# Creating.


def test_create_returns_team(design):
    assert design["name"] == "Design"
    assert design["isDefault"] is False
    assert design["memberIds"] == []


def test_create_stores_team(world, design):
    team = Team.objects.get(pk=design["id"])
    assert team.workspace_id == world.workspace.pk


def test_create_audited(world, design):
    assert events(world, "team.created", design["id"]).count() == 1


def test_create_by_owner(world):
    response = world.owner.post(teams_path(world), {"name": "Ops"})
    assert response.status_code == 201


def test_create_strips_name(world):
    response = world.owner.post(teams_path(world), {"name": "  Ops  "})
    assert response.json()["name"] == "Ops"


def test_create_blank_name(world):
    response = world.owner.post(teams_path(world), {"name": "   "})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "name" in response.json()["fields"]


def test_create_missing_name(world):
    response = world.owner.post(teams_path(world), {})
    assert response.status_code == 400
    assert "name" in response.json()["fields"]


def test_create_long_name(world):
    response = world.owner.post(teams_path(world), {"name": "x" * 121})
    assert response.status_code == 400


def test_create_duplicate_name(world, design):
    response = world.owner.post(teams_path(world), {"name": "Design"})
    assert response.status_code == 409
    assert response.json()["error"] == "team_name_unavailable"


def test_create_duplicate_ignores_case(world, design):
    response = world.owner.post(teams_path(world), {"name": "dESIGN"})
    assert response.status_code == 409
    assert response.json()["error"] == "team_name_unavailable"


def test_create_general_name_taken(world):
    response = world.owner.post(teams_path(world), {"name": "general"})
    assert response.status_code == 409


def test_create_duplicate_writes_nothing(world, design):
    world.owner.post(teams_path(world), {"name": "design"})
    assert Team.objects.filter(workspace=world.workspace).count() == 2


def test_create_name_free_elsewhere(world):
    Team.objects.create(workspace=world.other_workspace, name="Design")
    response = world.owner.post(teams_path(world), {"name": "Design"})
    assert response.status_code == 201


def test_create_member_forbidden(world):
    response = world.member.post(teams_path(world), {"name": "Rogue"})
    assert response.status_code == 403
    assert response.json()["error"] == "workspace_members_forbidden"


def test_create_member_denial_audited(world):
    world.member.post(teams_path(world), {"name": "Rogue"})
    assert denied_events(world, world.member, "workspace_members_forbidden").exists()


def test_create_member_writes_nothing(world):
    world.member.post(teams_path(world), {"name": "Rogue"})
    assert not Team.objects.filter(name="Rogue").exists()


# Renaming.


def test_rename_returns_team(world, design):
    response = world.admin.patch(teams_path(world, f"/{design['id']}"), {"name": "UX"})
    assert response.status_code == 200
    assert response.json()["name"] == "UX"


def test_rename_stored(world, design):
    world.admin.patch(teams_path(world, f"/{design['id']}"), {"name": "UX"})
    assert Team.objects.get(pk=design["id"]).name == "UX"


def test_rename_audited(world, design):
    world.admin.patch(teams_path(world, f"/{design['id']}"), {"name": "UX"})
    event = events(world, "team.renamed", design["id"]).get()
    assert event.metadata == {"previousName": "Design", "name": "UX"}


def test_rename_same_name_no_event(world, design):
    world.admin.patch(teams_path(world, f"/{design['id']}"), {"name": "Design"})
    assert not events(world, "team.renamed", design["id"]).exists()


def test_rename_case_only(world, design):
    path = teams_path(world, f"/{design['id']}")
    response = world.admin.patch(path, {"name": "DESIGN"})
    assert response.status_code == 200
    assert response.json()["name"] == "DESIGN"


def test_rename_duplicate(world, design):
    other = world.admin.post(teams_path(world), {"name": "Ops"}).json()
    response = world.admin.patch(
        teams_path(world, f"/{other['id']}"), {"name": "design"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "team_name_unavailable"


def test_rename_duplicate_keeps_name(world, design):
    other = world.admin.post(teams_path(world), {"name": "Ops"}).json()
    world.admin.patch(teams_path(world, f"/{other['id']}"), {"name": "Design"})
    assert Team.objects.get(pk=other["id"]).name == "Ops"


def test_rename_general_locked(world):
    path = teams_path(world, f"/{general(world).pk}")
    response = world.owner.patch(path, {"name": "Everyone"})
    assert response.status_code == 400
    assert response.json()["error"] == "default_team_locked"
    assert "General" in response.json()["detail"]


def test_rename_general_kept(world):
    world.owner.patch(teams_path(world, f"/{general(world).pk}"), {"name": "All"})
    assert general(world).name == "General"


def test_rename_member_forbidden(world, design):
    path = teams_path(world, f"/{design['id']}")
    response = world.member.patch(path, {"name": "Mine"})
    assert response.status_code == 403
    assert response.json()["error"] == "workspace_members_forbidden"
    assert denied_events(world, world.member, "workspace_members_forbidden").exists()


def test_rename_blank_name(world, design):
    path = teams_path(world, f"/{design['id']}")
    response = world.admin.patch(path, {"name": ""})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# Deleting.


def test_delete_returns_204(world, design):
    response = world.admin.client.delete(teams_path(world, f"/{design['id']}"))
    assert response.status_code == 204


def test_delete_removes_team(world, design):
    world.admin.client.delete(teams_path(world, f"/{design['id']}"))
    assert not Team.objects.filter(pk=design["id"]).exists()


def test_delete_audited(world, design):
    world.admin.client.delete(teams_path(world, f"/{design['id']}"))
    assert events(world, "team.deleted", design["id"]).count() == 1


def test_delete_twice_404(world, design):
    path = teams_path(world, f"/{design['id']}")
    world.admin.client.delete(path)
    response = world.admin.client.delete(path)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_delete_general_locked(world):
    response = world.owner.client.delete(teams_path(world, f"/{general(world).pk}"))
    assert response.status_code == 400
    assert response.json()["error"] == "default_team_locked"


def test_delete_general_kept(world):
    world.owner.client.delete(teams_path(world, f"/{general(world).pk}"))
    assert Team.objects.filter(pk=general(world).pk).exists()


def test_delete_member_forbidden(world, design):
    response = world.member.client.delete(teams_path(world, f"/{design['id']}"))
    assert response.status_code == 403
    assert response.json()["error"] == "workspace_members_forbidden"
    assert denied_events(world, world.member, "workspace_members_forbidden").exists()
    assert Team.objects.filter(pk=design["id"]).exists()


# Team members.


def member_path(world, team_id, persona) -> str:
    return teams_path(world, f"/{team_id}/members/{persona.user.pk}")


def test_add_member_returns_team(world, design):
    response = world.admin.put(member_path(world, design["id"], world.member))
    assert response.status_code == 200
    assert response.json()["memberIds"] == [str(world.member.user.pk)]


def test_add_member_stored(world, design):
    world.admin.put(member_path(world, design["id"], world.member))
    assert TeamMembership.objects.filter(
        team_id=design["id"], membership__user=world.member.user
    ).exists()


def test_add_member_audited(world, design):
    world.admin.put(member_path(world, design["id"], world.member))
    event = events(world, "team.member_added", design["id"]).get()
    assert event.related_ids["userId"] == str(world.member.user.pk)


def test_add_member_twice_one_event(world, design):
    path = member_path(world, design["id"], world.member)
    world.admin.put(path)
    response = world.admin.put(path)
    assert response.status_code == 200
    assert events(world, "team.member_added", design["id"]).count() == 1


def test_add_member_listed(world, design):
    world.admin.put(member_path(world, design["id"], world.member))
    listed = {team["id"]: team for team in world.member.get(teams_path(world)).json()}
    assert listed[design["id"]]["memberIds"] == [str(world.member.user.pk)]


def test_add_outsider_404(world, design):
    response = world.admin.put(member_path(world, design["id"], world.outsider))
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_add_missing_user_404(world, design):
    path = teams_path(world, f"/{design['id']}/members/{uuid.uuid4()}")
    response = world.admin.put(path)
    assert response.content == NOT_FOUND


def test_add_malformed_user_404(world, design):
    response = world.admin.put(teams_path(world, f"/{design['id']}/members/nope"))
    assert response.content == NOT_FOUND


def test_add_outsider_writes_nothing(world, design):
    world.admin.put(member_path(world, design["id"], world.outsider))
    assert not TeamMembership.objects.filter(team_id=design["id"]).exists()


def test_add_member_forbidden(world, design):
    response = world.member.put(member_path(world, design["id"], world.member))
    assert response.status_code == 403
    assert response.json()["error"] == "workspace_members_forbidden"
    assert denied_events(world, world.member, "workspace_members_forbidden").exists()


def test_remove_member_returns_204(world, design):
    path = member_path(world, design["id"], world.member)
    world.admin.put(path)
    assert world.admin.client.delete(path).status_code == 204


def test_remove_member_stored(world, design):
    path = member_path(world, design["id"], world.member)
    world.admin.put(path)
    world.admin.client.delete(path)
    assert not TeamMembership.objects.filter(team_id=design["id"]).exists()


def test_remove_member_audited(world, design):
    path = member_path(world, design["id"], world.member)
    world.admin.put(path)
    world.admin.client.delete(path)
    event = events(world, "team.member_removed", design["id"]).get()
    assert event.related_ids["userId"] == str(world.member.user.pk)


def test_remove_absent_member_no_event(world, design):
    path = member_path(world, design["id"], world.member)
    assert world.admin.client.delete(path).status_code == 204
    assert not events(world, "team.member_removed", design["id"]).exists()


def test_remove_from_general_locked(world):
    path = member_path(world, general(world).pk, world.member)
    response = world.owner.client.delete(path)
    assert response.status_code == 400
    assert response.json()["error"] == "default_team_locked"
    assert "Remove them from the workspace" in response.json()["detail"]


def test_remove_from_general_kept(world):
    world.owner.client.delete(member_path(world, general(world).pk, world.member))
    assert general(world).members.filter(user=world.member.user).exists()


def test_add_to_general_no_event(world):
    response = world.owner.put(member_path(world, general(world).pk, world.member))
    assert response.status_code == 200
    assert not events(world, "team.member_added", str(general(world).pk)).exists()


def test_remove_member_forbidden(world, design):
    path = member_path(world, design["id"], world.admin)
    world.owner.put(path)
    response = world.member.client.delete(path)
    assert response.status_code == 403
    assert response.json()["error"] == "workspace_members_forbidden"
    assert denied_events(world, world.member, "workspace_members_forbidden").exists()
    assert TeamMembership.objects.filter(team_id=design["id"]).exists()


def test_new_member_joins_general(world):
    newcomer = make_persona("newcomer")
    membership_add(
        workspace=world.workspace, user=newcomer.user, role="member", actor=None
    )
    (team,) = newcomer.get(teams_path(world)).json()
    assert str(newcomer.user.pk) in team["memberIds"]


# Another workspace's teams and users are not found.


@pytest.fixture
def foreign_team(world) -> Team:
    return Team.objects.create(workspace=world.other_workspace, name="Theirs")


FOREIGN_CALLS = [
    ("patch", "/{team}", {"name": "Taken"}),
    ("delete", "/{team}", None),
    ("put", "/{team}/members/{user}", None),
    ("delete", "/{team}/members/{user}", None),
]


def call(persona, method: str, path: str, body):
    if method in ("get", "delete"):
        return getattr(persona.client, method)(path)
    return getattr(persona, method)(path, body)


@pytest.mark.parametrize(("method", "suffix", "body"), FOREIGN_CALLS)
def test_foreign_team_is_404(world, foreign_team, method, suffix, body):
    path = teams_path(
        world, suffix.format(team=foreign_team.pk, user=world.member.user.pk)
    )
    response = call(world.owner, method, path, body)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


@pytest.mark.parametrize(("method", "suffix", "body"), FOREIGN_CALLS)
def test_missing_team_is_404(world, method, suffix, body):
    path = teams_path(
        world, suffix.format(team=uuid.uuid4(), user=world.member.user.pk)
    )
    response = call(world.owner, method, path, body)
    assert response.content == NOT_FOUND


def test_foreign_team_unchanged(world, foreign_team):
    world.owner.patch(teams_path(world, f"/{foreign_team.pk}"), {"name": "Taken"})
    world.owner.client.delete(teams_path(world, f"/{foreign_team.pk}"))
    foreign_team.refresh_from_db()
    assert foreign_team.name == "Theirs"


OUTSIDER_CALLS = [
    ("get", "", None),
    ("post", "", {"name": "Intruders"}),
    *FOREIGN_CALLS,
]


@pytest.mark.parametrize(("method", "suffix", "body"), OUTSIDER_CALLS)
def test_outsider_is_404(world, design, method, suffix, body):
    path = teams_path(
        world, suffix.format(team=design["id"], user=world.member.user.pk)
    )
    response = call(world.outsider, method, path, body)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_outsider_writes_nothing(world, design):
    world.outsider.post(teams_path(world), {"name": "Intruders"})
    world.outsider.client.delete(teams_path(world, f"/{design['id']}"))
    assert not Team.objects.filter(name="Intruders").exists()
    assert Team.objects.filter(pk=design["id"]).exists()


# Query count.


def add_teams(world, count: int) -> None:
    memberships = list(world.workspace.memberships.all())
    for index in range(count):
        team = Team.objects.create(workspace=world.workspace, name=f"Team {index:02}")
        for membership in memberships:
            TeamMembership.objects.create(team=team, membership=membership)


def test_list_queries_constant(world, django_assert_num_queries):
    path = teams_path(world)
    world.member.get(path)  # The first request records the token's last use.
    with CaptureQueriesContext(connection) as one_team:
        assert len(world.member.get(path).json()) == 1

    add_teams(world, 49)
    with django_assert_num_queries(len(one_team.captured_queries)):
        assert len(world.member.get(path).json()) == 50
