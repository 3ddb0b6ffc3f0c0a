"""Low-role denials, identity checks and the internal routes' tokens."""

import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import PersonalApiToken
from apps.applications.models import App
from apps.audit.models import AuditEvent
from apps.execution.models import AgentRun
from apps.integrations.models import GrantSecret
from apps.workspaces.models import Team
from tests.tenancy.conftest import AGENT, example

NOT_FOUND = b'{"error":"not_found","detail":"Not found."}'
SECRETS = {"secrets": {"SLACK_BOT_TOKEN": "xoxb-test-value-0000"}}
TOOL_CALL = {
    "toolName": "send_slack_message",
    "toolInput": {"channel": "C0123456789", "text": "v1.2 is live"},
}
DRAFT_RUN = {"agentId": AGENT, "prompt": "Announce v1.2", "sourceVersion": "draft"}
INTERNAL_ROUTES = [
    "/api/internal/tool-execute",
    "/api/internal/agent-run-complete",
    "/api/internal/integration-requirements",
    "/api/internal/workspace-integrations",
]


def app_path(built_app, suffix: str = "") -> str:
    base = f"/api/workspaces/{built_app.workspace_id}/apps/{built_app.app_id}"
    return base + suffix


def grant_path(built_app) -> str:
    return f"/api/workspaces/{built_app.workspace_id}/integrations/{built_app.grant_id}"


def publish_to_general(built_app) -> None:
    """Make the app visible to every member, as publishing to `General` does."""
    app = App.objects.get(pk=built_app.app_id)
    app.publish_status = App.PublishStatus.PUBLISHED
    app.save(update_fields=["publish_status"])
    app.teams.add(Team.objects.get(workspace=app.workspace, is_default=True))


def bearer(token: str | None) -> APIClient:
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def post_json(client, path: str, body: dict):
    return client.post(path, body, format="json")


def denied_events(world, persona, code: str):
    return AuditEvent.objects.filter(
        workspace=world.workspace,
        event_name="access.denied",
        actor_id=str(persona.user.pk),
        metadata__code=code,
    )


# Secrets need integrations:manage, which a member lacks.


def test_member_patch_secrets_forbidden(world, built):
    response = world.member.patch(grant_path(built["mine"]), SECRETS)
    assert response.status_code == 403
    assert response.json()["error"] == "integration_setup_forbidden"


def test_member_patch_secrets_audited(world, built):
    world.member.patch(grant_path(built["mine"]), SECRETS)
    events = denied_events(world, world.member, "integration_setup_forbidden")
    assert events.count() == 1


def test_member_patch_secrets_stores_nothing(world, built):
    world.member.patch(grant_path(built["mine"]), SECRETS)
    assert not GrantSecret.objects.filter(grant_id=built["mine"].grant_id).exists()


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_governor_patch_secrets_ok(world, built, role):
    response = getattr(world, role).patch(grant_path(built["mine"]), SECRETS)
    assert response.status_code == 200
    assert response.json()["configuredSecretNames"] == ["SLACK_BOT_TOKEN"]


# An app the owner created and published to `General`: the member can see it
# but does not build it.

BUILDER_ACTIONS = [
    ("PATCH", "/agents", example("slack-notifier.agents.json")),
    ("POST", "/agent-runs", DRAFT_RUN),
    ("PUT", "/integration-setup", example("slack-notifier.integration-setup.json")),
    ("POST", "/agents/approval", {"hash": "v1:unused"}),
]
BUILDER_IDS = ["patch agents", "draft run", "setup sync", "approval"]


def send(persona, method: str, path: str, body):
    if method == "GET":
        return persona.get(path)
    return getattr(persona, method.lower())(path, body)


def test_viewer_sees_published_app(world, built):
    publish_to_general(built["hidden"])
    response = world.member.get(app_path(built["hidden"]))
    assert response.status_code == 200


@pytest.mark.parametrize("method, suffix, body", BUILDER_ACTIONS, ids=BUILDER_IDS)
def test_viewer_builder_action_forbidden(world, built, method, suffix, body):
    publish_to_general(built["hidden"])
    response = send(world.member, method, app_path(built["hidden"], suffix), body)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize("method, suffix, body", BUILDER_ACTIONS, ids=BUILDER_IDS)
