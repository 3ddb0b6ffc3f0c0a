"""Invitation helpers: invite through the API and build extra teams."""

import pytest

from apps.workspaces.models import Team
from tests.conftest import make_persona


def invite(persona, world, email: str, role: str = "member", team_ids=None):
    """POST an invitation as `persona` and return the response."""
    body = {"email": email, "role": role}
    if team_ids is not None:
        body["teamIds"] = team_ids
    return persona.post(f"{world.base}/invitations", body)


def token_of(response) -> str:
    return response.json()["acceptUrl"].rsplit("/", 1)[-1]


@pytest.fixture
def platform_team(world) -> Team:
    return Team.objects.create(workspace=world.workspace, name="Platform")


@pytest.fixture
def foreign_team(world) -> Team:
    return Team.objects.create(workspace=world.other_workspace, name="Foreign")


@pytest.fixture
def invitee(world):
    """An account that is in no workspace, with the email invitee@example.test."""
    return make_persona("invitee")
