"""Routes of the test provider: the toolkit under /o/, a login page, /test/."""

from django.contrib.auth.views import LoginView
from django.urls import include, path
from oauth2_provider import urls as toolkit_urls

from tests.oauth_provider import views

# The toolkit's management pages and dynamic registration are left out: tests
# register their clients through serve.py.
toolkit_patterns = (
    toolkit_urls.base_urlpatterns
    + toolkit_urls.oidc_urlpatterns
    + toolkit_urls.metadata_urlpatterns
)

urlpatterns = [
    path("o/", include((toolkit_patterns, "oauth2_provider"))),
    path(
        "accounts/login/",
        LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("test/stats", views.stats, name="test-stats"),
    path("test/expire", views.expire, name="test-expire"),
    path("test/redirect-uri", views.redirect_uri, name="test-redirect-uri"),
    path("test/user", views.user, name="test-user"),
]
