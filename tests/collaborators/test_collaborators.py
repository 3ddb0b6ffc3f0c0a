"""App collaborators: who lists and replaces them, and what being one grants."""

import uuid

import pytest

from apps.applications.models import App
from apps.applications.services import app_create
from apps.audit.models import AuditEvent
from apps.audit.services import Actor, Source
from apps.workspaces.models import Team
from apps.workspaces.services import membership_add
from tests.conftest import make_persona

NOT_FOUND = b'{"error":"not_found","detail":"Not found."}'


def make_app(world, creator, name: str) -> App:
    return app_create(
        workspace=world.workspace,
        name=name,
        description="",
        user=creator.user,
        actor=Actor.for_user(creator.user),
        source=Source(),
    )


def app_path(app: App, suffix: str = "") -> str:
    return f"/api/workspaces/{app.workspace_id}/apps/{app.pk}{suffix}"


def collaborators_path(app: App) -> str:
    return app_path(app, "/collaborators")


def listed_ids(response) -> list[str]:
    return [item["id"] for item in response.json()["collaborators"]]


def denied_events(world, persona, code: str):
    return AuditEvent.objects.filter(
        workspace=world.workspace,
        event_name="access.denied",
        actor_id=str(persona.user.pk),
        metadata__code=code,
    )


def changed_events(app: App):
    return AuditEvent.objects.filter(
        workspace_id=app.workspace_id,
        event_name="app.collaborators_changed",
        target_id=str(app.pk),
    )


def publish_to_general(app: App) -> None:
    app.publish_status = App.PublishStatus.PUBLISHED
    app.save(update_fields=["publish_status"])
    app.teams.add(Team.objects.get(workspace=app.workspace, is_default=True))


@pytest.fixture
def bea(world):
    """A second plain member, who neither created nor builds the apps."""
    persona = make_persona("bea")
    membership_add(
        workspace=world.workspace, user=persona.user, role="member", actor=None
    )
    return persona


@pytest.fixture
def app(world) -> App:
    """An unpublished app that the owner created."""
    return make_app(world, world.owner, "Release notes")


@pytest.fixture
def members_app(world) -> App:
    """An unpublished app that the plain member created."""
    return make_app(world, world.member, "Member's tool")


# Listing.


def test_list_empty(world, app):
    response = world.owner.get(collaborators_path(app))
    assert response.status_code == 200
    assert response.json() == {"collaborators": []}


def test_list_body(world, app):
    app.collaborators.add(world.member.user)
    (item,) = world.owner.get(collaborators_path(app)).json()["collaborators"]
    assert item == {
        "id": str(world.member.user.pk),
        "name": "member",
        "email": "member@example.test",
    }


def test_list_omits_blank_email(world, app):
    world.member.user.email = ""
    world.member.user.save(update_fields=["email"])
    app.collaborators.add(world.member.user)
    (item,) = world.owner.get(collaborators_path(app)).json()["collaborators"]
    assert "email" not in item


def test_list_by_viewer_of_published(world, app, bea):
    publish_to_general(app)
    app.collaborators.add(world.member.user)
    response = bea.get(collaborators_path(app))
    assert response.status_code == 200
    assert listed_ids(response) == [str(world.member.user.pk)]


def test_list_unseen_app_404(app, bea):
    response = bea.get(collaborators_path(app))
    assert response.status_code == 404
    assert response.content == NOT_FOUND


# Replacing.


def test_put_by_owner(world, app):
    response = world.owner.put(
        collaborators_path(app), {"userIds": [str(world.member.user.pk)]}
    )
    assert response.status_code == 200
    assert listed_ids(response) == [str(world.member.user.pk)]


def test_put_stored(world, app):
    world.owner.put(collaborators_path(app), {"userIds": [str(world.member.user.pk)]})
    assert list(app.collaborators.all()) == [world.member.user]


def test_put_by_admin(world, app):
    response = world.admin.put(
        collaborators_path(app), {"userIds": [str(world.member.user.pk)]}
    )
    assert response.status_code == 200


def test_put_by_member_creator(world, members_app, bea):
    response = world.member.put(
        collaborators_path(members_app), {"userIds": [str(bea.user.pk)]}
    )
    assert response.status_code == 200
    assert listed_ids(response) == [str(bea.user.pk)]


def test_put_replaces_set(world, app, bea):
    app.collaborators.add(world.member.user)
    response = world.owner.put(collaborators_path(app), {"userIds": [str(bea.user.pk)]})
    assert listed_ids(response) == [str(bea.user.pk)]


def test_put_empty_clears(world, app):
    app.collaborators.add(world.member.user)
    response = world.owner.put(collaborators_path(app), {"userIds": []})
    assert response.json() == {"collaborators": []}
    assert not app.collaborators.exists()


def test_put_duplicate_ids(world, app):
    user_id = str(world.member.user.pk)
    response = world.owner.put(collaborators_path(app), {"userIds": [user_id, user_id]})
    assert listed_ids(response) == [user_id]


def test_put_audited(world, app, bea):
    app.collaborators.add(world.member.user)
    world.owner.put(collaborators_path(app), {"userIds": [str(bea.user.pk)]})
    event = changed_events(app).get()
    assert event.related_ids == {
        "addedUserIds": [str(bea.user.pk)],
        "removedUserIds": [str(world.member.user.pk)],
    }
    assert event.metadata == {"addedCount": 1, "removedCount": 1}
    assert event.actor_id == str(world.owner.user.pk)


def test_put_unchanged_no_event(world, app):
    app.collaborators.add(world.member.user)
    world.owner.put(collaborators_path(app), {"userIds": [str(world.member.user.pk)]})
    assert not changed_events(app).exists()


