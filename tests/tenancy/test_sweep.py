"""Every workspace route and admin page, called with ids outside the caller's reach.

The API sweep walks the URL configuration, builds each route under
`/api/workspaces/` with another workspace's ids, ids that do not exist and
malformed ids, and calls every method. Each response must be the one not-found
body, byte for byte. The admin sweep does the same for every admin page as the owner of
another workspace. Both sweeps fail when the URL configuration gains a route that
their tables do not cover.
"""

import re
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.applications.models import App
from apps.audit.models import AuditEvent
from apps.audit.services import Actor, AuditEntry, Source, audit_record
from apps.integrations.models import ConnectedAccount, OAuthProviderConfig
from apps.workspaces.invitations import invitation_create
from apps.workspaces.models import Membership, Team

NOT_FOUND = b'{"error":"not_found","detail":"Not found."}'
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")
MALFORMED = "not-a-uuid"
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")

WORKSPACE = "api/workspaces/<str:workspace_id>"
APP = f"{WORKSPACE}/apps/<str:app_id>"

# Every route under `api/workspaces`, written without its trailing slash, with
# the methods its view serves besides OPTIONS, which every DRF view serves.
API_ROUTES: dict[str, set[str]] = {
    "api/workspaces": {"GET", "POST"},
    WORKSPACE: {"GET", "PATCH"},
    f"{WORKSPACE}/members": {"GET"},
    f"{WORKSPACE}/members/<str:user_id>": {"PATCH", "DELETE"},
    f"{WORKSPACE}/apps": {"GET", "POST"},
    APP: {"GET", "PATCH", "DELETE"},
    f"{APP}/files": {"GET", "PUT"},
    f"{APP}/publish": {"POST"},
    f"{APP}/unpublish": {"POST"},
    f"{APP}/app-tools/<str:tool_name>/execute": {"POST"},
    f"{WORKSPACE}/reviews": {"GET"},
    f"{WORKSPACE}/reviews/<str:review_id>/approve": {"POST"},
    f"{WORKSPACE}/reviews/<str:review_id>/changes": {"POST"},
    f"{APP}/agents": {"GET", "PATCH"},
    f"{APP}/agents/approval": {"POST"},
    f"{APP}/integration-setup": {"PUT"},
    f"{APP}/agent-runs": {"GET", "POST"},
    f"{APP}/agent-runs/<str:run_id>": {"GET"},
    f"{APP}/collaborators": {"GET", "PUT"},
    f"{WORKSPACE}/integrations": {"GET"},
    f"{WORKSPACE}/integrations/<str:grant_id>": {"GET", "PATCH", "DELETE"},
    f"{WORKSPACE}/integrations/<str:grant_id>/reset": {"POST"},
    f"{WORKSPACE}/teams": {"GET", "POST"},
    f"{WORKSPACE}/teams/<str:team_id>": {"PATCH", "DELETE"},
    f"{WORKSPACE}/teams/<str:team_id>/members/<str:user_id>": {"PUT", "DELETE"},
    f"{WORKSPACE}/invitations": {"GET", "POST"},
    f"{WORKSPACE}/invitations/<str:invitation_id>/resend": {"POST"},
    f"{WORKSPACE}/invitations/<str:invitation_id>/revoke": {"POST"},
    f"{WORKSPACE}/oauth-providers": {"GET"},
    f"{WORKSPACE}/oauth-providers/<str:config_id>": {"PATCH"},
    f"{WORKSPACE}/oauth/<str:config_id>/start": {"GET"},
    f"{WORKSPACE}/connected-accounts": {"GET"},
    f"{WORKSPACE}/connected-accounts/<str:account_id>": {"DELETE"},
    f"{WORKSPACE}/audit-events": {"GET"},
    f"{WORKSPACE}/audit-events/summary": {"GET"},
    f"{WORKSPACE}/audit-events/<str:event_id>": {"GET"},
}

