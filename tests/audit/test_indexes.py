"""The audit log's read filters use their indexes on a large PostgreSQL table.

1,000,000 events in one workspace and a thousand in each of 100 others are
inserted by one INSERT ... SELECT over generate_series, then ANALYZEd. For the
first page of each filter the API offers, the plan of the ORM query must scan
the matching index and never scan the audit table sequentially.
`bench/audit.py` builds the same data with `audit_data_build`.
"""

import json
from dataclasses import dataclass

import pytest
from django.db import connection

from apps.audit.catalogue import EVENTS
from apps.audit.models import AuditChainHead, AuditEvent
from apps.audit.selectors import (
    ORDERING,
    AuditFilters,
    Position,
    after_position,
    audit_events_filter,
    audit_events_in,
)
from apps.audit.services import OUTCOMES
from apps.workspaces.models import Workspace
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BIG_ROWS = 1_000_000
SMALL_WORKSPACES = 100
SMALL_ROWS = 1_000
PAGE = 50
TABLE = AuditEvent._meta.db_table
# Each of these reads an index. The planner picks a bitmap scan when the rows
# that match are spread over many pages, which an actor's or a target's are, and
# may flip between it and an Index Scan from one ANALYZE sample to the next.
INDEX_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
# Distinct actors and targets per workspace: with a million events each actor
# has 100 in the big workspace and each target 10, as a busy user or a
# long-lived app would.
ACTORS = 10_000
TARGETS = 100_000
TARGET_TYPES = ("app", "team", "membership", "integration")
EVENT_NAMES = (
    "auth.login",
    "auth.login_failed",
    "access.denied",
    "member.added",
    "team.created",
    "api_token.created",
    "integration.requested",
    "oauth.connected",
    "oauth.token_refreshed",
    "app.created",
    "app.published",
    "tool.custom.denied",
    "audit.viewed",
)

# One statement fills every NOT NULL column. Row i of a workspace with n rows
# has sequence i and happens i/n of a year after the start, so each workspace's
# chain is in time order. Names, outcomes, actors and targets cycle at different
# periods, so they combine freely.
INSERT_EVENTS = f"""
INSERT INTO {TABLE} (
    id, workspace_id, occurred_at, event_name, category, severity, outcome,
    action, summary, actor_kind, actor_id, actor_display, actor_role,
    source_kind, source_trust, request_id, ip_hash, user_agent_hash,
    target_type, target_id, target_name, target_parent, changes, related_ids,
    metadata, retention, sequence, previous_hash, hash
)
SELECT
    gen_random_uuid(),
    w.id,
    timestamptz '2026-01-01 00:00:00+00'
        + interval '365 days' * (g.i::float8 / w.rows),
    (%(names)s::text[])[1 + g.i %% %(name_count)s],
    (%(categories)s::text[])[1 + g.i %% %(name_count)s],
    CASE WHEN g.i %% 97 = 0 THEN 'warning' ELSE 'info' END,
    (%(outcomes)s::text[])[1 + (g.i / 7) %% %(outcome_count)s],
    split_part((%(names)s::text[])[1 + g.i %% %(name_count)s], '.', 2),
    'Event ' || g.i,
    'user',
    'user-' || (g.i %% %(actors)s),
    'User ' || (g.i %% %(actors)s),
    'member',
    'web',
    'authenticated',
    substr(md5('request' || g.i), 1, 32),
    substr(md5('ip' || (g.i %% 500)), 1, 16),
    substr(md5('agent' || (g.i %% 40)), 1, 16),
    (%(target_types)s::text[])[1 + (g.i / 3) %% %(target_type_count)s],
    'target-' || (g.i %% %(targets)s),
    'Target ' || (g.i %% %(targets)s),
    '',
    '[]'::jsonb,
    '{{}}'::jsonb,
    jsonb_build_object('n', g.i),
    'standard',
    g.i,
    CASE WHEN g.i = 1 THEN '' ELSE md5(w.id::text || ':' || (g.i - 1)) END,
    md5(w.id::text || ':' || g.i)
FROM (
    SELECT id, CASE WHEN id = %(big)s THEN %(big_rows)s ELSE %(small_rows)s END
        AS rows
    FROM {Workspace._meta.db_table}
    WHERE id = ANY(%(workspaces)s)
) AS w
CROSS JOIN LATERAL generate_series(1, w.rows) AS g(i)
"""


@dataclass(frozen=True)
class AuditData:
    big: Workspace
    others: list[Workspace]