def test_viewer_denial_audited(world, built, method, suffix, body):
    publish_to_general(built["hidden"])
    send(world.member, method, app_path(built["hidden"], suffix), body)
    assert denied_events(world, world.member, "forbidden").count() == 1


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_governor_patch_agents_ok(world, built, role):
    path = app_path(built["hidden"], "/agents")
    response = getattr(world, role).patch(path, example("slack-notifier.agents.json"))
    assert response.status_code == 200


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_governor_draft_run_ok(world, built, role):
    response = getattr(world, role).post(
        app_path(built["hidden"], "/agent-runs"), DRAFT_RUN
    )
    assert response.status_code == 201
    assert response.json()["runToken"].startswith("run_")


def test_viewer_draft_run_hidden(world, built):
    """A draft run is visible to the app's builders only."""
    publish_to_general(built["hidden"])
    path = app_path(built["hidden"], f"/agent-runs/{built['hidden'].run_id}")
    response = world.member.get(path)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


# The same app unpublished: the member cannot see it, so it and everything under
# it is 404.

UNSEEN_REQUESTS = [
    ("GET", "", None),
    ("GET", "/agents", None),
    *BUILDER_ACTIONS,
]
UNSEEN_IDS = ["app", "agents", *BUILDER_IDS]


@pytest.mark.parametrize("method, suffix, body", UNSEEN_REQUESTS, ids=UNSEEN_IDS)
def test_unseen_app_not_found(world, built, method, suffix, body):
    response = send(world.member, method, app_path(built["hidden"], suffix), body)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_unseen_grant_listing_control(world, built):
    response = world.member.get(f"{world.base}/integrations")
    listed = {grant["id"] for grant in response.json()}
    assert built["mine"].grant_id in listed


def test_unseen_grant_listing_hidden(world, built):
    response = world.member.get(f"{world.base}/integrations")
    listed = {grant["id"] for grant in response.json()}
    assert built["hidden"].grant_id not in listed


# Identity.


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/workspaces"),
        ("post", "/api/workspaces"),
        ("post", "/api/me/tokens"),
        ("get", "/api/workspaces/{w}/integrations"),
        ("post", "/api/workspaces/{w}/apps"),
    ],
)
def test_anonymous_identity_required(world, method, path):
    response = getattr(APIClient(), method)(path.format(w=world.workspace.pk))
    assert response.status_code == 401
    assert response.json()["error"] == "identity_required"


def revoke(token: str) -> str:
    prefix = token.split("_")[1]
    PersonalApiToken.objects.filter(prefix=prefix).update(revoked_at=timezone.now())
    return token


def expire(token: str) -> str:
    prefix = token.split("_")[1]
    past = timezone.now() - timezone.timedelta(minutes=1)
    PersonalApiToken.objects.filter(prefix=prefix).update(expires_at=past)
    return token


@pytest.mark.parametrize(
    "make_token",
    [
        lambda world: revoke(world.member.token),
        lambda world: expire(world.member.token),
        lambda world: "pat_" + "a" * 12 + "_" + "b" * 43,
        lambda world: world.member.token[:-2] + "xx",
        lambda world: "pat_garbage",
    ],
    ids=["revoked", "expired", "unknown prefix", "wrong secret", "garbage"],
)
def test_bad_personal_token_401(world, make_token):
    response = bearer(make_token(world)).get("/api/workspaces")
    assert response.status_code == 401


def test_personal_token_control(world):
    response = bearer(world.member.token).get("/api/workspaces")
    assert response.status_code == 200


# Internal routes.


