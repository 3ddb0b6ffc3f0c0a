"""The audit log read routes: filters, keyset pages, one event and the counts."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import DatabaseError

from apps.audit import viewed
from apps.audit.models import AuditEvent
from apps.audit.services import Actor, AuditEntry, Target, audit_record
from apps.core.errors import ValidationFailed

NOT_FOUND = b'{"error":"not_found","detail":"Not found."}'
EVENT_KEYS = {
    "id",
    "occurredAt",
    "eventName",
    "category",
    "severity",
    "outcome",
    "action",
    "summary",
    "actor",
    "source",
    "target",
    "changes",
    "relatedIds",
    "metadata",
    "retention",
    "sequence",
    "previousHash",
    "hash",
}
# Bounds every cursor walk, so a cursor that repeats cannot loop for ever.
MAX_PAGES = 50


@pytest.fixture(autouse=True)
def empty_cache():
    """Start each test without the `audit.viewed` keys of earlier tests."""
    cache.clear()
    yield
    cache.clear()


def record(workspace, event_name="tool.custom.executed", outcome="success", **extra):
    """Write one event to the workspace's chain and return it."""
    entry = AuditEntry(
        event_name=event_name,
        outcome=outcome,
        summary=extra.pop("summary", f"{event_name} {outcome}"),
        actor=extra.pop("actor", Actor.system()),
        **extra,
    )
    return audit_record(workspace=workspace, entry=entry)


def record_many(workspace, count: int) -> list[str]:
    return [str(record(workspace).pk) for _ in range(count)]


def move_to(event, when: datetime) -> None:
    AuditEvent.objects.filter(pk=event.pk).update(occurred_at=when)


def events_url(world, suffix: str = "") -> str:
    return f"{world.base}/audit-events{suffix}"


def listed(persona, url: str, **params) -> list[str]:
    response = persona.get(url, data=params)
    assert response.status_code == 200, response.content
    return [event["id"] for event in response.json()["results"]]


def walk(persona, url: str, limit: int, between=None) -> list[str]:
    """Follow `next` cursors to the end, calling `between` after the first page."""
    ids, params = [], {"limit": limit}
    for number in range(MAX_PAGES):
        body = persona.get(url, data=params).json()
        ids.extend(event["id"] for event in body["results"])
        if number == 0 and between is not None:
            between()
        if body["next"] is None:
            return ids
        params = {"limit": limit, "cursor": body["next"]}
    raise AssertionError("the cursor walk did not end")


def workspace_ids(workspace) -> set[str]:
    events = AuditEvent.objects.filter(workspace=workspace)
    return {str(pk) for pk in events.values_list("pk", flat=True)}


