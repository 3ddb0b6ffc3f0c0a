from django.contrib.admin.apps import AdminConfig


class SecondAdminConfig(AdminConfig):
    """Django admin with the workspace-scoped site as `admin.site`."""

    default_site = "apps.workspaces.admin_site.SecondAdminSite"
