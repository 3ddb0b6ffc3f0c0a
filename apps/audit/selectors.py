"""Reads of a workspace's audit log: filters, keyset pages, one event, counts.

Pages are ordered newest first by (occurred_at, sequence, id) and continue
after a cursor that contains the last row's values of those three columns. An
event written while a reader pages through the log sorts before the cursor,
so it never shifts the rows that follow.
"""

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, Q, QuerySet

from apps.audit.models import AuditEvent
from apps.core.errors import NotFound
from apps.workspaces.selectors import parse_id

ORDERING = ("-occurred_at", "-sequence", "-id")
# The largest value of the `sequence` column, a PositiveBigIntegerField. A
# cursor beyond it would fail in the database instead of as an invalid cursor.
MAX_SEQUENCE = 2**63 - 1


@dataclass(frozen=True)
class AuditFilters:
    """The optional filters of an audit log read. An empty value does not filter."""

    category: str = ""
    outcome: str = ""
    event_name: str = ""
    target_type: str = ""
    target_id: str = ""
    actor_id: str = ""
    app_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Position:
    """The sort key of the last row of a page."""

    occurred_at: datetime
    sequence: int
    id: uuid.UUID


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """A cursor that this module did not write."""


def audit_events_in(*, workspace) -> QuerySet[AuditEvent]:
    """Return the workspace's events, which never include global-chain events."""
    return AuditEvent.objects.filter(workspace=workspace)


def audit_events_filter(
    queryset: QuerySet[AuditEvent], filters: AuditFilters
) -> QuerySet[AuditEvent]:
    """Return `queryset` narrowed by every filter that has a value."""
    exact = {
        "category": filters.category,
        "outcome": filters.outcome,
        "event_name": filters.event_name,
        "target_type": filters.target_type,
        "target_id": filters.target_id,
        "actor_id": filters.actor_id,
    }
    queryset = queryset.filter(
        **{name: value for name, value in exact.items() if value}
    )
    if filters.app_id:
        # App events name the app as their target, and run events as their parent.
        queryset = queryset.filter(
            Q(target_id=filters.app_id) | Q(target_parent=filters.app_id)
        )
    if filters.since is not None:
        queryset = queryset.filter(occurred_at__gte=filters.since)
    if filters.until is not None:
        # Half-open like the export: `since` is included and `until` excluded.
        queryset = queryset.filter(occurred_at__lt=filters.until)
    return queryset


def encode_cursor(event: AuditEvent) -> str:
    """Return the opaque cursor that continues after `event`."""
    content = {
        "t": event.occurred_at.isoformat(),
        "s": event.sequence,
        "i": str(event.pk),
    }
    raw = json.dumps(content, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """Return the position in `cursor`, or raise InvalidCursor for any other text."""
    content = _cursor_content(cursor)
    occurred_at = content.get("t")
    sequence = content.get("s")
    event_id = content.get("i")

    # bool is a subclass of int, so `type` rather than isinstance keeps `true` out.
    if not (isinstance(occurred_at, str) and isinstance(event_id, str)):
        raise InvalidCursor(cursor)
    if type(sequence) is not int or not 0 <= sequence <= MAX_SEQUENCE:
        raise InvalidCursor(cursor)

    try:
        position = Position(
            datetime.fromisoformat(occurred_at), sequence, uuid.UUID(event_id)
        )
    except ValueError as error:
        raise InvalidCursor(cursor) from error
    if position.occurred_at.tzinfo is None:
        raise InvalidCursor(cursor)

    try:
        # A time at the calendar's edge can overflow when the database
        # converts it to UTC, so it is converted and checked here.
        position.occurred_at.astimezone(UTC)
    except OverflowError as error:
        raise InvalidCursor(cursor) from error
    return position


def _cursor_content(cursor: str) -> dict:
    """Return the JSON object encoded in `cursor`, or raise InvalidCursor."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        content = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as error:
        # Bad base64, bad UTF-8 and bad JSON all raise subclasses of ValueError.
        raise InvalidCursor(cursor) from error
    if not isinstance(content, dict):
        raise InvalidCursor(cursor)
    return content


def after_position(position: Position) -> Q:
    """Return the condition for rows that sort after `position`, newest first."""
    same_time = Q(occurred_at=position.occurred_at)
    same_sequence = same_time & Q(sequence=position.sequence)
    after = (
        Q(occurred_at__lt=position.occurred_at)
        | (same_time & Q(sequence__lt=position.sequence))
        | (same_sequence & Q(id__lt=position.id))
    )
    # The redundant bound is a plain range on occurred_at, so the planner starts
    # the index scan at the position instead of filtering every newer row.
    return Q(occurred_at__lte=position.occurred_at) & after


def audit_events_page(
    *, workspace, filters: AuditFilters, cursor: str = "", limit: int
) -> AuditPage:
    """Return up to `limit` events after `cursor`, newest first.

    One extra row is read to learn whether a next page exists.
    """
    queryset = audit_events_filter(audit_events_in(workspace=workspace), filters)
    if cursor:
        queryset = queryset.filter(after_position(decode_cursor(cursor)))
    rows = list(queryset.order_by(*ORDERING)[: limit + 1])
    events = rows[:limit]
    has_more = len(rows) > limit
    return AuditPage(events, encode_cursor(events[-1]) if has_more else None)


def audit_event_find(*, workspace, event_id) -> AuditEvent:
    """Return the workspace's event, or raise NotFound for any other id."""
    parsed = parse_id(event_id)
    if parsed is None:
        raise NotFound()
    event = audit_events_in(workspace=workspace).filter(pk=parsed).first()
    if event is None:
        raise NotFound()
    return event


def audit_events_summary(*, workspace, filters: AuditFilters) -> dict:
    """Count the matching events by category, by outcome and by both."""
    queryset = audit_events_filter(audit_events_in(workspace=workspace), filters)
    rows = (
        queryset.order_by()
        .values("category", "outcome")
        .annotate(count=Count("id"))
        .order_by("category", "outcome")
    )
    by_category: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    by_both: dict[str, dict[str, int]] = {}
    for row in rows:
        category, outcome, count = row["category"], row["outcome"], row["count"]
        by_category[category] = by_category.get(category, 0) + count
        by_outcome[outcome] = by_outcome.get(outcome, 0) + count
        by_both.setdefault(category, {})[outcome] = count
    return {
        "total": sum(by_category.values()),
        "byCategory": by_category,
        "byOutcome": by_outcome,
        "byCategoryOutcome": by_both,
    }
