"""The audit log read routes: the event list, one event and the counts.

Each read is itself audited as `audit.viewed`, at most once a minute per user
and workspace, so that paging through the log does not flood it.
"""

from django.core.cache import cache
from rest_framework.response import Response

from apps.audit.api.serializers import (
    AuditListQuery,
    AuditRangeQuery,
    audit_event_body,
    clamp_limit,
    filters_from,
)
from apps.audit.selectors import (
    InvalidCursor,
    audit_event_find,
    audit_events_page,
    audit_events_summary,
)
from apps.audit.services import AuditEntry, Target, audit_record
from apps.core.errors import ValidationFailed
from apps.workspaces.api.guard import WorkspaceAPIView

AUDIT_READ_DENIED = (
    "audit:read",
    "audit_logs_forbidden",
    "Your role cannot read the audit log.",
)
VIEWED_INTERVAL_SECONDS = 60


def viewed_key(workspace_id, user_id) -> str:
    return f"audit-viewed:{workspace_id}:{user_id}"


class AuditReadView(WorkspaceAPIView):
    """A route that reads the workspace's audit log."""

    permissions = {"GET": AUDIT_READ_DENIED}
    view_name = ""

    def note_viewed(self) -> None:
        """Write `audit.viewed` unless this user did so here within a minute.

        `cache.add` stores the key only when it is absent, so of two concurrent
        readers exactly one writes the event.
        NOTE: the local-memory cache keeps keys per process, so without Redis
        each process writes its own event a minute.
        """
        key = viewed_key(self.workspace.pk, self.request.user.pk)
        if not cache.add(key, 1, timeout=VIEWED_INTERVAL_SECONDS):
            return
        audit_record(
            workspace=self.workspace,
            entry=AuditEntry(
                event_name="audit.viewed",
                outcome="success",
                summary=f"{self.actor.display} read the audit log",
                actor=self.actor,
                source=self.audit_source,
                target=Target(type="audit_log", id=str(self.workspace.pk)),
                metadata={"view": self.view_name},
            ),
        )


class AuditEventCollectionView(AuditReadView):
    """`GET` lists the workspace's events, newest first, one page at a time."""

    view_name = "list"

    def get(self, request, workspace_id):
        query = AuditListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            page = audit_events_page(
                workspace=self.workspace,
                filters=filters_from(data),
                cursor=data.get("cursor", ""),
                limit=clamp_limit(data.get("limit")),
            )
        except InvalidCursor:
            message = "The cursor is invalid. Pass the `next` value of the last page."
            raise ValidationFailed({"cursor": [message]}) from None
        self.note_viewed()
        return Response(
            {
                "results": [audit_event_body(event) for event in page.events],
                "next": page.next_cursor,
            }
        )


class AuditEventSummaryView(AuditReadView):
    """`GET` counts the events of a time range by category and by outcome."""

    view_name = "summary"

    def get(self, request, workspace_id):
        query = AuditRangeQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        counts = audit_events_summary(
            workspace=self.workspace, filters=filters_from(data)
        )
        self.note_viewed()
        since, until = data.get("since"), data.get("until")
        return Response(
            {
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                **counts,
            }
        )


class AuditEventDetailView(AuditReadView):
    """`GET` returns one of the workspace's events."""

    view_name = "detail"

    def resolve_scope(self, **kwargs) -> None:
        self.event = audit_event_find(
            workspace=self.workspace, event_id=kwargs.get("event_id")
        )

    def get(self, request, workspace_id, event_id):
        self.note_viewed()
        return Response(audit_event_body(self.event))