# A member lacks `integrations:manage`, `members:manage`, `members:invite` and
# `audit:read`.
# The guard checks the role's permission before it looks up the object, so these
# responses are a 403 for every object id: foreign, missing, malformed or the
# member's own. It is the same body for all of them, so it does not reveal whether
# an object exists.
MEMBER_DENIALS = {
    (WORKSPACE, "PATCH"): "workspace_manage_forbidden",
    (f"{WORKSPACE}/members/<str:user_id>", "PATCH"): "workspace_members_forbidden",
    (f"{WORKSPACE}/members/<str:user_id>", "DELETE"): "workspace_members_forbidden",
    (f"{WORKSPACE}/integrations/<str:grant_id>", "PATCH"): (
        "integration_setup_forbidden"
    ),
    (f"{WORKSPACE}/integrations/<str:grant_id>", "DELETE"): (
        "integration_setup_forbidden"
    ),
    (f"{WORKSPACE}/integrations/<str:grant_id>/reset", "POST"): (
        "integration_setup_forbidden"
    ),
    (f"{WORKSPACE}/teams/<str:team_id>", "PATCH"): "workspace_members_forbidden",
    (f"{WORKSPACE}/teams/<str:team_id>", "DELETE"): "workspace_members_forbidden",
    (f"{WORKSPACE}/teams/<str:team_id>/members/<str:user_id>", "PUT"): (
        "workspace_members_forbidden"
    ),
    (f"{WORKSPACE}/teams/<str:team_id>/members/<str:user_id>", "DELETE"): (
        "workspace_members_forbidden"
    ),
    (f"{WORKSPACE}/invitations/<str:invitation_id>/resend", "POST"): (
        "workspace_invitations_forbidden"
    ),
    (f"{WORKSPACE}/invitations/<str:invitation_id>/revoke", "POST"): (
        "workspace_invitations_forbidden"
    ),
    (f"{WORKSPACE}/oauth-providers/<str:config_id>", "PATCH"): (
        "oauth_provider_config_forbidden"
    ),
    (f"{WORKSPACE}/audit-events/<str:event_id>", "GET"): "audit_logs_forbidden",
}


def walk(patterns, prefix: str = ""):
    """Yield the full route string of every URL pattern below `patterns`."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def routes_under(prefix: str) -> set[str]:
    return {
        route for route in walk(get_resolver().url_patterns) if route.startswith(prefix)
    }


def parameters(route: str) -> list[str]:
    return PARAMETER.findall(route)


def fill(route: str, values: dict[str, str]) -> str:
    return "/" + PARAMETER.sub(lambda match: values[match.group(1)], route)


def call(client, method: str, path: str):
    if method in ("POST", "PATCH", "PUT"):
        return client.generic(method, path, b"{}", content_type="application/json")
    return client.generic(method, path)


@dataclass(frozen=True)
class Variant:
    label: str
    values: dict[str, str]


@dataclass(frozen=True)
class WorkspaceIds:
    """The default team, a member's user id and an invitation of one workspace."""

    team_id: str
    user_id: str
    invitation_id: str


def workspace_ids(workspace, owner, user) -> WorkspaceIds:
    inviter = Membership.objects.get(workspace=workspace, user=owner)
    invitation, _ = invitation_create(
        workspace=workspace,
        inviter_membership=inviter,
        email=f"invitee-{uuid.uuid4().hex[:8]}@example.test",
        role="member",
        team_ids=[],
        source=Source(),
    )
    team = Team.objects.get(workspace=workspace, is_default=True)
    return WorkspaceIds(str(team.pk), str(user.pk), str(invitation.pk))


