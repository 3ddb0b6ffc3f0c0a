"""Publishing and reviews through the routes: requests, approvals, stale reviews,
the published runtime, unpublishing and the rules on who may do what."""

import copy

import pytest
from django.utils import timezone

from apps.agents.models import AgentsApproval
from apps.applications.models import App, AppSnapshot, Review
from apps.audit.models import AuditEvent
from apps.workspaces.models import Team
from tests.execution.conftest import tool_document

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "api.allowed.example"


def document(path: str = "/v1") -> dict:
    return tool_document(url=f"https://{DOMAIN}{path}", domain=DOMAIN)


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_name=name).order_by("sequence"))


class Desk:
    """One app built by the member, with the workspace's General team."""

    def __init__(self, world) -> None:
        self.world = world
        self.general = str(
            Team.objects.get(workspace=world.workspace, is_default=True).pk
        )
        created = world.member.post(f"{world.base}/apps", {"name": "Lookup"})
        self.app_id = created.json()["id"]
        self.url = f"{world.base}/apps/{self.app_id}"
        self.write(document())

    def write(self, agents: dict):
        response = self.world.member.patch(f"{self.url}/agents", agents)
        assert response.status_code == 200, response.content
        return response.json()["hash"]

    def draft_hash(self) -> str:
        return self.world.owner.get(f"{self.url}/agents").json()["hash"]

    def request(self, persona=None, **body):
        persona = persona or self.world.member
        payload = {"teamIds": [self.general], "mode": "request", **body}
        return persona.post(f"{self.url}/publish", payload)

    def approve(self, review_id: str, persona=None):
        persona = persona or self.world.owner
        return persona.post(f"{self.world.base}/reviews/{review_id}/approve")

    def publish_now(self, **body):
        payload = {"teamIds": [self.general], "mode": "publish", **body}
        return self.world.owner.post(f"{self.url}/publish", payload)

    def app(self) -> App:
        return App.objects.get(pk=self.app_id)

    def run(self, persona, version: str):
        return persona.post(
            f"{self.url}/agent-runs",
            {"agentId": "agent", "prompt": "", "sourceVersion": version},
        )

    def call(self, run_body: dict):
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {run_body['runToken']}")
        return client.post(
            "/api/internal/tool-execute",
            {"runId": run_body["runId"], "toolName": "lookup", "toolInput": {}},
            format="json",
        )


@pytest.fixture
def desk(world) -> Desk:
    return Desk(world)


# Requests and approvals.


def test_member_request_becomes_review(desk):
    response = desk.request()

    assert response.status_code == 202
    assert response.json()["review"]["status"] == "pending"
    assert response.json()["review"]["draftHash"] == desk.draft_hash()
    assert desk.app().publish_status == "review_requested"


def test_member_publish_mode_still_reviews(desk):
    response = desk.request(mode="publish", hash=desk.draft_hash())

    assert response.status_code == 202
    assert (
        AppSnapshot.objects.filter(app_id=desk.app_id, kind="published").exists()
        is False
    )


def test_review_request_is_audited(desk):
    desk.request()

    [event] = events("review.requested")
    assert event.metadata["reviewedHash"] == desk.draft_hash()


def test_owner_approves_review(desk):
    review = desk.request().json()["review"]

    response = desk.approve(review["id"])

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert desk.app().publish_status == "published"
    published = AppSnapshot.objects.get(app_id=desk.app_id, kind="published")
    assert published.approval.hash == review["draftHash"]
    assert published.approval.source == AgentsApproval.Source.REVIEW


def test_review_approval_is_audited(desk):
    review = desk.request().json()["review"]
    desk.approve(review["id"])

    [approved] = events("review.approved")
    [published] = events("app.published")
    assert approved.metadata["hash"] == review["draftHash"]
    assert published.metadata["hash"] == review["draftHash"]


def test_member_cannot_approve_review(desk, world):
    review = desk.request().json()["review"]

    response = desk.approve(review["id"], persona=world.member)

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert Review.objects.get(pk=review["id"]).status == "pending"


def test_approving_twice_is_stale(desk):
    review = desk.request().json()["review"]
    desk.approve(review["id"])

    response = desk.approve(review["id"])

    assert response.status_code == 409
    assert response.json()["error"] == "review_stale"


