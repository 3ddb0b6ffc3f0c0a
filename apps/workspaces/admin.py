"""The workspace's admin page: its members and teams, read-only.

Accounts appear only here, as members of a workspace the viewer governs. Roles
and teams change through the API, whose services apply the member rules and
write the audit events.
"""

from django.contrib import admin

from apps.workspaces.admin_base import WorkspaceScopedAdmin
from apps.workspaces.models import Membership, Team, Workspace


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return True


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = ("member", "email", "role", "source", "created_at")
    readonly_fields = fields
    verbose_name = "member"

    @admin.display(description="member")
    def member(self, obj: Membership) -> str:
        return obj.user.name

    @admin.display(description="email")
    def email(self, obj: Membership) -> str:
        return obj.user.email

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class TeamInline(ReadOnlyInline):
    model = Team
    fields = ("name", "is_default", "created_at")
    readonly_fields = fields


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_path = "self"
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    fields = ("name", "slug", "created_at")
    readonly_fields = fields
    inlines = (MembershipInline, TeamInline)

    def get_queryset(self, request):
        base = admin.ModelAdmin.get_queryset(self, request)
        return base.filter(pk__in=self.governed(request))

    def _object_workspace_id(self, obj):
        return obj.pk

    def has_change_permission(self, request, obj=None) -> bool:
        return False
