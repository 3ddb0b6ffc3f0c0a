"""The Django admin site, scoped to the workspaces a user owns or administers.

Admin access belongs to an active account that is owner or admin of at least one
workspace; `is_staff` and `is_superuser` grant nothing by themselves.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm

from apps.accounts.sign_in_audit import login_failure_record
from apps.audit.services import Actor
from apps.workspaces.selectors import governed_workspaces


def has_admin_access(user) -> bool:
    return governed_workspaces(user=user).exists()


class WorkspaceAdminLoginForm(AdminAuthenticationForm):
    """Admit only accounts that own or administer a workspace."""

    def confirm_login_allowed(self, user) -> None:
        if not user.is_active or not has_admin_access(user):
            # The password was right, so no auth signal reports this refusal.
            login_failure_record(
                self.request,
                user=user,
                reason="no_admin_access",
                actor=Actor.for_user(user),
            )
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
        """Sign in locally, or at the identity provider in external mode.

        A signed-in user without admin access gets 403 instead of another trip
        to the provider, which would bring them straight back here.
        """
        from django.conf import settings
        from django.core.exceptions import PermissionDenied
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        from apps.accounts.oidc_views import login_redirect

        if settings.SECOND_AUTH_MODE != "external":
            return super().login(request, extra_context)
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(
                    reverse("admin:index", current_app=self.name)
                )
            raise PermissionDenied(
                "This account is not an owner or admin of any workspace, so it has "
                "no admin access."
            )
        return login_redirect(request.GET.get("next", "/admin/"))

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user and user.is_active and has_admin_access(user))
