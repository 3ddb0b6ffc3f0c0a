"""Two owners approve one review at the same moment, each on its own PostgreSQL
connection: exactly one approval is recorded, and the other gets review_stale."""

import threading

import pytest
from django.db import connection

from apps.agents.models import AgentsApproval
from apps.applications.models import Review
from apps.applications.reviews import review_approve
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError
from apps.workspaces.models import Team
from tests.conftest import skip_or_fail
from tests.execution.conftest import tool_document

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DOMAIN = "api.allowed.example"


@pytest.fixture
def review(world) -> Review:
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL for two concurrent connections")
    general = Team.objects.get(workspace=world.workspace, is_default=True)
    app = world.member.post(f"{world.base}/apps", {"name": "Race"}).json()
    url = f"{world.base}/apps/{app['id']}"
    world.member.patch(
        f"{url}/agents", tool_document(url=f"https://{DOMAIN}/v1", domain=DOMAIN)
    )
    body = world.member.post(
        f"{url}/publish", {"teamIds": [str(general.pk)], "mode": "request"}
    ).json()
    return Review.objects.get(pk=body["review"]["id"])


def approve_in_thread(review, user, role, start, outcomes) -> None:
    from django.db import connections

    try:
        start.wait(timeout=30)
        review_approve(
            review=Review.objects.get(pk=review.pk),
            user=user,
            role=role,
            actor=Actor.for_user(user, role),
            source=Source(),
        )
        outcomes.append("approved")
    except ApiError as error:
        outcomes.append(error.code)
    finally:
        connections.close_all()


def test_one_of_two_approvals_wins(world, review):
    start = threading.Barrier(2)
    outcomes: list[str] = []
    threads = [
        threading.Thread(
            target=approve_in_thread,
            args=(review, persona.user, role, start, outcomes),
        )
        for persona, role in ((world.owner, "owner"), (world.admin, "admin"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["approved", "review_stale"]
    assert AgentsApproval.objects.filter(source="review").count() == 1
    assert Review.objects.get(pk=review.pk).status == "approved"
