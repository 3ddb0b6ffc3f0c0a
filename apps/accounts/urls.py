from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from apps.accounts.oidc_views import login_redirect


def login(request, *args, **kwargs):
    """Sign in locally, or at the identity provider in external mode."""
    if settings.SECOND_AUTH_MODE == "external":
        return login_redirect(request.GET.get("next", "/"))
    return auth_views.LoginView.as_view()(request, *args, **kwargs)


urlpatterns = [
    path("login/", login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
