"""The owners' approval desk in Django admin, driven with Django's test Client.

Apps are built through the services; the desk's list, change page, confirmation
pages and actions are then used as an owner's browser would post them.
"""

import json
import re

import pytest
from django.contrib.messages import get_messages
from django.db import transaction
from django.db.models import QuerySet
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from apps.agents.models import AgentsApproval
from apps.agents.selectors import agents_state_for_files
from apps.agents.services import agents_approve
from apps.applications.admin import AppAdmin
from apps.applications.drafts import draft_write, serialise_json_file
from apps.applications.models import AGENTS_FILE, App, AppSnapshot, Review
from apps.applications.publishing import snapshot_promote
from apps.applications.reviews import review_request
from apps.applications.services import app_create
from apps.audit.services import Actor, Source
from apps.execution.runs import run_create
from apps.workspaces.admin_site import SecondAdminSite
from apps.workspaces.models import Team
from tests.execution.conftest import tool_document

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/applications/app/"
DOMAIN = "api.allowed.example"
NEW_DOMAIN = "slack.com"
NEW_SCOPE = "chat:write"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def public_document() -> dict:
    return tool_document(url=f"https://{DOMAIN}/forecast", domain=DOMAIN)


def oauth_tool() -> dict:
    """A Slack tool whose OAuth grant requests NEW_SCOPE on NEW_DOMAIN."""
    return {
        "type": "custom",
        "name": "post_message",
        "integration": {
            "name": "Slack",
            "domain": NEW_DOMAIN,
            "auth": {
                "type": "oauth2",
                "providerKey": "slack",
                "identity": "triggering_user",
                "authorizationUrl": f"https://{NEW_DOMAIN}/oauth/v2/authorize",
                "tokenUrl": f"https://{NEW_DOMAIN}/api/oauth.v2.access",
                "scopes": [NEW_SCOPE],
            },
        },
        "endpoint": {"method": "POST", "url": f"https://{NEW_DOMAIN}/api/chat.post"},
        "mockData": [{"ok": True}],
    }


def extended_document() -> dict:
    document = public_document()
    document["agents"][0]["tools"].append(oauth_tool())
    return document


def owner_actor(world) -> Actor:
    return Actor.for_user(world.owner.user, "owner")


def make_app(world, name: str, document: dict | None = None) -> App:
    app = app_create(
        workspace=world.workspace,
        name=name,
        description="",
        user=world.owner.user,
        actor=owner_actor(world),
        source=Source(),
    )
    if document is not None:
        write_draft(world, app, document)
    return app


def write_draft(world, app: App, document: dict) -> None:
    draft_write(
        app=app,
        changes={AGENTS_FILE: serialise_json_file(document)},
        actor=owner_actor(world),
        source=Source(),
    )


def draft_hash(app: App) -> str:
    files = AppSnapshot.objects.get(app=app, kind=AppSnapshot.Kind.DRAFT).files
    return agents_state_for_files(app=app, files=files).hash


def draft_state(app: App) -> str:
    files = AppSnapshot.objects.get(app=app, kind=AppSnapshot.Kind.DRAFT).files
    return agents_state_for_files(app=app, files=files).state


def approve(world, app: App) -> AgentsApproval:
    return agents_approve(
        app=app,
        seen_hash=draft_hash(app),
        user=world.owner.user,
        role="owner",
        source=AgentsApproval.Source.AGENTS_PAGE,
        audit_source=Source(),
    )


def edit_draft(world, app: App) -> None:
    """Change the draft's description, which changes its hash."""
    edited = extended_document()
    edited["agents"][0]["description"] = "Edited while the owner was reading."
    write_draft(world, app, edited)


def stale_app(world, name: str = "Stale") -> App:
    """An app approved with the public tool whose draft then adds the OAuth tool."""
    app = make_app(world, name, public_document())
    approve(world, app)
    write_draft(world, app, extended_document())
    return app


def request_review(world, app: App, draft_hash_value: str | None = None) -> Review:
    return review_request(
        app=app,
        user=world.member.user,
        teams=list(Team.objects.filter(workspace=world.workspace)),
        draft_hash=draft_hash_value or draft_hash(app),
        actor=Actor.for_user(world.member.user, "member"),
        source=Source(),
    )