def test_request_changes_records_message(desk, world):
    review = desk.request().json()["review"]

    response = world.owner.post(
        f"{world.base}/reviews/{review['id']}/changes", {"message": "Narrow the URL."}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "changes_requested"
    assert response.json()["message"] == "Narrow the URL."
    assert desk.app().publish_status == "changes_requested"
    assert len(events("review.changes_requested")) == 1


def test_request_changes_needs_message(desk, world):
    review = desk.request().json()["review"]

    response = world.owner.post(f"{world.base}/reviews/{review['id']}/changes", {})

    assert response.status_code == 400
    assert "message" in response.json()["fields"]


def test_reviews_list_shows_pending(desk, world):
    review = desk.request().json()["review"]

    listed = world.owner.get(f"{world.base}/reviews?status=pending").json()

    assert [item["id"] for item in listed] == [review["id"]]


# Stale reviews.


def test_draft_edit_supersedes_review(desk):
    review = desk.request().json()["review"]

    desk.write(document("/v2"))

    assert Review.objects.get(pk=review["id"]).status == "superseded"
    assert desk.app().publish_status == "draft"
    assert len(events("review.superseded")) == 1


def test_superseded_review_is_stale(desk):
    review = desk.request().json()["review"]
    desk.write(document("/v2"))

    response = desk.approve(review["id"])

    assert response.status_code == 409
    assert response.json()["error"] == "review_stale"
    assert (
        AppSnapshot.objects.filter(app_id=desk.app_id, kind="published").exists()
        is False
    )


def test_other_file_supersedes_review(desk, world):
    review = desk.request().json()["review"]

    world.member.client.put(
        f"{desk.url}/files",
        {"files": {"src/main.py": "print('hi')\n"}},
        format="json",
    )

    assert Review.objects.get(pk=review["id"]).status == "superseded"


def test_new_request_supersedes_old(desk):
    first = desk.request().json()["review"]

    second = desk.request().json()["review"]

    assert Review.objects.get(pk=first["id"]).status == "superseded"
    assert Review.objects.get(pk=second["id"]).status == "pending"


# Publishing at once.


def test_owner_publish_needs_hash(desk):
    response = desk.publish_now()

    assert response.status_code == 400
    assert "hash" in response.json()["fields"]


def test_owner_publish_wrong_hash(desk):
    response = desk.publish_now(hash="v1:" + "0" * 64)

    assert response.status_code == 409
    assert response.json()["error"] == "agents_config_changed"


def test_owner_publishes_at_once(desk):
    response = desk.publish_now(hash=desk.draft_hash())

    assert response.status_code == 200
    assert response.json()["published"] is True
    published = AppSnapshot.objects.get(app_id=desk.app_id, kind="published")
    assert published.approval.source == AgentsApproval.Source.PUBLISH


def test_publish_needs_valid_team(desk, world):
    other_team = Team.objects.get(workspace=world.other_workspace, is_default=True)

    empty = desk.request(teamIds=[])
    foreign = desk.request(teamIds=[str(other_team.pk)])

    assert empty.json()["error"] == "invalid_team_selection"
    assert foreign.json()["error"] == "invalid_team_selection"


def test_external_mode_needs_setup(desk, world, settings):
    settings.SECOND_AUTH_MODE = "external"
    # External mode refuses personal tokens of accounts idle at the provider.
    for persona in (world.owner, world.member):
        persona.user.last_provider_login_at = timezone.now()
        persona.user.save(update_fields=["last_provider_login_at"])
    world.member.put(
        f"{desk.url}/integration-setup",
        {
            "integrations": [
                {
                    "name": "Demo",
                    "domain": DOMAIN,
                    "secrets": [{"name": "API_KEY", "label": "API key"}],
                }
            ]
        },
    )

    response = desk.publish_now(hash=desk.draft_hash())

    assert response.status_code == 409
    assert response.json()["error"] == "integrations_setup_required"


# The published runtime.


def test_published_run_uses_approved_payload(desk, world, upstream):
    upstream.server.set_json("/v1", {"version": 1})
    upstream.server.set_json("/v2", {"version": 2})
    desk.publish_now(hash=desk.draft_hash())
    desk.write(document("/v2"))

    run = desk.run(world.member, "published").json()
    answer = desk.call(run)

    assert answer.status_code == 200, answer.content
    assert answer.json()["data"] == {"version": 1}
    assert [request.path for request in upstream.requests] == ["/v1"]


def test_unpublish_stops_published_runtime(desk, world, upstream):
    upstream.server.set_json("/v1", {"version": 1})
    desk.publish_now(hash=desk.draft_hash())
    run = desk.run(world.member, "published").json()

    response = world.owner.post(f"{desk.url}/unpublish")
    answer = desk.call(run)

    assert response.status_code == 200
    assert answer.status_code == 403
    assert answer.json()["error"] == "published_agents_config_missing_tool"
    assert upstream.requests == []
    assert desk.run(world.member, "published").json()["error"] == "app_not_published"
    assert len(events("app.unpublished")) == 1


def test_member_cannot_unpublish(desk, world):
    desk.publish_now(hash=desk.draft_hash())

    response = world.member.post(f"{desk.url}/unpublish")

    assert response.status_code == 403
    assert desk.app().publish_status == "published"


# Apps.


def test_app_list_for_member(desk, world):
    world.owner.post(f"{world.base}/apps", {"name": "Owner only"})

    names = [app["name"] for app in world.member.get(f"{world.base}/apps").json()]

    assert names == ["Lookup"]


def test_app_list_for_owner(desk, world):
    world.owner.post(f"{world.base}/apps", {"name": "Owner only"})

    names = {app["name"] for app in world.owner.get(f"{world.base}/apps").json()}

    assert names == {"Lookup", "Owner only"}


def test_creator_renames_app(desk, world):
    response = world.member.patch(desk.url, {"name": "Renamed"})

    assert response.status_code == 200
    assert desk.app().name == "Renamed"


def test_collaborator_cannot_delete_app(desk, world):
    owned = world.owner.post(f"{world.base}/apps", {"name": "Owner only"}).json()
    world.owner.put(
        f"{world.base}/apps/{owned['id']}/collaborators",
        {"userIds": [str(world.member.user.pk)]},
    )

    response = world.member.client.delete(f"{world.base}/apps/{owned['id']}")

    assert response.status_code == 403
    assert App.objects.filter(pk=owned["id"]).exists()


def test_delete_app_is_audited(desk, world):
    response = world.member.client.delete(desk.url)

    assert response.status_code == 204
    assert App.objects.filter(pk=desk.app_id).exists() is False
    assert len(events("app.deleted")) == 1


def test_delete_published_app(desk, world):
    desk.publish_now(hash=desk.draft_hash())

    response = world.owner.client.delete(desk.url)

    assert response.status_code == 204
    assert AgentsApproval.objects.filter(app_id=desk.app_id).exists() is False


def test_team_change_is_audited(desk, world):
    team = world.owner.post(f"{world.base}/teams", {"name": "Platform"}).json()

    response = world.owner.patch(desk.url, {"teamIds": [team["id"]]})

    assert response.json()["teamIds"] == [team["id"]]
    assert len(events("app.teams_changed")) == 1


def test_draft_team_change_keeps_visibility(desk, world):
    team = world.owner.post(f"{world.base}/teams", {"name": "Platform"}).json()

    world.owner.patch(desk.url, {"teamIds": [team["id"]]})

    assert events("app.visibility_changed") == []


def test_first_publish_changes_visibility(desk):
    desk.publish_now(hash=desk.draft_hash())

    [event] = events("app.visibility_changed")
    assert event.metadata == {"audienceBefore": "builders", "audience": "teams"}
    assert event.related_ids == {"teamIdsBefore": [], "teamIds": [desk.general]}


def test_republish_same_teams_keeps_visibility(desk):
    desk.publish_now(hash=desk.draft_hash())

    desk.publish_now(hash=desk.draft_hash())

    assert len(events("app.visibility_changed")) == 1


def test_published_team_change_changes_visibility(desk, world):
    desk.publish_now(hash=desk.draft_hash())
    team = world.owner.post(f"{world.base}/teams", {"name": "Platform"}).json()

    world.owner.patch(desk.url, {"teamIds": [team["id"]]})

    event = events("app.visibility_changed")[-1]
    assert event.metadata == {"audienceBefore": "teams", "audience": "teams"}
    assert event.related_ids == {
        "teamIdsBefore": [desk.general],
        "teamIds": [team["id"]],
    }


def test_unpublish_changes_visibility(desk, world):
    desk.publish_now(hash=desk.draft_hash())

    world.owner.post(f"{desk.url}/unpublish")

    event = events("app.visibility_changed")[-1]
    assert event.metadata == {"audienceBefore": "teams", "audience": "builders"}
    assert event.related_ids == {"teamIdsBefore": [desk.general], "teamIds": []}


def test_published_app_visible_to_team(desk, world):
    world.owner.post(f"{world.base}/apps", {"name": "Owner app"})
    owned = App.objects.get(name="Owner app")
    other = Desk.__new__(Desk)
    other.world, other.general = world, desk.general
    other.app_id, other.url = str(owned.pk), f"{world.base}/apps/{owned.pk}"
    world.owner.patch(f"{other.url}/agents", copy.deepcopy(document()))
    other.publish_now(hash=other.draft_hash())

    body = world.member.get(other.url).json()

    assert body["published"]["approval"]["state"] == "approved"
    assert body["draft"] is None