def oauth_ids(world) -> dict:
    """An OAuth provider config in each workspace, and connected accounts of the
    member and the admin of A and of the outsider in B."""
    configs, accounts = {}, {}
    for label, workspace in (
        ("mine", world.workspace),
        ("foreign", world.other_workspace),
    ):
        configs[label] = OAuthProviderConfig.objects.create(
            workspace=workspace,
            provider_key="sweep",
            authorization_url="https://auth.provider.example/o/authorize/",
            token_url="https://auth.provider.example/o/token/",
        )
    for label, persona, config in (
        ("member", world.member, configs["mine"]),
        ("admin", world.admin, configs["mine"]),
        ("foreign", world.outsider, configs["foreign"]),
    ):
        accounts[label] = str(
            ConnectedAccount.objects.create(
                workspace=config.workspace, config=config, user=persona.user
            ).pk
        )
    return {
        "configs": {label: str(config.pk) for label, config in configs.items()},
        "accounts": accounts,
    }


def event_id_in(workspace_id) -> str:
    """Return the id of the newest audit event of the workspace."""
    return str(AuditEvent.objects.filter(workspace_id=workspace_id).first().pk)


def global_event_id() -> str:
    """Record an event on the global chain, which no workspace owns."""
    event = audit_record(
        workspace=None,
        entry=AuditEntry(
            event_name="auth.login_failed",
            outcome="failure",
            summary="A sign-in failed",
            actor=Actor.system(),
        ),
    )
    return str(event.pk)


def event_ids(world) -> dict:
    """An audit event of each workspace and one of the global chain."""
    return {
        "mine": event_id_in(world.workspace.pk),
        "foreign": event_id_in(world.other_workspace.pk),
        "global": global_event_id(),
    }


@pytest.fixture
def sweep_ids(world, built):
    """The apps of `built` with the workspace-level ids of both workspaces."""
    return {
        **built,
        **oauth_ids(world),
        "events": event_ids(world),
        "mine_workspace": workspace_ids(
            world.workspace, world.owner.user, world.member.user
        ),
        "foreign_workspace": workspace_ids(
            world.other_workspace, world.outsider.user, world.outsider.user
        ),
    }


def out_of_reach(
    ids, *, hidden_visible: bool, role: str = "member"
) -> dict[str, list[tuple[str, str]]]:
    """Return, per URL parameter, (label, id) pairs the caller cannot reach."""
    other_role = "admin" if role == "member" else "member"
    sibling = ids["sibling"]
    hidden, foreign = ids["hidden"], ids["foreign"]
    other = ids["foreign_workspace"]
    missing = str(uuid.uuid4())
    choices = {
        "workspace_id": [
            ("foreign workspace", foreign.workspace_id),
            ("missing workspace", missing),
            ("malformed workspace", MALFORMED),
        ],
        "app_id": [
            ("foreign app", foreign.app_id),
            ("missing app", missing),
            ("malformed app", MALFORMED),
        ],
        "run_id": [
            ("foreign run", foreign.run_id),
            ("run of a sibling app", sibling.run_id),
            ("run of an unseen app", hidden.run_id),
            ("missing run", missing),
            ("malformed run", MALFORMED),
        ],
        "grant_id": [
            ("foreign grant", foreign.grant_id),
            ("missing grant", missing),
            ("malformed grant", MALFORMED),
        ],
        "team_id": [
            ("foreign team", other.team_id),
            ("missing team", missing),
            ("malformed team", MALFORMED),
        ],
        "user_id": [
            ("user of another workspace only", other.user_id),
            ("missing user", missing),
            ("malformed user", MALFORMED),
        ],
        "invitation_id": [
            ("foreign invitation", other.invitation_id),
            ("missing invitation", missing),
            ("malformed invitation", MALFORMED),
        ],
        "review_id": [
            ("foreign review", foreign.review_id),
            ("missing review", missing),
            ("malformed review", MALFORMED),
        ],
        # A tool name is not an id: the app in the URL decides the scope.
        "tool_name": [],
        "config_id": [
            ("foreign OAuth config", ids["configs"]["foreign"]),
            ("missing OAuth config", missing),
            ("malformed OAuth config", MALFORMED),
        ],
        "account_id": [
            ("foreign account", ids["accounts"]["foreign"]),
            ("another member's account", ids["accounts"][other_role]),
            ("missing account", missing),
            ("malformed account", MALFORMED),
        ],
        "event_id": [
            ("foreign event", ids["events"]["foreign"]),
            ("global-chain event", ids["events"]["global"]),
            ("missing event", missing),
            ("malformed event", MALFORMED),
        ],
    }
    if not hidden_visible:
        choices["app_id"].append(("app the member cannot see", hidden.app_id))
        choices["grant_id"].append(("grant of an unseen app", hidden.grant_id))
        choices["review_id"].append(("review of an unseen app", hidden.review_id))
    return choices


