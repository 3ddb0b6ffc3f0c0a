"""A tool call whose audit event the database rejects fails closed.

A PostgreSQL trigger rejects every `tool.custom.*` insert into the audit table,
as a full disk or a revoked grant would. The call is sent, so the response is a
non-retryable `audit_write_failed` that withholds the upstream's data, and the
rejected insert leaves the workspace's chain intact.
"""

from collections.abc import Iterator

import pytest
from django.db import connection

from apps.audit.chain import chain_verify
from apps.audit.models import AuditEvent
from tests.execution.conftest import tool_document

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres"),
]

DOMAIN = "api.allowed.example"
UPSTREAM_MARKER = "upstream-payload-3b9e"
TABLE = AuditEvent._meta.db_table

CREATE_TRIGGER = f"""
CREATE FUNCTION reject_tool_events() RETURNS trigger AS $$
BEGIN
    IF NEW.event_name LIKE 'tool.custom.%' THEN
        RAISE EXCEPTION 'the audit table rejects tool events in this test';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER reject_tool_events BEFORE INSERT ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION reject_tool_events();
"""
DROP_TRIGGER = f"""
DROP TRIGGER IF EXISTS reject_tool_events ON {TABLE};
DROP FUNCTION IF EXISTS reject_tool_events();
"""


@pytest.fixture
def rejecting_audit_table() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TRIGGER)
    yield
    with connection.cursor() as cursor:
        cursor.execute(DROP_TRIGGER)


@pytest.fixture
def rejected_call(harness, upstream, rejecting_audit_table):
    upstream.server.set_json("/data", {"value": UPSTREAM_MARKER})
    tool = harness(tool_document(url=f"https://{DOMAIN}/data", domain=DOMAIN))
    response = tool.call()
    return tool, response


def test_rejected_audit_fails_call(rejected_call):
    _tool, response = rejected_call

    assert response.status_code == 500
    assert response.json()["error"] == "audit_write_failed"


def test_rejected_audit_not_retryable(rejected_call):
    _tool, response = rejected_call

    assert response.json()["retryable"] is False


def test_rejected_audit_withholds_data(rejected_call, upstream):
    _tool, response = rejected_call

    assert len(upstream.requests) == 1
    assert "data" not in response.json()
    assert UPSTREAM_MARKER not in response.content.decode()


def test_rejected_audit_stores_no_event(rejected_call):
    tool, _response = rejected_call
    events = AuditEvent.objects.filter(workspace=tool.app.workspace)

    assert not events.filter(event_name__startswith="tool.custom.").exists()


def test_rejected_audit_keeps_chain(rejected_call):
    tool, _response = rejected_call

    report = chain_verify(workspace_id_or_none=tool.app.workspace_id)

    assert report.intact, report.describe()
