"""For each role and each permission-guarded route, the status and error code
that the fixed role matrix gives."""

import json
from pathlib import Path

import pytest

from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
OK = None


def example(name: str):
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def objects(world) -> dict[str, str]:
    """An app with a grant, made by the owner, and an audit event; ids to fill
    into routes."""
    app = world.owner.post(f"{world.base}/apps", {"name": "Notifier"}).json()
    setup = world.owner.put(
        f"{world.base}/apps/{app['id']}/integration-setup",
        example("slack-notifier.integration-setup.json"),
    ).json()
    return {
        "app": app["id"],
        "grant": setup["integrations"][0]["id"],
        "member": str(world.member.user.pk),
        "event": str(AuditEvent.objects.filter(workspace=world.workspace).first().pk),
    }


# (method, path below the workspace, body, {role: (status, code or OK)})
TABLE = [
    ("GET", "", None, {"member": (200, OK), "admin": (200, OK), "owner": (200, OK)}),
    (
        "PATCH",
        "",
        {"name": "Renamed"},
        {
            "member": (403, "workspace_manage_forbidden"),
            "admin": (200, OK),
            "owner": (200, OK),
        },
    ),
    (
        "GET",
        "/members",
        None,
        {"member": (200, OK), "admin": (200, OK), "owner": (200, OK)},
    ),
    (
        "PATCH",
        "/members/{member}",
        {"role": "member"},
        {
            "member": (403, "workspace_members_forbidden"),
            "admin": (200, OK),
            "owner": (200, OK),
        },
    ),
    (
        "GET",
        "/invitations",
        None,
        {
            "member": (403, "workspace_invitations_forbidden"),
            "admin": (200, OK),
            "owner": (200, OK),
        },
    ),
    (
        "POST",
        "/invitations",
        {"email": "new.owner@example.test", "role": "owner"},
        {
            "member": (403, "workspace_invitations_forbidden"),
            "admin": (403, "workspace_owner_invite_forbidden"),
            "owner": (201, OK),
        },
    ),
    (
        "POST",
        "/teams",
        {"name": "Platform"},
        {
            "member": (403, "workspace_members_forbidden"),
            "admin": (201, OK),
            "owner": (201, OK),
        },
    ),
    (
        "GET",
        "/integrations",
        None,
        {"member": (200, OK), "admin": (200, OK), "owner": (200, OK)},
    ),
    (
        "PATCH",
        "/integrations/{grant}",
        {"secrets": {"SLACK_BOT_TOKEN": "xoxb-permission-table"}},
        {
            "member": (403, "integration_setup_forbidden"),
            "admin": (200, OK),
            "owner": (200, OK),
        },
    ),
    (
        "POST",
        "/integrations/{grant}/reset",
        None,
        {
            "member": (403, "integration_setup_forbidden"),
            "admin": (200, OK),
            "owner": (200, OK),
        },
    ),
    (
        "DELETE",
        "/integrations/{grant}",
        None,
        {
            "member": (403, "integration_setup_forbidden"),
            "admin": (204, OK),
            "owner": (204, OK),
        },
    ),
    (
        "POST",
        "/apps",
        {"name": "Another"},
        {"member": (201, OK), "admin": (201, OK), "owner": (201, OK)},
    ),
    *[
        (
            "GET",
            path,
            None,
            {
                "member": (403, "audit_logs_forbidden"),
                "admin": (200, OK),
                "owner": (200, OK),
            },
        )
        for path in (
            "/audit-events",
            "/audit-events/summary",
            "/audit-events/{event}",
        )
    ],
]

CASES = [
    pytest.param(method, path, body, role, expected, id=f"{method} {path} {role}")
    for method, path, body, outcomes in TABLE
    for role, expected in outcomes.items()
]


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
def test_role_gets_matrix_answer(world, objects, method, path, body, role, expected):
    persona = getattr(world, role)
    url = world.base + path.format(**objects)
    data = json.dumps(body) if body is not None else None
    response = persona.client.generic(
        method, url, data or "", content_type="application/json"
    )
    status, code = expected

    assert response.status_code == status, response.content
    if code is not OK:
        assert response.json()["error"] == code


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [(m, p, b) for m, p, b, outcomes in TABLE if outcomes["member"][0] == 403],
)
def test_member_denial_is_audited(world, objects, method, path, body):
    url = world.base + path.format(**objects)
    world.member.client.generic(
        method, url, json.dumps(body) if body else "", content_type="application/json"
    )

    denial = AuditEvent.objects.filter(event_name="access.denied").get()
    assert denial.actor_id == str(world.member.user.pk)
    assert denial.metadata["permission"]
