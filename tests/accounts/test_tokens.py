"""Personal API tokens: shown once, stored as prefix and hash, usable, tracked."""

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import PersonalApiToken
from apps.audit.models import AuditEvent


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def created(world):
    response = world.owner.post("/api/me/tokens", {"name": "laptop"})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_returns_201(world):
    response = world.owner.post("/api/me/tokens", {"name": "laptop"})
    assert response.status_code == 201


def test_create_token_prefix(created):
    assert created["token"].startswith("pat_")


def test_create_shows_prefix(created):
    assert created["prefix"] == "pat_" + created["token"].split("_")[1]


def test_create_token_works(world, created):
    response = bearer(created["token"]).get("/api/workspaces")
    assert [item["id"] for item in response.json()] == [str(world.workspace.pk)]


def test_create_audited(world, created):
    events = AuditEvent.objects.filter(
        workspace=world.workspace,
        event_name="api_token.created",
        target_id=created["id"],
    )
    assert events.count() == 1


def test_create_anonymous_401(db):
    response = APIClient().post("/api/me/tokens", {"name": "x"}, format="json")
    assert response.status_code == 401


def test_row_stores_prefix(created):
    row = PersonalApiToken.objects.get(pk=created["id"])
    assert row.prefix == created["token"].split("_")[1]


def test_row_hash_not_token(created):
    row = PersonalApiToken.objects.get(pk=created["id"])
    assert created["token"] not in row.token_hash


def all_cells() -> list[str]:
    """Return every cell of every table of the project's models, as text."""
    cells = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            cells.extend(str(cell) for row in cursor.fetchall() for cell in row)
    return cells


def test_token_in_no_column(created):
    token = created["token"]
    assert [cell for cell in all_cells() if token in cell] == []


def test_token_secret_in_no_column(created):
    secret = created["token"].split("_", 2)[2]
    assert [cell for cell in all_cells() if secret in cell] == []


def test_fixture_tokens_in_no_column(world):
    tokens = [world.owner.token, world.member.token, world.outsider.token]
    cells = all_cells()
    assert [token for token in tokens if any(token in cell for cell in cells)] == []


# The management command.


def issue(*args: str) -> list[str]:
    output = StringIO()
    call_command("issue_api_token", *args, stdout=output)
    return output.getvalue().strip().splitlines()


def test_command_prints_token(world):
    assert issue("--user", "owner")[-1].startswith("pat_")


def test_command_token_works(world):
    token = issue("--user", "owner", "--name", "cli")[-1]
    response = bearer(token).get("/api/workspaces")
    assert response.status_code == 200


def test_command_token_lists_workspace(world):
    token = issue("--user", "owner")[-1]
    listed = [item["slug"] for item in bearer(token).get("/api/workspaces").json()]
    assert listed == ["acme"]


def test_command_by_email(world):
    token = issue("--user", "owner@example.test")[-1]
    assert bearer(token).get("/api/workspaces").status_code == 200


def test_command_names_token(world):
    issue("--user", "owner", "--name", "ci runner")
    assert PersonalApiToken.objects.filter(name="ci runner").count() == 1


def test_command_unknown_user(world):
    with pytest.raises(CommandError, match="nobody"):
        issue("--user", "nobody")


def test_command_inactive_user(world):
    world.member.user.is_active = False
    world.member.user.save(update_fields=["is_active"])
    with pytest.raises(CommandError):
        issue("--user", "member")


# last_used_at.


def test_last_used_initially_empty(created):
    assert PersonalApiToken.objects.get(pk=created["id"]).last_used_at is None


def test_last_used_set_on_use(created):
    bearer(created["token"]).get("/api/workspaces")
    assert PersonalApiToken.objects.get(pk=created["id"]).last_used_at is not None


def test_failed_auth_not_touched(world, created):
    broken = created["token"][:-2] + "xx"
    bearer(broken).get("/api/workspaces")
    assert PersonalApiToken.objects.get(pk=created["id"]).last_used_at is None


def test_command_actor_is_operator(world):
    issue("--user", "owner", "--name", "cli")

    event = AuditEvent.objects.get(
        workspace=world.workspace, event_name="api_token.created"
    )

    assert (event.actor_kind, event.actor_id) == ("system", "")
    assert event.actor_display == "manage.py issue_api_token"
    assert event.source_trust == "ops_cli"
    assert event.summary.endswith(f"for {world.owner.user.name}")


def test_create_workspace_actor_is_operator(world):
    output = StringIO()
    call_command(
        "create_workspace", "--name", "Ops made", "--owner", "owner", stdout=output
    )
    workspace_id = output.getvalue().split()[0]

    event = AuditEvent.objects.get(workspace_id=workspace_id, event_name="member.added")

    assert event.actor_kind == "system"
    assert event.actor_display == "manage.py create_workspace"
    assert event.target_name == world.owner.user.name
