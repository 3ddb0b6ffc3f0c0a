"""Read-only admin pages of runs and their tool calls, scoped like every page."""

from django.contrib import admin

from apps.execution.models import AgentRun, ToolCall
from apps.workspaces.admin_base import WorkspaceScopedAdmin


class ToolCallInline(admin.TabularInline):
    model = ToolCall
    extra = 0
    can_delete = False
    fields = (
        "tool_name",
        "state",
        "outcome",
        "mock",
        "mock_reason",
        "error_code",
        "http_status",
        "upstream_status",
        "upstream_host",
        "duration_ms",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return True


@admin.register(AgentRun)
class AgentRunAdmin(WorkspaceScopedAdmin):
    list_display = ("id", "app", "agent_id", "source_version", "status", "created_at")
    list_filter = ("status", "source_version")
    fields = (
        "workspace",
        "app",
        "agent_id",
        "source_version",
        "status",
        "runtime",
        "triggering_user",
        "approval_hash",
        "error_code",
        "error_detail",
        "result",
        "usage",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    inlines = (ToolCallInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("app", "workspace")

    def has_change_permission(self, request, obj=None) -> bool:
        return False