def reachable_ids(ids, role: str = "member") -> dict[str, str]:
    mine, workspace = ids["mine"], ids["mine_workspace"]
    return {
        "workspace_id": mine.workspace_id,
        "app_id": mine.app_id,
        "run_id": mine.run_id,
        "grant_id": mine.grant_id,
        "team_id": workspace.team_id,
        "user_id": workspace.user_id,
        "invitation_id": workspace.invitation_id,
        "review_id": mine.review_id,
        "tool_name": "lookup",
        "config_id": ids["configs"]["mine"],
        "account_id": ids["accounts"][role],
        "event_id": ids["events"]["mine"],
    }


def foreign_ids(ids) -> dict[str, str]:
    foreign, workspace = ids["foreign"], ids["foreign_workspace"]
    return {
        "workspace_id": foreign.workspace_id,
        "app_id": foreign.app_id,
        "run_id": foreign.run_id,
        "grant_id": foreign.grant_id,
        "team_id": workspace.team_id,
        "user_id": workspace.user_id,
        "invitation_id": workspace.invitation_id,
        "review_id": foreign.review_id,
        "tool_name": "lookup",
        "config_id": ids["configs"]["foreign"],
        "account_id": ids["accounts"]["foreign"],
        "event_id": ids["events"]["foreign"],
    }


def variants(
    route: str, ids, *, hidden_visible: bool, role: str = "member"
) -> list[Variant]:
    """Build the variants of `route`: each parameter replaced in turn by an
    out-of-reach id, and then every parameter set to the other workspace's ids."""
    valid = reachable_ids(ids, role)
    choices = out_of_reach(ids, hidden_visible=hidden_visible, role=role)
    found = []
    for name in parameters(route):
        for label, value in choices[name]:
            found.append(Variant(label, {**valid, name: value}))
    found.append(Variant("every id foreign", foreign_ids(ids)))
    return found


def sweep_forms() -> list[str]:
    """Both forms of every table route that has ids to substitute."""
    forms = []
    for route in API_ROUTES:
        if parameters(route):
            forms.extend([route, f"{route}/"])
    return forms


def test_sweep_covers_api_routes():
    found = {route.rstrip("/") for route in routes_under("api/workspaces")}
    assert found == set(API_ROUTES)


@pytest.mark.parametrize("route", sorted(API_ROUTES))
def test_api_route_has_slash_twin(route):
    found = routes_under("api/workspaces")
    assert {route, f"{route}/"} <= found


def expected_denial(role: str, route: str, method: str, values: dict) -> str | None:
    """Return the 403 code the caller gets instead of a 404, if any."""
    if role != "member" or values["workspace_id"] != values["own_workspace_id"]:
        return None
    return MEMBER_DENIALS.get((route, method))


@pytest.mark.parametrize("role", ["member", "admin"])
@pytest.mark.parametrize("form", sweep_forms())
def test_sweep_out_of_reach_ids(world, sweep_ids, form, role):
    persona = getattr(world, role)
    route = form.rstrip("/")
    mismatches = []
    denials = set()
    for denied_route, method in MEMBER_DENIALS:
        if role == "member" and denied_route == route:
            own_ids = reachable_ids(sweep_ids, role)
            own = call(persona.client, method, fill(form, own_ids))
            denials.add((own.status_code, own.content))
    hidden_visible = role != "member"
    for variant in variants(form, sweep_ids, hidden_visible=hidden_visible, role=role):
        path = fill(form, variant.values)
        values = {**variant.values, "own_workspace_id": str(world.workspace.pk)}
        for method in METHODS:
            response = call(persona.client, method, path)
            answer = (variant.label, method, path, response.status_code)
            denial = expected_denial(role, route, method, values)
            if denial is not None:
                denials.add((response.status_code, response.content))
                if response.json().get("error") != denial:
                    mismatches.append(answer)
            elif response.status_code != 404 or response.content != NOT_FOUND:
                mismatches.append((*answer, response.content))
    assert mismatches == []
    # A denial that replaces the 404 is one body for every id, the caller's own
    # included, so it does not tell a foreign object from a missing one.
    assert len(denials) <= 1


