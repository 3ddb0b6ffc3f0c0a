"""The audit log read routes: the event list, one event and the counts.

Each read is itself audited as `audit.viewed`, at most once a minute per user
and workspace, so that paging through the log does not flood it.
"""

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
from apps.audit.viewed import audit_viewed_note
from apps.core.errors import QUERY_INVALID, ValidationFailed, validated_query
from apps.workspaces.api.guard import WorkspaceAPIView

AUDIT_READ_DENIED = (
    "audit:read",
    "audit_logs_forbidden",
    "Your role cannot read the audit log.",
)


class AuditReadView(WorkspaceAPIView):
    """A route that reads the workspace's audit log."""

    permissions = {"GET": AUDIT_READ_DENIED}
    view_name = ""

    def note_viewed(self) -> None:
        audit_viewed_note(
            workspace=self.workspace,
            user=self.request.user,
            actor=self.actor,
            source=self.audit_source,
            view=self.view_name,
        )


class AuditEventCollectionView(AuditReadView):
    """`GET` lists the workspace's events, newest first, one page at a time."""

    view_name = "list"

    def get(self, request, workspace_id):
        data = validated_query(AuditListQuery(data=request.query_params))
        try:
            page = audit_events_page(
                workspace=self.workspace,
                filters=filters_from(data),
                cursor=data.get("cursor", ""),
                limit=clamp_limit(data.get("limit")),
            )
        except InvalidCursor:
            message = "The cursor is invalid. Pass the `next` value of the last page."
            raise ValidationFailed(
                {"cursor": [message]}, prefix=QUERY_INVALID
            ) from None
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
        data = validated_query(AuditRangeQuery(data=request.query_params))
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