def audit_data_build(
    big_rows: int = BIG_ROWS,
    small_workspaces: int = SMALL_WORKSPACES,
    small_rows: int = SMALL_ROWS,
) -> AuditData:
    """Create the workspaces, insert their events and chain heads, then ANALYZE."""
    big = Workspace.objects.create(name="Audit big", slug="audit-big")
    others = Workspace.objects.bulk_create(
        Workspace(name=f"Audit {index}", slug=f"audit-{index}")
        for index in range(small_workspaces)
    )
    workspaces = [big, *others]
    parameters = {
        "names": list(EVENT_NAMES),
        "categories": [EVENTS[name] for name in EVENT_NAMES],
        "name_count": len(EVENT_NAMES),
        "outcomes": list(OUTCOMES),
        "outcome_count": len(OUTCOMES),
        "actors": ACTORS,
        "targets": TARGETS,
        "target_types": list(TARGET_TYPES),
        "target_type_count": len(TARGET_TYPES),
        "big": big.pk,
        "big_rows": big_rows,
        "small_rows": small_rows,
        "workspaces": [workspace.pk for workspace in workspaces],
    }
    with connection.cursor() as cursor:
        cursor.execute(INSERT_EVENTS, parameters)
        cursor.execute(f"ANALYZE {TABLE}")
    # Events recorded later, such as audit.exported, follow the inserted chain.
    AuditChainHead.objects.bulk_create(
        AuditChainHead(
            workspace=workspace,
            scope=str(workspace.pk),
            last_sequence=big_rows if workspace is big else small_rows,
        )
        for workspace in workspaces
    )
    return AuditData(big=big, others=others)


# The read API's filters, each with values that match part of the big workspace.
FILTERS = {
    "newest": AuditFilters(),
    "category": AuditFilters(category="members"),
    "event_name": AuditFilters(event_name="team.created"),
    "outcome": AuditFilters(outcome="denied"),
    "target": AuditFilters(target_type="app", target_id="target-17"),
    "actor": AuditFilters(actor_id="user-42"),
}


def first_pages(workspace) -> dict:
    """Return the read API's first-page query for each filter, newest first.

    Like `audit_events_page`, each reads one row more than a page.
    """
    events = audit_events_in(workspace=workspace)
    return {
        name: audit_events_filter(events, filters).order_by(*ORDERING)[: PAGE + 1]
        for name, filters in FILTERS.items()
    }


def index_named(*fields: str) -> str:
    for index in AuditEvent._meta.indexes:
        if tuple(index.fields) == fields:
            return index.name
    raise LookupError(f"AuditEvent has no index on {fields}")


EXPECTED_INDEX = {
    "newest": index_named("workspace", "-occurred_at"),
    "category": index_named("workspace", "category", "-occurred_at"),
    "event_name": index_named("workspace", "event_name", "-occurred_at"),
    "outcome": index_named("workspace", "outcome", "-occurred_at"),
    "target": index_named("workspace", "target_type", "target_id"),
    "actor": index_named("workspace", "actor_id"),
}


def table_scans(plan: dict) -> list[tuple[str, str]]:
    """Return (node type, index name) for every node of `plan` that reads the
    audit table or one of its indexes.

    A Bitmap Index Scan names its index but not the table, and the queries read
    no other table.
    """
    found = []
    if plan.get("Relation Name") == TABLE or "Index Name" in plan:
        found.append((plan["Node Type"], plan.get("Index Name", "")))
    for child in plan.get("Plans", ()):
        found.extend(table_scans(child))
    return found


def deep_page(workspace):
    """Return the newest-first page after the middle event of `workspace`."""
    middle = AuditEvent.objects.get(workspace=workspace, sequence=BIG_ROWS // 2)
    position = Position(middle.occurred_at, middle.sequence, middle.id)
    events = audit_events_in(workspace=workspace).filter(after_position(position))
    return events.order_by(*ORDERING)[: PAGE + 1]


def index_conditions(plan: dict) -> list[str]:
    """Return the index condition of every node of `plan` that has one."""
    found = [plan["Index Cond"]] if "Index Cond" in plan else []
    for child in plan.get("Plans", ()):
        found.extend(index_conditions(child))
    return found


def plan_of(query) -> dict:
    return json.loads(query.explain(format="json"))[0]["Plan"]


@pytest.fixture(scope="module")
def plans(django_db_setup, django_db_blocker) -> dict[str, dict]:
    """Build the data once, EXPLAIN each first page and one deep page, then
    remove the data."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            skip_or_fail("the index plans need DATABASE_URL pointing at PostgreSQL")
        data = audit_data_build()
        try:
            explained = {
                name: plan_of(query) for name, query in first_pages(data.big).items()
            }
            explained["deep"] = plan_of(deep_page(data.big))
            return explained
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {TABLE}, {AuditChainHead._meta.db_table}")
            Workspace.objects.filter(slug__startswith="audit-").delete()


@pytest.mark.parametrize("name", EXPECTED_INDEX)
def test_first_page_uses_index(plans, name):
    used = {index for node, index in table_scans(plans[name]) if node in INDEX_SCANS}
    assert EXPECTED_INDEX[name] in used


@pytest.mark.parametrize("name", EXPECTED_INDEX)
def test_first_page_no_seq_scan(plans, name):
    assert "Seq Scan" not in {node for node, _ in table_scans(plans[name])}


@pytest.mark.parametrize("name", EXPECTED_INDEX)
def test_first_page_reads_one_index(plans, name):
    scans = table_scans(plans[name])
    assert {index for _, index in scans if index} == {EXPECTED_INDEX[name]}


def test_deep_page_uses_newest_index(plans):
    scans = table_scans(plans["deep"])
    assert {index for _, index in scans if index} == {EXPECTED_INDEX["newest"]}


def test_deep_page_starts_at_cursor(plans):
    conditions = index_conditions(plans["deep"])
    assert any("occurred_at <=" in condition for condition in conditions)