@pytest.mark.parametrize("role", ["member", "admin"])
@pytest.mark.parametrize("form", sweep_forms())
def test_sweep_reachable_ids_control(world, sweep_ids, form, role):
    """With the caller's own ids the guard lets every served method through and
    DRF returns 405 for the others, so the 404s above come from the ids."""
    persona = getattr(world, role)
    served = API_ROUTES[form.rstrip("/")] | {"OPTIONS"}
    path = fill(form, reachable_ids(sweep_ids, role))
    # DELETE goes last: on a member route it removes the member it names.
    ordered = sorted(METHODS, key=lambda method: method == "DELETE")
    statuses = {
        method: call(persona.client, method, path).status_code for method in ordered
    }
    expected = {method: "served" if method in served else 405 for method in METHODS}
    seen = {
        method: "served" if status not in (404, 405) else status
        for method, status in statuses.items()
    }
    assert seen == expected


@pytest.mark.parametrize("form", ["/api/workspaces", "/api/workspaces/"])
def test_workspace_list_own_only(world, built, form):
    listed = {item["id"] for item in world.member.get(form).json()}
    assert listed == {str(world.workspace.pk)}


APP_INDEX_ROUTE = (
    "admin/^(?P<app_label>workspaces|applications|integrations|execution|audit)/$"
)

# Admin pages. Object pages take the pk of the model named beside them.
ADMIN_OBJECT_ROUTES: dict[str, str] = {
    "admin/applications/app/<path:object_id>/approve-agents/": "app",
    "admin/applications/app/<path:object_id>/history/": "app",
    "admin/applications/app/<path:object_id>/delete/": "app",
    "admin/applications/app/<path:object_id>/change/": "app",
    "admin/applications/app/<path:object_id>/": "app",
    "admin/integrations/integrationgrant/<path:object_id>/history/": "grant",
    "admin/integrations/integrationgrant/<path:object_id>/delete/": "grant",
    "admin/integrations/integrationgrant/<path:object_id>/change/": "grant",
    "admin/integrations/integrationgrant/<path:object_id>/": "grant",
    "admin/integrations/oauthproviderconfig/<path:object_id>/history/": "config",
    "admin/integrations/oauthproviderconfig/<path:object_id>/delete/": "config",
    "admin/integrations/oauthproviderconfig/<path:object_id>/change/": "config",
    "admin/integrations/oauthproviderconfig/<path:object_id>/": "config",
    "admin/workspaces/workspace/<path:object_id>/history/": "workspace",
    "admin/workspaces/workspace/<path:object_id>/delete/": "workspace",
    "admin/workspaces/workspace/<path:object_id>/change/": "workspace",
    "admin/workspaces/workspace/<path:object_id>/": "workspace",
    "admin/execution/agentrun/<path:object_id>/history/": "run",
    "admin/execution/agentrun/<path:object_id>/delete/": "run",
    "admin/execution/agentrun/<path:object_id>/change/": "run",
    "admin/execution/agentrun/<path:object_id>/": "run",
    "admin/audit/auditevent/<path:object_id>/history/": "event",
    "admin/audit/auditevent/<path:object_id>/delete/": "event",
    "admin/audit/auditevent/<path:object_id>/change/": "event",
    "admin/audit/auditevent/<path:object_id>/": "event",
}

