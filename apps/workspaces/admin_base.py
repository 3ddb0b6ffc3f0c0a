"""The admin base every model admin inherits: rows, choices and permissions are
scoped to the workspaces where the user is owner or admin.

Permission methods consult the workspace role only, never Django model
permissions or `is_superuser`. Another workspace's object URL returns 404.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404

from apps.workspaces.models import Workspace
from apps.workspaces.selectors import governed_workspaces


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """A model admin whose rows belong to a workspace through `workspace_path`."""

    workspace_path = "workspace"

    def governed(self, request) -> QuerySet[Workspace]:
        return governed_workspaces(user=request.user)

    def get_queryset(self, request):
        scoped = {f"{self.workspace_path}__in": self.governed(request)}
        return super().get_queryset(request).filter(**scoped).distinct()

    def _object_workspace_id(self, obj):
        value = obj
        for part in self.workspace_path.split("__"):
            value = getattr(value, part)
        return value.pk

    def _governs(self, request, obj=None) -> bool:
        governed = self.governed(request)
        if obj is None:
            return governed.exists()
        return governed.filter(pk=self._object_workspace_id(obj)).exists()

    def has_module_permission(self, request) -> bool:
        return self._governs(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._governs(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._governs(request, obj)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Not found.")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Workspace:
            kwargs["queryset"] = self.governed(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "workspace"):
            kwargs["queryset"] = related.objects.filter(
                workspace__in=self.governed(request)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)
