"""List endpoints run the same number of queries for 1 row as for 50."""

import json
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.applications.services import app_create
from apps.audit.services import Actor, Source
from apps.integrations.services import setup_sync
from apps.workspaces.services import membership_add, workspace_create

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def add_workspaces(world, start: int, count: int) -> None:
    for index in range(start, start + count):
        workspace = workspace_create(
            owner=world.outsider.user, name=f"Bulk {index}", slug=f"bulk-{index}"
        )
        membership_add(
            workspace=workspace, user=world.member.user, role="member", actor=None
        )


def add_grants(world, start: int, count: int) -> None:
    setup = json.loads((EXAMPLES / "github-triage.integration-setup.json").read_text())
    for index in range(start, start + count):
        app = app_create(
            workspace=world.workspace,
            name=f"App {index}",
            description="",
            user=world.owner.user,
            actor=Actor.for_user(world.owner.user),
            source=Source(),
        )
        setup_sync(app=app, setup_config=setup, actor=Actor.system(), source=Source())


def queries_of(client, path: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(path)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize(
    ("path", "grow", "persona"),
    [
        ("/api/workspaces", add_workspaces, "member"),
        ("{base}/integrations", add_grants, "owner"),
    ],
)
def test_list_queries_constant(world, path, grow, persona):
    client = getattr(world, persona).client
    url = path.format(base=world.base)
    # The first request records the token's last use; later ones within a
    # minute do not, so it is left out of the count.
    client.get(url)

    grow(world, 0, 1)
    with_one = queries_of(client, url)
    grow(world, 1, 49)
    with_fifty = queries_of(client, url)

    assert with_one == with_fifty