# The status the outsider gets for their own object, per page: the control that
# shows the 404 for workspace A's objects comes from the scope. Deleting is not
# offered (403) except for grants. Approving takes a POST only and redirects to
# the change page.
ADMIN_OWN_OBJECT = {
    "approve-agents/": ("POST", 302),
    "history/": ("GET", 200),
    "delete/": ("GET", 403),
    "change/": ("GET", 200),
    "": ("GET", 200),
}
# Grants are the one model whose owners and admins may delete them in admin.
ADMIN_OWN_OBJECT_BY_MODEL = {("grant", "delete/"): ("GET", 200)}


@dataclass(frozen=True)
class AdminPage:
    """A page without an object id, with its request and expected status."""

    method: str
    path: str
    status: int


def admin_pages(built) -> dict[str, AdminPage]:
    app_type = ContentType.objects.get_for_model(App)
    mine = built["mine"]
    autocomplete = (
        "/admin/autocomplete/?app_label=integrations&model_name=integrationgrant"
        "&field_name=app&term=app"
    )
    return {
        "admin/": AdminPage("GET", "/admin/", 200),
        "admin/login/": AdminPage("GET", "/admin/login/", 302),
        "admin/logout/": AdminPage("POST", "/admin/logout/", 200),
        "admin/password_change/": AdminPage("GET", "/admin/password_change/", 200),
        "admin/password_change/done/": AdminPage(
            "GET", "/admin/password_change/done/", 200
        ),
        "admin/autocomplete/": AdminPage("GET", autocomplete, 200),
        "admin/jsi18n/": AdminPage("GET", "/admin/jsi18n/", 200),
        "admin/r/<path:content_type_id>/<path:object_id>/": AdminPage(
            "GET", f"/admin/r/{app_type.pk}/{mine.app_id}/", 404
        ),
        "admin/applications/app/": AdminPage("GET", "/admin/applications/app/", 200),
        "admin/applications/app/add/": AdminPage(
            "GET", "/admin/applications/app/add/", 403
        ),
        "admin/integrations/integrationgrant/": AdminPage(
            "GET", "/admin/integrations/integrationgrant/", 200
        ),
        "admin/integrations/integrationgrant/add/": AdminPage(
            "GET", "/admin/integrations/integrationgrant/add/", 403
        ),
        "admin/integrations/oauthproviderconfig/": AdminPage(
            "GET", "/admin/integrations/oauthproviderconfig/", 200
        ),
        "admin/integrations/oauthproviderconfig/add/": AdminPage(
            "GET", "/admin/integrations/oauthproviderconfig/add/", 403
        ),
        "admin/workspaces/workspace/": AdminPage(
            "GET", "/admin/workspaces/workspace/", 200
        ),
        "admin/workspaces/workspace/add/": AdminPage(
            "GET", "/admin/workspaces/workspace/add/", 403
        ),
        "admin/execution/agentrun/": AdminPage(
            "GET", "/admin/execution/agentrun/", 200
        ),
        "admin/execution/agentrun/add/": AdminPage(
            "GET", "/admin/execution/agentrun/add/", 403
        ),
        "admin/audit/auditevent/": AdminPage("GET", "/admin/audit/auditevent/", 200),
        "admin/audit/auditevent/add/": AdminPage(
            "GET", "/admin/audit/auditevent/add/", 403
        ),
        APP_INDEX_ROUTE: AdminPage("GET", "/admin/applications/", 200),
        "admin/(?P<url>.*)$": AdminPage("GET", "/admin/no-such-page/", 404),
    }


ADMIN_PAGE_ROUTES = {
    "admin/",
    "admin/login/",
    "admin/logout/",
    "admin/password_change/",
    "admin/password_change/done/",
    "admin/autocomplete/",
    "admin/jsi18n/",
    "admin/r/<path:content_type_id>/<path:object_id>/",
    "admin/applications/app/",
    "admin/applications/app/add/",
    "admin/integrations/integrationgrant/",
    "admin/integrations/integrationgrant/add/",
    "admin/integrations/oauthproviderconfig/",
    "admin/integrations/oauthproviderconfig/add/",
    "admin/workspaces/workspace/",
    "admin/workspaces/workspace/add/",
    "admin/execution/agentrun/",
    "admin/execution/agentrun/add/",
    "admin/audit/auditevent/",
    "admin/audit/auditevent/add/",
    APP_INDEX_ROUTE,
    "admin/(?P<url>.*)$",
}