def rejected(persona, url: str, **params) -> dict:
    """Return the body of a request that must fail with 400."""
    response = persona.get(url, data=params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_request"
    return body


def cursor_of(content) -> str:
    """Return a cursor in the list's encoding that contains `content`."""
    raw = json.dumps(content).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


VALID_CURSOR = {
    "t": "2000-01-01T00:00:00+00:00",
    "s": 7,
    "i": "00000000-0000-4000-8000-000000000000",
}


# Filters.


def test_filter_by_category(world):
    match = record(world.workspace, "app.created")
    record(world.workspace, "review.requested")
    ids = listed(world.owner, events_url(world), category="apps")
    assert ids == [str(match.pk)]


def test_filter_by_outcome(world):
    match = record(world.workspace, "tool.custom.failed", "failure")
    ids = listed(world.owner, events_url(world), outcome="failure")
    assert ids == [str(match.pk)]


def test_filter_by_event_name(world):
    match = record(world.workspace, "tool.custom.mocked")
    record(world.workspace, "tool.custom.executed")
    ids = listed(world.owner, events_url(world), eventName="tool.custom.mocked")
    assert ids == [str(match.pk)]


def test_filter_by_target(world):
    match = record(world.workspace, target=Target(type="app", id="app-1"))
    record(world.workspace, target=Target(type="app", id="app-2"))
    record(world.workspace, target=Target(type="agent_run", id="app-1"))
    params = {"targetType": "app", "targetId": "app-1"}
    assert listed(world.owner, events_url(world), **params) == [str(match.pk)]


def test_filter_by_target_type(world):
    first = record(world.workspace, target=Target(type="grant", id="g-1"))
    second = record(world.workspace, target=Target(type="grant", id="g-2"))
    ids = listed(world.owner, events_url(world), targetType="grant")
    assert ids == [str(second.pk), str(first.pk)]


def test_target_id_needs_type(world):
    response = world.owner.get(events_url(world), data={"targetId": "app-1"})
    assert "targetId" in response.json()["fields"]


def test_filter_by_actor(world):
    actor = Actor.for_user(world.admin.user, "admin")
    match = record(world.workspace, actor=actor)
    ids = listed(world.owner, events_url(world), actorId=str(world.admin.user.pk))
    assert ids == [str(match.pk)]


def test_filter_by_app(world):
    app_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    app_event = record(world.workspace, target=Target(type="app", id=app_id))
    run_event = record(
        world.workspace, target=Target(type="agent_run", id="run-1", parent=app_id)
    )
    record(world.workspace, target=Target(type="app", id=other_id))
    ids = listed(world.owner, events_url(world), appId=app_id)
    assert ids == [str(run_event.pk), str(app_event.pk)]


def test_app_id_any_case(world):
    app_id = str(uuid.uuid4())
    match = record(world.workspace, target=Target(type="app", id=app_id))
    ids = listed(world.owner, events_url(world), appId=app_id.upper())
    assert ids == [str(match.pk)]


def test_malformed_app_id_400(world):
    body = rejected(world.owner, events_url(world), appId="app-7")
    assert list(body["fields"]) == ["appId"]
    assert "'app-7'" in body["fields"]["appId"][0]
    assert "UUID" in body["fields"]["appId"][0]


def test_agent_actor_id_accepted(world):
    agent = Actor(kind="agent", id="triage-bot", display="agent triage-bot")
    match = record(world.workspace, actor=agent)
    ids = listed(world.owner, events_url(world), actorId="triage-bot")
    assert ids == [str(match.pk)]


@pytest.mark.parametrize(
    ("parameter", "value", "valid"),
    [
        ("category", "app", "apps"),
        ("outcome", "failed", "failure"),
        ("eventName", "app.create", "app.created"),
    ],
)
def test_unknown_filter_value_400(world, parameter, value, valid):
    body = rejected(world.owner, events_url(world), **{parameter: value})
    assert list(body["fields"]) == [parameter]
    message = body["fields"][parameter][0]
    assert f"{value!r} is not" in message
    listed_values = message.split("Use one of: ")[1].rstrip(".").split(", ")
    assert valid in listed_values


def test_unknown_name_suggests_closest(world):
    body = rejected(world.owner, events_url(world), eventName="tool.custom.executd")
    message = body["fields"]["eventName"][0]
    assert "Did you mean 'tool.custom.executed'?" in message


@pytest.mark.parametrize("suffix", ["", "/summary"])
def test_reversed_range_400(world, suffix):
    params = {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    body = rejected(world.owner, events_url(world, suffix), **params)
    message = body["fields"]["until"][0]
    assert "since 2026-02-01T00:00:00+00:00" in message
    assert "until 2026-01-01T00:00:00+00:00" in message


def test_empty_range_400(world):
    moment = "2026-01-01T00:00:00Z"
    body = rejected(world.owner, events_url(world), since=moment, until=moment)
    assert list(body["fields"]) == ["until"]


def test_filter_since(world):
    old, new = record(world.workspace), record(world.workspace)
    AuditEvent.objects.filter(workspace=world.workspace).exclude(pk=new.pk).update(
        occurred_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    move_to(old, datetime(2021, 1, 1, tzinfo=UTC))
    ids = listed(world.owner, events_url(world), since="2022-01-01T00:00:00Z")
    assert ids == [str(new.pk)]


def test_filter_until(world):
    old = record(world.workspace)
    move_to(old, datetime(2020, 6, 1, tzinfo=UTC))
    ids = listed(world.owner, events_url(world), until="2020-12-31T23:59:59+00:00")
    assert ids == [str(old.pk)]


def test_until_excludes_its_moment(world):
    event = record(world.workspace)
    move_to(event, datetime(2020, 6, 1, tzinfo=UTC))
    ids = listed(world.owner, events_url(world), until="2020-06-01T00:00:00Z")
    assert str(event.pk) not in ids


def test_since_includes_its_moment(world):
    event = record(world.workspace)
    move_to(event, datetime(2030, 6, 1, tzinfo=UTC))
    ids = listed(world.owner, events_url(world), since="2030-06-01T00:00:00Z")
    assert ids == [str(event.pk)]


@pytest.mark.parametrize("field", ["since", "until"])
def test_bad_time_is_400(world, field):
    response = world.owner.get(events_url(world), data={field: "yesterday"})
    assert response.status_code == 400


@pytest.mark.parametrize("field", ["since", "until"])
def test_bad_time_names_field(world, field):
    response = world.owner.get(events_url(world), data={field: "2024-13-01"})
    body = response.json()
    assert body["error"] == "invalid_request"
    assert list(body["fields"]) == [field]


def test_bad_cursor_names_field(world):
    response = world.owner.get(events_url(world), data={"cursor": "bm90LWpzb24"})
    assert list(response.json()["fields"]) == ["cursor"]


@pytest.mark.parametrize(
    "params", [{"outcome": "nope"}, {"cursor": "bm90LWpzb24"}, {"limit": "x"}]
)
def test_query_error_names_query(world, params):
    body = rejected(world.owner, events_url(world), **params)
    assert body["detail"].startswith("The query parameters are invalid: ")


def test_summary_query_error_names_query(world):
    body = rejected(world.owner, events_url(world, "/summary"), since="soon")
    assert body["detail"].startswith("The query parameters are invalid: since: ")


def test_body_error_keeps_wording():
    error = ValidationFailed({"name": ["Name is missing."]})
    assert error.code == "invalid_request"
    assert error.detail == "The request body is invalid: name: Name is missing."


def test_filters_stay_in_workspace(world):
    record(world.other_workspace, "tool.custom.denied", "denied")
    ids = listed(world.owner, events_url(world), eventName="tool.custom.denied")
    assert ids == []


# Order, limit and cursor.


def test_list_newest_first(world):
    first, second = record(world.workspace), record(world.workspace)
    ids = listed(world.owner, events_url(world), limit=2)
    assert ids == [str(second.pk), str(first.pk)]


def test_equal_times_order_by_sequence(world):
    first, second = record(world.workspace), record(world.workspace)
    same = datetime(2030, 1, 1, tzinfo=UTC)
    move_to(first, same)
    move_to(second, same)
    ids = listed(world.owner, events_url(world), limit=2)
    assert ids == [str(second.pk), str(first.pk)]


def test_event_body_keys(world):
    record(world.workspace)
    response = world.owner.get(events_url(world), data={"limit": 1})
    assert set(response.json()["results"][0]) == EVENT_KEYS


def test_event_body_target(world):
    record(world.workspace, target=Target("agent_run", "r-1", "Run", "app-1"))
    body = world.owner.get(events_url(world), data={"limit": 1}).json()
    target = body["results"][0]["target"]
    assert target == {
        "type": "agent_run",
        "id": "r-1",
        "name": "Run",
        "parent": "app-1",
    }


def test_limit_defaults_to_100(world):
    record_many(world.workspace, 120)
    assert len(listed(world.owner, events_url(world))) == 100


def test_limit_clamped_to_200(world):
    record_many(world.workspace, 220)
    assert len(listed(world.owner, events_url(world), limit=500)) == 200


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_below_1_is_400(world, limit):
    record_many(world.workspace, 3)
    body = rejected(world.owner, events_url(world), limit=limit)
    message = body["fields"]["limit"][0]
    assert message.startswith(f"{limit} is less than 1.")
    assert "from 1 to 200" in message


def test_limit_1_returns_one(world):
    record_many(world.workspace, 3)
    assert len(listed(world.owner, events_url(world), limit=1)) == 1


def test_limit_not_integer_400(world):
    body = rejected(world.owner, events_url(world), limit="ten")
    assert body["fields"]["limit"] == ["Pass a whole number from 1 to 200."]


def test_last_page_next_null(world):
    body = world.owner.get(events_url(world), data={"limit": 200}).json()
    assert body["next"] is None


def test_well_formed_cursor_accepted(world):
    assert listed(world.owner, events_url(world), cursor=cursor_of(VALID_CURSOR)) == []


@pytest.mark.parametrize("sequence", [1.5, True, "7", None, -1, 2**63])
def test_cursor_sequence_must_be_integer(world, sequence):
    cursor = cursor_of({**VALID_CURSOR, "s": sequence})
    body = rejected(world.owner, events_url(world), cursor=cursor)
    assert list(body["fields"]) == ["cursor"]


@pytest.mark.parametrize(
    "content",
    [
        [1, 2, 3],
        {**VALID_CURSOR, "i": 5},
        {**VALID_CURSOR, "t": 20260101},
        {**VALID_CURSOR, "t": "2000-01-01T00:00:00"},
    ],
)
def test_malformed_cursor_content_400(world, content):
    body = rejected(world.owner, events_url(world), cursor=cursor_of(content))
    assert list(body["fields"]) == ["cursor"]


def test_cursor_walk_each_once(world):
    record_many(world.workspace, 250)
    expected = workspace_ids(world.workspace)
    ids = walk(world.owner, events_url(world), limit=100)
    assert sorted(ids) == sorted(expected)


def test_cursor_walk_ignores_new_events(world):
    record_many(world.workspace, 250)
    expected = workspace_ids(world.workspace)
    ids = walk(
        world.owner,
        events_url(world),
        limit=100,
        between=lambda: record_many(world.workspace, 30),
    )
    assert sorted(ids) == sorted(expected)


def test_cursor_walk_equal_times(world):
    record_many(world.workspace, 250)
    # In the past, so the `audit.viewed` event of the first read sorts first.
    AuditEvent.objects.filter(workspace=world.workspace).update(
        occurred_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    expected = workspace_ids(world.workspace)
    ids = walk(world.owner, events_url(world), limit=70)
    assert sorted(ids) == sorted(expected)


# One event.


def test_detail_returns_event(world):
    event = record(world.workspace)
    response = world.owner.get(events_url(world, f"/{event.pk}"))
    assert response.json()["hash"] == event.hash


def test_detail_foreign_id_404(world):
    foreign = record(world.other_workspace)
    response = world.owner.get(events_url(world, f"/{foreign.pk}"))
    assert response.content == NOT_FOUND


def test_detail_global_event_404(world):
    event = audit_record(
        workspace=None,
        entry=AuditEntry("auth.login_failed", "failure", "failed", Actor.system()),
    )
    response = world.owner.get(events_url(world, f"/{event.pk}"))
    assert response.content == NOT_FOUND


@pytest.mark.parametrize("event_id", ["00000000-0000-4000-8000-000000000000", "x-1"])
def test_detail_missing_id_404(world, event_id):
    response = world.owner.get(events_url(world, f"/{event_id}"))
    assert response.content == NOT_FOUND


# Counts.


def test_summary_counts(world):
    AuditEvent.objects.filter(workspace=world.workspace).delete()
    record(world.workspace, "app.created")
    record(world.workspace, "app.deleted")
    record(world.workspace, "tool.custom.failed", "failure")
    body = world.owner.get(events_url(world, "/summary")).json()
    assert body["total"] == 3
    assert body["byCategory"] == {"apps": 2, "runs_and_tools": 1}
    assert body["byOutcome"] == {"success": 2, "failure": 1}
    assert body["byCategoryOutcome"] == {
        "apps": {"success": 2},
        "runs_and_tools": {"failure": 1},
    }


def test_summary_respects_range(world):
    old = record(world.workspace, "review.approved")
    move_to(old, datetime(2020, 1, 1, tzinfo=UTC))
    params = {"since": "2019-12-31T00:00:00Z", "until": "2020-01-02T00:00:00Z"}
    body = world.owner.get(events_url(world, "/summary"), data=params).json()
    assert body["byCategory"] == {"reviews": 1}


def test_summary_until_exclusive(world):
    edge = record(world.workspace, "review.approved")
    move_to(edge, datetime(2020, 1, 2, tzinfo=UTC))
    params = {"since": "2019-12-31T00:00:00Z", "until": "2020-01-02T00:00:00Z"}
    body = world.owner.get(events_url(world, "/summary"), data=params).json()
    assert body["total"] == 0


def test_summary_bad_since_400(world):
    response = world.owner.get(events_url(world, "/summary"), data={"since": "soon"})
    assert list(response.json()["fields"]) == ["since"]


# Who may read.


@pytest.mark.parametrize("suffix", ["", "/summary"])
def test_member_gets_403(world, suffix):
    response = world.member.get(events_url(world, suffix))
    assert response.status_code == 403
    assert response.json()["error"] == "audit_logs_forbidden"


def test_member_detail_gets_403(world):
    event = record(world.workspace)
    response = world.member.get(events_url(world, f"/{event.pk}"))
    assert response.json()["error"] == "audit_logs_forbidden"


def test_member_denial_audited(world):
    world.member.get(events_url(world))
    denial = AuditEvent.objects.get(event_name="access.denied")
    assert denial.metadata["code"] == "audit_logs_forbidden"


def test_admin_may_read(world):
    assert world.admin.get(events_url(world)).status_code == 200


def test_outsider_gets_404(world):
    assert world.outsider.get(events_url(world)).content == NOT_FOUND


# Reading is audited.


def viewed_count(world) -> int:
    return AuditEvent.objects.filter(
        workspace=world.workspace, event_name="audit.viewed"
    ).count()


def test_two_reads_one_viewed(world):
    world.owner.get(events_url(world))
    world.owner.get(events_url(world, "/summary"))
    assert viewed_count(world) == 1


def test_viewed_again_after_expiry(world):
    world.owner.get(events_url(world))
    cache.clear()
    world.owner.get(events_url(world))
    assert viewed_count(world) == 2


def test_viewed_per_user(world):
    world.owner.get(events_url(world))
    world.admin.get(events_url(world))
    assert viewed_count(world) == 2


def test_viewed_names_reader(world):
    world.admin.get(events_url(world))
    viewed = AuditEvent.objects.get(event_name="audit.viewed")
    assert viewed.actor_id == str(world.admin.user.pk)


def test_viewed_not_in_first_page(world):
    ids = listed(world.owner, events_url(world))
    viewed = AuditEvent.objects.get(event_name="audit.viewed")
    assert str(viewed.pk) not in ids


def test_viewed_uses_one_minute_key(world, monkeypatch):
    calls = []

    def spy(key, value, timeout):
        calls.append(timeout)
        return True

    monkeypatch.setattr(cache, "add", spy)
    world.owner.get(events_url(world))
    assert calls == [60]


def test_event_occurred_at_iso(world):
    record(world.workspace)
    body = world.owner.get(events_url(world), data={"limit": 1}).json()
    parsed = datetime.fromisoformat(body["results"][0]["occurredAt"])
    assert parsed.utcoffset() == timedelta(0)


def test_failed_viewed_write_retried(world, monkeypatch):
    real_record = viewed.audit_record
    failures = []

    def fail_once(**kwargs):
        if not failures:
            failures.append(kwargs["entry"].event_name)
            raise DatabaseError("the audit table rejected the insert")
        return real_record(**kwargs)

    monkeypatch.setattr(viewed, "audit_record", fail_once)

    first = world.owner.get(events_url(world))
    second = world.owner.get(events_url(world))

    assert failures == ["audit.viewed"]
    assert first.status_code == 500
    assert second.status_code == 200
    assert viewed_count(world) == 1


# Times at the calendar's edge overflow in UTC for some offsets.

EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("moment", EDGE_TIMES)
def test_edge_time_cursor_400(world, moment):
    cursor = cursor_of({"t": moment, "s": 1, "i": str(uuid.uuid4())})

    response = world.owner.get(events_url(world), data={"cursor": cursor})

    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]


@pytest.mark.parametrize("moment", EDGE_TIMES)
@pytest.mark.parametrize("field", ["since", "until"])
def test_edge_time_filter_400(world, moment, field):
    response = world.owner.get(events_url(world), data={field: moment})

    assert response.status_code == 400
    assert field in response.json()["fields"]
