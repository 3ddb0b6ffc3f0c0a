from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.admin.utils import unquote

from apps.audit.models import AuditEvent
from apps.audit.services import Actor, Source
from apps.audit.viewed import audit_viewed_note
from apps.workspaces.admin_base import WorkspaceScopedAdmin
from apps.workspaces.roles import GOVERNING_ROLES
from apps.workspaces.selectors import memberships_for_user, role_in

ADMIN_TRUST = "admin_session"

# django-auditlog's diffs show only inside workspace-scoped pages, never in a
# global list.
if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)


@admin.register(AuditEvent)
class AuditEventAdmin(WorkspaceScopedAdmin):
    """The workspace's audit log, read-only for its owners and admins.

    The scope filters on workspace membership, so global-chain events, whose
    workspace is null, never appear.
    """

    list_display = (
        "occurred_at",
        "event_name",
        "outcome",
        "actor_display",
        "target_type",
        "target_name",
    )
    list_filter = ("category", "outcome", "event_name")
    search_fields = ("summary", "target_name", "actor_display")
    # Without this, a filtered page also counts every row of the unfiltered log.
    show_full_result_count = False
    actions = None

    def has_change_permission(self, request, obj=None) -> bool:
        # The log is append-only: the change page shows every field read-only.
        return False

    def changelist_view(self, request, extra_context=None):
        """List the events, recording a read of each workspace the list covers."""
        # The admin site lets only active, signed-in users reach this view, and
        # one query gives each governed workspace with the user's role in it.
        memberships = memberships_for_user(user=request.user).filter(
            role__in=GOVERNING_ROLES
        )
        for membership in memberships:
            self._note_viewed(
                request, membership.workspace, membership.role, "admin_list"
            )
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show one event, recording a read of its workspace when it is in scope."""
        event = self.get_object(request, unquote(object_id))
        if event is not None and request.method == "GET":
            role = role_in(user=request.user, workspace=event.workspace)
            self._note_viewed(request, event.workspace, role or "", "admin_detail")
        return super().change_view(request, object_id, form_url, extra_context)

    def _note_viewed(self, request, workspace, role: str, view: str) -> None:
        audit_viewed_note(
            workspace=workspace,
            user=request.user,
            actor=Actor.for_user(request.user, role),
            source=Source.from_request(request, trust=ADMIN_TRUST),
            view=view,
        )