def test_sweep_covers_admin_routes():
    found = routes_under("admin/")
    assert found == set(ADMIN_OBJECT_ROUTES) | ADMIN_PAGE_ROUTES


def admin_client(user, *, superuser: bool = False) -> Client:
    if superuser:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    # A server error comes back as a 500 response instead of an exception, so that
    # the sweep lists it beside the other mismatches.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def admin_request(client, method: str, path: str, *, follow_bare: bool):
    """Send the request. The bare object URL redirects to the change page for
    every id, so with `follow_bare` the redirect is followed."""
    response = client.generic(method, path)
    if follow_bare and response.status_code == 302:
        response = client.get(response["Location"])
    return response


def workspace_a_markers(built) -> list[str]:
    """Strings that identify workspace A's apps and grants on an admin page."""
    markers = [built["mine"].workspace_id, "Acme", "member@example.test"]
    for key in ("mine", "sibling", "hidden"):
        markers.extend([built[key].app_id, built[key].grant_id, built[key].config_id])
    return markers + ["Member app", "Member second app", "Owner app"]


def object_ids(built, model: str) -> list[tuple[str, str]]:
    if model == "workspace":
        return [
            ("workspace A", built["mine"].workspace_id),
            ("missing", str(uuid.uuid4())),
            ("malformed", MALFORMED),
        ]
    if model == "event":
        return [
            ("event in A", event_id_in(built["mine"].workspace_id)),
            ("global-chain event", global_event_id()),
            ("missing", str(uuid.uuid4())),
            ("malformed", MALFORMED),
        ]
    field = {
        "app": "app_id",
        "grant": "grant_id",
        "run": "run_id",
        "config": "config_id",
    }[model]
    return [
        ("member's object in A", getattr(built["mine"], field)),
        ("owner's object in A", getattr(built["hidden"], field)),
        ("missing", str(uuid.uuid4())),
        ("malformed", MALFORMED),
    ]


@pytest.mark.parametrize("superuser", [False, True])
@pytest.mark.parametrize("route", sorted(ADMIN_OBJECT_ROUTES))
def test_admin_foreign_object_404(world, built, route, superuser):
    client = admin_client(world.outsider.user, superuser=superuser)
    mismatches = []
    for label, object_id in object_ids(built, ADMIN_OBJECT_ROUTES[route]):
        path = fill(route, {"object_id": object_id})
        for method in ("GET", "POST"):
            if route.endswith("approve-agents/") and method == "GET":
                continue
            bare = route.endswith("<path:object_id>/")
            response = admin_request(client, method, path, follow_bare=bare)
            if response.status_code != 404:
                mismatches.append((label, method, path, response.status_code))
    assert mismatches == []


def outsider_object_id(built, model: str) -> str:
    """Return the id of the outsider's own object of `model`, in workspace B."""
    foreign = built["foreign"]
    if model == "event":
        return event_id_in(foreign.workspace_id)
    field = {
        "app": "app_id",
        "grant": "grant_id",
        "workspace": "workspace_id",
        "run": "run_id",
        "config": "config_id",
    }[model]
    return getattr(foreign, field)


@pytest.mark.parametrize("route", sorted(ADMIN_OBJECT_ROUTES))
def test_admin_own_object_control(world, built, route):
    client = admin_client(world.outsider.user)
    model = ADMIN_OBJECT_ROUTES[route]
    own = outsider_object_id(built, model)
    page = route.split("<path:object_id>/", 1)[1]
    method, status = ADMIN_OWN_OBJECT_BY_MODEL.get(
        (model, page), ADMIN_OWN_OBJECT[page]
    )
    path = fill(route, {"object_id": own})
    response = admin_request(client, method, path, follow_bare=page == "")
    assert response.status_code == status


