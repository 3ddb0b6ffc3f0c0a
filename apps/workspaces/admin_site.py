"""The Django admin site, scoped to the workspaces a user owns or administers.

Admin access belongs to an active account that is owner or admin of at least one
workspace; `is_staff` and `is_superuser` grant nothing by themselves.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm

from apps.workspaces.selectors import governed_workspaces


def has_admin_access(user) -> bool:
    return governed_workspaces(user=user).exists()


class WorkspaceAdminLoginForm(AdminAuthenticationForm):
    """Admit only accounts that own or administer a workspace."""

    def confirm_login_allowed(self, user) -> None:
        if not user.is_active or not has_admin_access(user):
            raise forms.ValidationError(
                "This account is not an owner or admin of any workspace, so it has "
                "no admin access. Sign in with such an account.",
                code="invalid_login",
            )


class SecondAdminSite(admin.AdminSite):
    site_header = "Second administration"
    site_title = "Second"
    index_title = "Governance"
    login_form = WorkspaceAdminLoginForm

    def login(self, request, extra_context=None):
        from django.conf import settings

        from apps.accounts.oidc_views import login_redirect

        if settings.SECOND_AUTH_MODE == "external":
            return login_redirect(request.GET.get("next", "/admin/"))
        return super().login(request, extra_context)

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user and user.is_active and has_admin_access(user))
