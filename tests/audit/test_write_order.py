"""Events sort newest first in the order their chain links them, under contention.

The read API pages newest first by time, and a reader that polls for new events
stops at the newest event it has already seen. So an event committed later must
never carry an earlier time than one committed before it, or it would land
behind such a reader's position and never be read. These tests make a writer
wait for the chain head lock while another event is written, which needs
PostgreSQL row locks.
"""

import threading
import time

import pytest
from django.db import connections, transaction

from apps.audit.models import AuditChainHead
from apps.audit.selectors import (
    ORDERING,
    AuditFilters,
    audit_events_in,
    audit_events_page,
)
from tests.audit.concurrency_support import record_team_event

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres"),
]

# The hang guard for waiting on the blocked writer: 200 checks 50 ms apart.
WAIT_CHECKS = 200
WAIT_INTERVAL_SECONDS = 0.05


def lock_waiters() -> int:
    """Return how many other backends of this database wait for a lock."""
    with connections["default"].cursor() as cursor:
        # Inside a transaction, PostgreSQL keeps the first statistics snapshot
        # it read, so each poll drops it first.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


class BlockedWriter:
    """A thread that records one event while the test has the chain head locked."""

    def __init__(self, workspace) -> None:
        self.workspace = workspace
        self.thread = threading.Thread(target=self._write)

    def _write(self) -> None:
        try:
            record_team_event(self.workspace, "late")
        finally:
            connections.close_all()

    def start_and_wait_until_blocked(self) -> None:
        self.thread.start()
        for _ in range(WAIT_CHECKS):
            if lock_waiters() > 0:
                return
            time.sleep(WAIT_INTERVAL_SECONDS)
        pytest.fail("the second writer never waited for the chain head lock")

    def join(self) -> None:
        self.thread.join(timeout=30)


def write_while_another_waits(workspace) -> None:
    """Record `early` while a second writer waits, then let the second finish."""
    writer = BlockedWriter(workspace)
    with transaction.atomic():
        AuditChainHead.objects.select_for_update().get(scope=str(workspace.pk))
        writer.start_and_wait_until_blocked()
        record_team_event(workspace, "early")
    writer.join()


@pytest.fixture
def contended(world):
    record_team_event(world.workspace, "first")
    write_while_another_waits(world.workspace)
    return world.workspace


def test_time_order_matches_sequence(contended):
    events = audit_events_in(workspace=contended).order_by(*ORDERING)
    sequences = [event.sequence for event in events]

    assert sequences == sorted(sequences, reverse=True)


def test_waiting_writer_sorts_newest(contended):
    [newest] = audit_events_in(workspace=contended).order_by(*ORDERING)[:1]

    assert newest.target_id == "late"


def test_poller_sees_late_event(world):
    record_team_event(world.workspace, "first")
    seen = audit_events_page(workspace=world.workspace, filters=AuditFilters(), limit=1)

    write_while_another_waits(world.workspace)
    page = audit_events_page(workspace=world.workspace, filters=AuditFilters(), limit=3)
    newer = [event.target_id for event in page.events]

    assert newer[: newer.index(seen.events[0].target_id)] == ["late", "early"]