@pytest.mark.parametrize("route", sorted(ADMIN_PAGE_ROUTES))
def test_admin_page_status(world, built, route):
    page = admin_pages(built)[route]
    client = admin_client(world.outsider.user)
    response = client.generic(page.method, page.path)
    assert response.status_code == page.status


@pytest.mark.parametrize("route", sorted(ADMIN_PAGE_ROUTES))
def test_admin_page_hides_workspace_a(world, built, route):
    page = admin_pages(built)[route]
    client = admin_client(world.outsider.user)
    content = client.generic(page.method, page.path).content.decode()
    shown = [marker for marker in workspace_a_markers(built) if marker in content]
    assert shown == []


@pytest.mark.parametrize(
    "route",
    sorted(route for route in ADMIN_PAGE_ROUTES if route != "admin/logout/"),
)
def test_admin_page_superuser_hides_a(world, built, route):
    page = admin_pages(built)[route]
    client = admin_client(world.outsider.user, superuser=True)
    content = client.generic(page.method, page.path).content.decode()
    shown = [marker for marker in workspace_a_markers(built) if marker in content]
    assert shown == []


@pytest.mark.parametrize(
    "path, marker",
    [
        ("/admin/applications/app/", "app_id"),
        ("/admin/applications/app/?q=app", "app_id"),
        ("/admin/integrations/integrationgrant/", "grant_id"),
        ("/admin/integrations/integrationgrant/?q=Slack", "grant_id"),
        (
            "/admin/autocomplete/?app_label=integrations&model_name=integrationgrant"
            "&field_name=app&term=app",
            "app_id",
        ),
    ],
)
def test_admin_list_shows_own(world, built, path, marker):
    client = admin_client(world.outsider.user)
    content = client.get(path).content.decode()
    assert getattr(built["foreign"], marker) in content


@pytest.mark.parametrize(
    "path",
    [
        "/admin/applications/app/?q=Member",
        "/admin/applications/app/?q=Owner",
        "/admin/integrations/integrationgrant/?q=slack.com",
    ],
)
def test_admin_search_hides_a(world, built, path):
    client = admin_client(world.outsider.user)
    content = client.get(path).content.decode()
    shown = [marker for marker in workspace_a_markers(built) if marker in content]
    assert shown == []


def test_admin_workspace_a_owner_control(world, built):
    client = admin_client(world.owner.user)
    content = client.get("/admin/applications/app/").content.decode()
    assert built["mine"].app_id in content


@pytest.mark.parametrize(
    "path_of",
    [
        lambda built: "/admin/",
        lambda built: f"/admin/applications/app/{built['mine'].app_id}/change/",
        lambda built: "/admin/integrations/integrationgrant/",
    ],
    ids=["index", "app change", "grant list"],
)
def test_admin_member_redirects_login(world, built, path_of):
    client = admin_client(world.member.user)
    path = path_of(built)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_login_rejects_member(world):
    client = Client()
    response = client.post(
        "/admin/login/", {"username": "member", "password": "unused-pass-1"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_admin_login_admits_owner(world):
    client = Client()
    response = client.post(
        "/admin/login/", {"username": "owner", "password": "unused-pass-1"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(world.owner.user.pk)


def test_admin_superuser_no_role_redirects(world, built):
    client = admin_client(world.member.user, superuser=True)
    response = client.get(f"/admin/applications/app/{built['mine'].app_id}/change/")
    assert response.status_code == 302


def test_admin_workspace_page_lists_members(world, built):
    client = admin_client(world.owner.user)
    path = f"/admin/workspaces/workspace/{world.workspace.pk}/change/"
    content = client.get(path).content.decode()

    for email in ("owner@example.test", "admin@example.test", "member@example.test"):
        assert email in content
    assert "General" in content