def publish(world, app: App) -> None:
    """Approve the draft and promote it, in one transaction as the services do."""
    with transaction.atomic():
        snapshot_promote(
            app=app,
            approval=approve(world, app),
            teams=list(Team.objects.filter(workspace=world.workspace)),
            actor=owner_actor(world),
            source=Source(),
        )


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def start_action(client: Client, action: str, apps: list[App]):
    """Choose the action for the apps on the changelist and press Go."""
    return client.post(
        CHANGELIST,
        {"action": action, "index": "0", "_selected_action": [a.pk for a in apps]},
    )


def confirm(client: Client, page, **extra):
    """Submit the intermediate page's form with its hidden inputs as shown."""
    fields: dict[str, list[str]] = {}
    for name, value in HIDDEN_INPUT.findall(page.content.decode()):
        fields.setdefault(name, []).append(value)
    fields.pop("csrfmiddlewaretoken", None)
    return client.post(CHANGELIST, {**fields, **extra})


def run_action(client: Client, action: str, apps: list[App], **extra):
    return confirm(client, start_action(client, action, apps), **extra)


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# The inbox


def test_desk_filter_lists_undecided(world):
    stale_app(world, "Stale")
    approve(world, make_app(world, "Settled", public_document()))
    request_review(world, make_app(world, "Reviewed", public_document()))

    content = desk(world.owner.user).get(f"{CHANGELIST}?decision=needed")

    names = re.findall(r'for an action - ([^"]+)"', content.content.decode())
    assert sorted(names) == ["Reviewed", "Stale"]


def test_desk_filter_counts_render(world):
    stale_app(world)

    response = desk(world.owner.user).get(f"{CHANGELIST}?_facets=True")

    assert "Needs a decision (1)" in response.content.decode()


def test_desk_columns_show_difference(world):
    stale_app(world)

    content = desk(world.owner.user).get(CHANGELIST).content.decode()

    # The OAuth tool adds its tool, domain, endpoint, method, token URL,
    # authorization URL and scope.
    assert '<td class="field-added">7</td>' in content


def test_desk_column_shows_short_hash(world):
    app = stale_app(world)

    content = desk(world.owner.user).get(CHANGELIST).content.decode()

    assert f'<td class="field-draft_hash">{draft_hash(app)[:15]}</td>' in content


def test_desk_column_shows_requester(world):
    request_review(world, make_app(world, "Reviewed", public_document()))

    content = desk(world.owner.user).get(CHANGELIST).content.decode()

    assert "yes, by member" in content


def test_changelist_links_desk_filter(world):
    content = desk(world.owner.user).get(CHANGELIST).content.decode()

    assert 'href="/admin/applications/app/?decision=needed"' in content


def test_app_index_links_desk(world):
    content = desk(world.owner.user).get("/admin/applications/").content.decode()

    assert 'href="/admin/applications/app/?decision=needed"' in content


# The change page


def test_change_page_difference_first(world):
    app = stale_app(world)

    content = desk(world.owner.user).get(f"{CHANGELIST}{app.pk}/change/")

    text = content.content.decode()
    assert text.index('id="security-difference"') < text.index('id="agents-payload"')


def test_change_page_lists_new_scope(world):
    app = stale_app(world)

    content = desk(world.owner.user).get(f"{CHANGELIST}{app.pk}/change/")

    assert f"<code>{NEW_SCOPE}</code>" in content.content.decode()


def test_change_page_shows_pending_review(world):
    app = make_app(world, "Reviewed", public_document())
    review = request_review(world, app)

    content = desk(world.owner.user).get(f"{CHANGELIST}{app.pk}/change/")

    assert f'id="review-hash">{review.draft_hash}<' in content.content.decode()


def test_change_page_without_difference(world):
    app = make_app(world, "Settled", public_document())
    approve(world, app)

    content = desk(world.owner.user).get(f"{CHANGELIST}{app.pk}/change/")

    assert "No security-relevant change." in content.content.decode()


# Approve agents.json


