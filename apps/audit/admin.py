from auditlog.models import LogEntry
from django.contrib import admin

from apps.audit.models import AuditEvent
from apps.workspaces.admin_base import WorkspaceScopedAdmin

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
