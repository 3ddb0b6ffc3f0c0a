"""Routes of the OIDC login: start, callback and logout (POST only)."""

from django.urls import path
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView

from apps.accounts.oidc_views import AuthenticationRequestView, LogoutView

urlpatterns = [
    path(
        "authenticate/",
        AuthenticationRequestView.as_view(),
        name="oidc_authentication_init",
    ),
    path(
        "callback/",
        OIDCAuthenticationCallbackView.as_view(),
        name="oidc_authentication_callback",
    ),
    path("logout/", LogoutView.as_view(), name="oidc_logout"),
]