def internal_call(client, path: str, body: dict | None = None):
    if path.endswith("workspace-integrations") or path.endswith(
        "workspace-integrations/"
    ):
        return client.get(path, body or {})
    return post_json(client, path, body or {})


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("path", INTERNAL_ROUTES)
def test_internal_without_token_401(world, path, slash):
    response = internal_call(APIClient(), path + slash)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "token_of",
    [
        lambda world, built: "wrong-internal-token-0123456789abcdef",
        lambda world, built: world.owner.token,
        lambda world, built: "run_" + "a" * 12 + "_" + "b" * 43,
    ],
    ids=["wrong token", "personal token", "unknown run token"],
)
@pytest.mark.parametrize("path", INTERNAL_ROUTES)
def test_internal_bad_token_401(world, built, path, token_of):
    response = internal_call(bearer(token_of(world, built)), path)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/api/internal/integration-requirements", "/api/internal/workspace-integrations"],
)
def test_internal_rejects_run_token(world, built, path):
    mine = built["mine"]
    body = {
        "workspaceId": mine.workspace_id,
        "appId": mine.app_id,
        "setupConfig": example("slack-notifier.integration-setup.json"),
    }
    response = internal_call(bearer(mine.run_token), path, body)
    assert response.status_code == 401


@pytest.fixture
def internal(settings):
    return bearer(settings.INTERNAL_API_TOKEN)


def test_internal_token_lists_grants(internal, built):
    mine = built["mine"]
    response = internal.get(
        "/api/internal/workspace-integrations",
        {"workspaceId": mine.workspace_id, "appId": mine.app_id},
    )
    assert response.status_code == 200
    assert [grant["id"] for grant in response.json()["integrations"]] == [mine.grant_id]


def test_internal_token_syncs_setup(internal, built):
    mine = built["mine"]
    body = {
        "workspaceId": mine.workspace_id,
        "appId": mine.app_id,
        "setupConfig": example("slack-notifier.integration-setup.json"),
    }
    response = post_json(internal, "/api/internal/integration-requirements", body)
    assert response.status_code == 200


def test_internal_token_completes_run(internal, built):
    body = {"runId": built["mine"].run_id, "status": "completed"}
    response = post_json(internal, "/api/internal/agent-run-complete", body)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"


# The tool call is queued on commit, so these tests commit their transactions.
@pytest.mark.django_db(transaction=True)
def test_internal_token_reaches_pipeline(internal, built):
    """The call passes authentication and stops at the unapproved draft."""
    body = {"runId": built["mine"].run_id, **TOOL_CALL}
    response = post_json(internal, "/api/internal/tool-execute", body)
    assert response.status_code == 403
    assert response.json()["error"] == "draft_agents_config_unapproved"


@pytest.mark.django_db(transaction=True)
def test_run_token_reaches_pipeline(built):
    mine = built["mine"]
    body = {"runId": mine.run_id, **TOOL_CALL}
    response = post_json(bearer(mine.run_token), "/api/internal/tool-execute", body)
    assert response.status_code == 403
    assert response.json()["error"] == "draft_agents_config_unapproved"


RUN_ROUTES = [
    ("/api/internal/tool-execute", TOOL_CALL),
    ("/api/internal/agent-run-complete", {"status": "completed"}),
]
RUN_ROUTE_IDS = ["tool-execute", "agent-run-complete"]


@pytest.mark.parametrize("other", ["sibling", "hidden", "foreign"])
@pytest.mark.parametrize("path, extra", RUN_ROUTES, ids=RUN_ROUTE_IDS)
def test_run_token_other_run(built, path, extra, other):
    body = {"runId": built[other].run_id, **extra}
    response = post_json(bearer(built["mine"].run_token), path, body)
    assert response.status_code == 403
    assert response.json()["error"] == "run_mismatch"


@pytest.mark.parametrize("other", ["sibling", "foreign"])
def test_run_mismatch_leaves_run_open(built, other):
    body = {"runId": built[other].run_id, "status": "completed"}
    post_json(bearer(built["mine"].run_token), "/api/internal/agent-run-complete", body)
    run = AgentRun.objects.get(pk=built[other].run_id)
    assert run.status in AgentRun.OPEN_STATUSES


@pytest.mark.parametrize(
    "field, value_of",
    [
        ("workspaceId", lambda built: built["foreign"].workspace_id),
        ("appId", lambda built: built["sibling"].app_id),
    ],
)
def test_run_token_body_ids_checked(built, field, value_of):
    mine = built["mine"]
    body = {"runId": mine.run_id, **TOOL_CALL, field: value_of(built)}
    response = post_json(bearer(mine.run_token), "/api/internal/tool-execute", body)
    assert response.status_code == 403
    assert response.json()["error"] == "run_mismatch"