def test_confirmation_lists_each_hash(world):
    first, second = stale_app(world, "First"), stale_app(world, "Second")

    page = start_action(desk(world.owner.user), "approve_agents", [first, second])

    shown = dict(HIDDEN_INPUT.findall(page.content.decode()))
    assert shown[f"hash_{first.pk}"] == draft_hash(first)
    assert shown[f"hash_{second.pk}"] == draft_hash(second)


def test_confirmation_lists_added_domain(world):
    app = stale_app(world)

    page = start_action(desk(world.owner.user), "approve_agents", [app])

    assert f"<code>{NEW_DOMAIN}</code>" in page.content.decode()


def test_confirm_approves_shown_hash(world):
    app = stale_app(world)
    shown = draft_hash(app)

    run_action(desk(world.owner.user), "approve_agents", [app])

    assert AgentsApproval.objects.filter(app=app).first().hash == shown


def test_confirm_makes_draft_approved(world):
    app = stale_app(world)

    run_action(desk(world.owner.user), "approve_agents", [app])

    assert draft_state(app) == "approved"


def test_changed_hash_is_skipped(world):
    app = stale_app(world)
    client = desk(world.owner.user)
    page = start_action(client, "approve_agents", [app])
    edit_draft(world, app)

    response = confirm(client, page)

    assert message_texts(response) == [
        "Approve agents.json: 0 done, 1 skipped (Stale: agents_config_changed)."
    ]


def test_changed_hash_stays_stale(world):
    app = stale_app(world)
    client = desk(world.owner.user)
    page = start_action(client, "approve_agents", [app])
    edit_draft(world, app)

    confirm(client, page)

    assert AgentsApproval.objects.filter(app=app).count() == 1


def test_approve_counts_done_and_skipped(world):
    apps = [stale_app(world, "Alpha"), stale_app(world, "Beta")]
    apps.append(make_app(world, "Empty"))
    settled = make_app(world, "Settled", public_document())
    approve(world, settled)

    response = run_action(desk(world.owner.user), "approve_agents", [*apps, settled])

    assert message_texts(response) == [
        "Approve agents.json: 2 done, 2 skipped "
        "(Empty: agents_json_missing; Settled: already_approved)."
    ]


# Reviews


def test_review_action_publishes(world):
    app = make_app(world, "Reviewed", public_document())
    request_review(world, app)

    start_action(desk(world.owner.user), "approve_review_and_publish", [app])

    app.refresh_from_db()
    assert app.publish_status == App.PublishStatus.PUBLISHED


def test_review_action_skips_stale(world):
    app = make_app(world, "Reviewed", public_document())
    request_review(world, app, draft_hash_value="v1:" + "0" * 64)
    plain = make_app(world, "Plain", public_document())

    response = start_action(
        desk(world.owner.user), "approve_review_and_publish", [app, plain]
    )

    assert message_texts(response) == [
        "Approve review and publish: 0 done, 2 skipped "
        "(Plain: no_pending_review; Reviewed: review_stale)."
    ]


def test_request_changes_needs_message(world):
    app = make_app(world, "Reviewed", public_document())
    review = request_review(world, app)

    page = run_action(desk(world.owner.user), "request_changes", [app], message=" ")

    review.refresh_from_db()
    assert 'id="message-error"' in page.content.decode()
    assert review.status == Review.Status.PENDING


def test_request_changes_records_message(world):
    app = make_app(world, "Reviewed", public_document())
    review = request_review(world, app)

    run_action(
        desk(world.owner.user), "request_changes", [app], message="Drop the scope."
    )

    review.refresh_from_db()
    assert review.message == "Drop the scope."
    assert review.status == Review.Status.CHANGES_REQUESTED


def test_request_changes_counts(world):
    app = make_app(world, "Reviewed", public_document())
    request_review(world, app)
    plain = make_app(world, "Plain", public_document())

    response = run_action(
        desk(world.owner.user), "request_changes", [app, plain], message="No."
    )

    assert message_texts(response) == [
        "Request changes: 1 done, 1 skipped (Plain: no_pending_review)."
    ]


# Revoke


