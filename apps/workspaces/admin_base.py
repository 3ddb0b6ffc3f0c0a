"""The admin base every model admin inherits: rows, choices and permissions are
scoped to the workspaces where the user is owner or admin.

Permission methods consult the workspace role only, never Django model
permissions or `is_superuser`. Another workspace's object URL returns 404.
"""

from auditlog.registry import auditlog
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.text import capfirst

from apps.audit.diffs import diffs_within
from apps.workspaces.models import Workspace
from apps.workspaces.selectors import governed_workspaces

DIFFS_PER_PAGE = 25


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """A model admin whose rows belong to a workspace through `workspace_path`."""

    workspace_path = "workspace"
    # The key under which the diffs of this object's parts name it (see
    # apps.audit.diffs); None lists every diff of the object's workspace.
    diff_scope: str | None = None

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

    def history_view(self, request, object_id, extra_context=None):
        """Show the object's django-auditlog diffs, and those of its parts.

        The object comes through the scoped queryset, so another workspace's id
        is a 404, and the diffs are filtered on the scope each diff stored.
        Models that django-auditlog does not track keep Django's history page.
        """
        if not auditlog.contains(self.model):
            return super().history_view(request, object_id, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if not self.has_view_permission(request, obj):
            raise PermissionDenied

        parts = {self.diff_scope: obj.pk} if self.diff_scope else {}
        diffs = (
            diffs_within(workspace_id=self._object_workspace_id(obj), **parts)
            .select_related("actor", "content_type")
            .order_by("-timestamp", "-pk")
        )
        page = self.get_paginator(request, diffs, DIFFS_PER_PAGE).get_page(
            request.GET.get(PAGE_VAR, 1)
        )

        context = {
            **self.admin_site.each_context(request),
            "title": f"Changes: {obj}",
            "module_name": str(capfirst(self.model._meta.verbose_name_plural)),
            "page_range": page.paginator.get_elided_page_range(page.number),
            "page_var": PAGE_VAR,
            "pagination_required": page.paginator.num_pages > 1,
            "object": obj,
            "opts": self.model._meta,
            "log_entries": page,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/diffs.html", context)

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