def test_put_by_collaborator_forbidden(world, app, bea):
    app.collaborators.add(world.member.user)
    response = world.member.put(
        collaborators_path(app), {"userIds": [str(bea.user.pk)]}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_put_by_collaborator_audited(world, app, bea):
    app.collaborators.add(world.member.user)
    world.member.put(collaborators_path(app), {"userIds": [str(bea.user.pk)]})
    assert denied_events(world, world.member, "forbidden").exists()


def test_put_by_collaborator_unchanged(world, app, bea):
    app.collaborators.add(world.member.user)
    world.member.put(collaborators_path(app), {"userIds": [str(bea.user.pk)]})
    assert list(app.collaborators.all()) == [world.member.user]


def test_put_by_viewer_forbidden(world, app, bea):
    publish_to_general(app)
    response = bea.put(collaborators_path(app), {"userIds": [str(bea.user.pk)]})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert denied_events(world, bea, "forbidden").exists()
    assert not app.collaborators.exists()


def test_put_unseen_app_404(app, bea):
    response = bea.put(collaborators_path(app), {"userIds": [str(bea.user.pk)]})
    assert response.status_code == 404
    assert response.content == NOT_FOUND


# Validation.


def test_put_foreign_user_400(world, app):
    outsider_id = str(world.outsider.user.pk)
    response = world.owner.put(collaborators_path(app), {"userIds": [outsider_id]})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert outsider_id in response.json()["fields"]["userIds"][0]


def test_put_foreign_user_writes_nothing(world, app):
    app.collaborators.add(world.member.user)
    world.owner.put(
        collaborators_path(app),
        {"userIds": [str(world.admin.user.pk), str(world.outsider.user.pk)]},
    )
    assert list(app.collaborators.all()) == [world.member.user]
    assert not changed_events(app).exists()


def test_put_names_only_bad_ids(world, app):
    outsider_id = str(world.outsider.user.pk)
    response = world.owner.put(
        collaborators_path(app), {"userIds": [str(world.member.user.pk), outsider_id]}
    )
    messages = response.json()["fields"]["userIds"]
    assert len(messages) == 1
    assert str(world.member.user.pk) not in messages[0]


def test_put_foreign_user_like_missing(world, app):
    """A foreign account and an unused id get the same response, except the id."""
    outsider_id, missing_id = str(world.outsider.user.pk), str(uuid.uuid4())
    foreign = world.owner.put(collaborators_path(app), {"userIds": [outsider_id]})
    missing = world.owner.put(collaborators_path(app), {"userIds": [missing_id]})
    assert foreign.status_code == missing.status_code
    foreign_text = foreign.content.decode().replace(outsider_id, "ID")
    missing_text = missing.content.decode().replace(missing_id, "ID")
    assert foreign_text == missing_text


def test_put_foreign_user_no_name(world, app):
    response = world.owner.put(
        collaborators_path(app), {"userIds": [str(world.outsider.user.pk)]}
    )
    text = response.content.decode()
    assert "outsider" not in text
    assert "exist" not in text


def test_put_malformed_id(world, app):
    response = world.owner.put(collaborators_path(app), {"userIds": ["not-a-uuid"]})
    assert response.status_code == 400
    assert "not-a-uuid" in response.json()["fields"]["userIds"][0]


def test_put_missing_field(world, app):
    response = world.owner.put(collaborators_path(app), {})
    assert response.status_code == 400
    assert "userIds" in response.json()["fields"]


def test_put_not_a_list(world, app):
    response = world.owner.put(collaborators_path(app), {"userIds": "everyone"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# What a collaborator gains.


def test_collaborator_sees_unpublished_app(world, app):
    world.owner.put(collaborators_path(app), {"userIds": [str(world.member.user.pk)]})
    response = world.member.get(app_path(app))
    assert response.status_code == 200
    assert response.json()["id"] == str(app.pk)


def test_other_member_not_sees_app(world, app, bea):
    world.owner.put(collaborators_path(app), {"userIds": [str(world.member.user.pk)]})
    response = bea.get(app_path(app))
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_member_not_sees_before(world, app):
    response = world.member.get(app_path(app))
    assert response.status_code == 404


def test_removed_collaborator_loses_app(world, app):
    app.collaborators.add(world.member.user)
    world.owner.put(collaborators_path(app), {"userIds": []})
    assert world.member.get(app_path(app)).status_code == 404


def test_collaborator_sees_draft(world, app):
    app.collaborators.add(world.member.user)
    assert world.member.get(app_path(app)).json()["draft"] is not None


# Another workspace's callers and ids.


@pytest.mark.parametrize("method", ["get", "put"])
def test_outsider_is_404(world, app, method):
    path = collaborators_path(app)
    if method == "get":
        response = world.outsider.get(path)
    else:
        response = world.outsider.put(path, {"userIds": [str(world.outsider.user.pk)]})
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_outsider_writes_nothing(world, app):
    world.outsider.put(
        collaborators_path(app), {"userIds": [str(world.outsider.user.pk)]}
    )
    assert not app.collaborators.exists()


def test_foreign_app_is_404(world):
    theirs = app_create(
        workspace=world.other_workspace,
        name="Theirs",
        description="",
        user=world.outsider.user,
        actor=Actor.for_user(world.outsider.user),
        source=Source(),
    )
    path = f"{world.base}/apps/{theirs.pk}/collaborators"
    response = world.owner.put(path, {"userIds": [str(world.member.user.pk)]})
    assert response.content == NOT_FOUND
    assert world.owner.get(path).content == NOT_FOUND