def end_run(built_app) -> None:
    body = {"runId": built_app.run_id, "status": "completed"}
    client = bearer(built_app.run_token)
    response = post_json(client, "/api/internal/agent-run-complete", body)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path, extra", RUN_ROUTES, ids=RUN_ROUTE_IDS)
def test_ended_run_token_409(built, path, extra):
    mine = built["mine"]
    end_run(mine)
    response = post_json(bearer(mine.run_token), path, {"runId": mine.run_id, **extra})
    assert response.status_code == 409
    assert response.json()["error"] == "run_not_active"


@pytest.mark.parametrize(
    "workspace_of, app_of",
    [
        (lambda b: b["mine"].workspace_id, lambda b: b["foreign"].app_id),
        (lambda b: b["foreign"].workspace_id, lambda b: b["mine"].app_id),
        (lambda b: b["mine"].workspace_id, lambda b: str(uuid.uuid4())),
        (lambda b: b["mine"].workspace_id, lambda b: "not-a-uuid"),
        (lambda b: "not-a-uuid", lambda b: b["mine"].app_id),
    ],
    ids=[
        "app of another workspace",
        "workspace of another app",
        "missing app",
        "malformed app",
        "malformed workspace",
    ],
)
@pytest.mark.parametrize(
    "path",
    ["/api/internal/integration-requirements", "/api/internal/workspace-integrations"],
)
def test_internal_app_not_found(internal, built, path, workspace_of, app_of):
    body = {
        "workspaceId": workspace_of(built),
        "appId": app_of(built),
        "setupConfig": example("slack-notifier.integration-setup.json"),
    }
    response = internal_call(internal, path, body)
    assert response.status_code == 403
    assert response.json()["error"] == "app_not_found"


def test_foreign_sync_creates_nothing(internal, built):
    body = {
        "workspaceId": built["mine"].workspace_id,
        "appId": built["foreign"].app_id,
        "setupConfig": {"integrations": []},
    }
    post_json(internal, "/api/internal/integration-requirements", body)
    response = internal.get(
        "/api/internal/workspace-integrations",
        {
            "workspaceId": built["foreign"].workspace_id,
            "appId": built["foreign"].app_id,
        },
    )
    assert [grant["status"] for grant in response.json()["integrations"]] == ["active"]


@pytest.mark.parametrize("path", INTERNAL_ROUTES)
def test_internal_routes_off_404(settings, internal, path):
    settings.SECOND_SERVE_INTERNAL_ROUTES = False
    response = internal_call(internal, path)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


# Unknown paths and trailing slashes.


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/nope",
        "/api/nope/",
        "/api/workspaces/{w}/nope",
        "/api/workspaces/{w}/apps/{a}/nope/",
        "/api/internal/nope",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_path_json(world, built, path, method):
    path = path.format(w=world.workspace.pk, a=built["mine"].app_id)
    response = getattr(world.member.client, method)(path)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


def test_unknown_api_path_anonymous():
    response = APIClient().get("/api/nope")
    assert response.status_code == 404
    assert response.content == NOT_FOUND


SLASH_PATHS = [
    "/api/workspaces",
    "/api/workspaces/{w}/apps/{a}",
    "/api/workspaces/{w}/apps/{a}/agents",
    "/api/workspaces/{w}/apps/{a}/agent-runs/{r}",
    "/api/workspaces/{w}/integrations",
    "/api/workspaces/{w}/integrations/{g}",
    "/api/workspaces/{w}/apps/{f}",
    "/api/workspaces/{w}/apps/{a}/agent-runs",
]


@pytest.mark.parametrize("path", SLASH_PATHS)
def test_trailing_slash_same_status(world, built, path):
    mine = built["mine"]
    path = path.format(
        w=mine.workspace_id,
        a=mine.app_id,
        r=mine.run_id,
        g=mine.grant_id,
        f=built["foreign"].app_id,
    )
    plain = world.member.get(path)
    slashed = world.member.get(path + "/")
    assert slashed.status_code == plain.status_code
    assert slashed.json() == plain.json()