def published_call(run_token: str, run_id: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {run_token}")
    body = {"runId": run_id, "toolName": "lookup", "toolInput": {}}
    return client.post(
        "/api/internal/tool-execute",
        data=json.dumps(body),
        content_type="application/json",
    )


def published_run(world, app: App) -> tuple[str, str]:
    run, token = run_create(
        app=app,
        agent_id="agent",
        prompt="",
        source_version="published",
        user=world.owner.user,
        actor=owner_actor(world),
        source=Source(),
    )
    return str(run.pk), token


@pytest.mark.django_db(transaction=True)
def test_revoke_stops_published_run(world, upstream):
    upstream.server.set_json("/forecast", {"temperature": 21})
    app = make_app(world, "Live", public_document())
    publish(world, app)
    run_id, token = published_run(world, app)
    assert published_call(token, run_id).status_code == 200

    run_action(desk(world.owner.user), "revoke_approval", [app])

    refused = published_call(token, run_id)
    assert refused.status_code == 403
    assert refused.json()["error"] == "published_agents_config_missing_tool"
    assert len(upstream.requests) == 1


def test_revoke_unpublishes_app(world):
    app = make_app(world, "Live", public_document())
    publish(world, app)

    run_action(desk(world.owner.user), "revoke_approval", [app])

    app.refresh_from_db()
    assert app.publish_status == App.PublishStatus.DRAFT


def test_revoke_confirmation_lists_app(world):
    app = make_app(world, "Live", public_document())
    publish(world, app)

    page = start_action(desk(world.owner.user), "revoke_approval", [app])

    assert f"approved hash <code>{draft_hash(app)}</code>" in page.content.decode()


def test_revoke_skips_unapproved_app(world):
    app = make_app(world, "Draft", public_document())

    response = run_action(desk(world.owner.user), "revoke_approval", [app])

    assert message_texts(response) == [
        "Revoke approval: 0 done, 1 skipped (Draft: nothing_to_revoke)."
    ]


# Who gets the actions


def admin_actions(user) -> set[str]:
    request = RequestFactory().get(CHANGELIST)
    request.user = user
    return set(AppAdmin(App, SecondAdminSite()).get_actions(request))


def test_actions_absent_for_member(world):
    assert admin_actions(world.member.user) == set()


def test_owner_actions_lack_bulk_delete(world):
    assert admin_actions(world.owner.user) == {
        "approve_agents",
        "approve_review_and_publish",
        "request_changes",
        "revoke_approval",
    }


def test_outsider_action_approves_nothing(world):
    app = stale_app(world)
    posted = {
        "action": "approve_agents",
        "_selected_action": [app.pk],
        f"hash_{app.pk}": draft_hash(app),
        "post": "yes",
    }

    desk(world.outsider.user).post(CHANGELIST, posted)

    assert AgentsApproval.objects.filter(app=app).count() == 1


# No bulk writes


@pytest.fixture
def bulk_writes(monkeypatch) -> list[tuple[str, str]]:
    """Record every QuerySet.update and QuerySet.delete with its model's name."""
    calls: list[tuple[str, str]] = []
    real_update, real_delete = QuerySet.update, QuerySet.delete

    def update(self, **kwargs):
        calls.append(("update", self.model.__name__))
        return real_update(self, **kwargs)

    def delete(self):
        calls.append(("delete", self.model.__name__))
        return real_delete(self)

    monkeypatch.setattr(QuerySet, "update", update)
    monkeypatch.setattr(QuerySet, "delete", delete)
    return calls


def test_recorder_sees_bulk_update(world, bulk_writes):
    App.objects.filter(workspace=world.workspace).update(description="bulk")

    assert bulk_writes == [("update", "App")]


def test_actions_use_no_bulk_writes(world, bulk_writes):
    client = desk(world.owner.user)
    stale = stale_app(world, "Stale")
    reviewed = make_app(world, "Reviewed", public_document())
    request_review(world, reviewed)
    changes = make_app(world, "Changes", public_document())
    request_review(world, changes)
    bulk_writes.clear()

    run_action(client, "approve_agents", [stale])
    start_action(client, "approve_review_and_publish", [reviewed])
    run_action(client, "request_changes", [changes], message="Fix it.")
    run_action(client, "revoke_approval", [stale, reviewed])

    governed = {"App", "Review", "AgentsApproval"}
    assert [call for call in bulk_writes if call[1] in governed] == []
