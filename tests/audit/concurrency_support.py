"""What the audit tests of concurrent connections share: a PostgreSQL check and
a writer of one plain event.

Row locks and server-side cursors need PostgreSQL, because SQLite locks the
whole database file.
"""

import pytest
from django.db import connection

from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from tests.conftest import skip_or_fail


@pytest.fixture
def postgres() -> None:
    """Skip the test on SQLite, or fail it under SECOND_TEST_STRICT=1."""
    if connection.vendor != "postgresql":
        skip_or_fail("this audit test needs PostgreSQL (set DATABASE_URL)")


def record_team_event(workspace, team_id: str = "probe"):
    """Record a `team.created` event for `team_id` in the workspace's chain."""
    return audit_record(
        workspace=workspace,
        entry=AuditEntry(
            event_name="team.created",
            outcome="success",
            summary=f"Team {team_id} was created.",
            actor=Actor.system(),
            source=Source(kind="worker", trust="server"),
            target=Target(type="team", id=team_id),
        ),
    )
