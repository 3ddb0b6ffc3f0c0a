"""Shared fixtures: personas per workspace and API clients that act as them."""

import json
import os
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.services import api_token_create
from apps.audit.services import Source
from apps.workspaces.models import Workspace
from apps.workspaces.services import membership_add, workspace_create

pytest_plugins = [
    "tests.support.egress_fixtures",
    "tests.support.workos_vault",
    "tests.support.oauth_server",
    "tests.support.governed_writes",
    "tests.audit.concurrency_support",
]

STRICT = os.environ.get("SECOND_TEST_STRICT") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose component is missing, or fail under SECOND_TEST_STRICT=1."""
    if STRICT:
        pytest.fail(
            f"SECOND_TEST_STRICT=1 and a required component is missing: {reason}"
        )
    pytest.skip(reason)


@dataclass
class Persona:
    user: User
    token: str
    client: APIClient

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.client.post(
            path, data=json.dumps(data or {}), content_type="application/json", **kwargs
        )

    def patch(self, path: str, data=None, **kwargs):
        return self.client.patch(
            path, data=json.dumps(data), content_type="application/json", **kwargs
        )

    def put(self, path: str, data=None, **kwargs):
        return self.client.put(
            path, data=json.dumps(data), content_type="application/json", **kwargs
        )


def make_persona(username: str) -> Persona:
    user = User.objects.create_user(
        username=username, email=f"{username}@example.test", password="unused-pass-1"
    )
    _, token = api_token_create(user=user, name="tests", source=Source())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return Persona(user=user, token=token, client=client)


@dataclass
class WorkspaceWorld:
    workspace: Workspace
    owner: Persona
    admin: Persona
    member: Persona
    outsider: Persona
    other_workspace: Workspace

    @property
    def base(self) -> str:
        return f"/api/workspaces/{self.workspace.pk}"


@pytest.fixture
def world(db) -> WorkspaceWorld:
    """A workspace with an owner, an admin and a member, and an outsider who owns
    another workspace."""
    owner = make_persona("owner")
    workspace = workspace_create(owner=owner.user, name="Acme", slug="acme")
    admin = make_persona("admin")
    member = make_persona("member")
    membership_add(workspace=workspace, user=admin.user, role="admin", actor=owner.user)
    membership_add(
        workspace=workspace, user=member.user, role="member", actor=owner.user
    )
    outsider = make_persona("outsider")
    other = workspace_create(owner=outsider.user, name="Other", slug="other")
    return WorkspaceWorld(workspace, owner, admin, member, outsider, other)
