"""URL configuration: the admin, local sign-in, the API and its internal routes."""

from django.contrib import admin
from django.urls import include, path

handler404 = "apps.core.errors.json_not_found"
handler500 = "apps.core.errors.json_server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("oidc/", include("apps.accounts.oidc_urls")),
    path("", include("apps.workspaces.invitation_page_urls")),
    path("api/", include("config.api_urls")),
]
