"""The OIDC views and the session middleware, adapted to the product.

The library builds redirect URIs from the request; these subclasses replace
them with SECOND_PUBLIC_URL's. Sessions expire with the provider's: an expired
session gets `401 session_expired` on the API and the login page elsewhere.
"""

import logging
import time

from django.conf import settings
from django.contrib import auth
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from mozilla_django_oidc.middleware import SessionRefresh
from mozilla_django_oidc.views import (
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from apps.accounts.oidc import audit_login, login_source, with_public_redirect_uri
from apps.core.errors import json_response
from apps.core.middleware import is_api_path

logger = logging.getLogger(__name__)


def external_mode() -> bool:
    return settings.SECOND_AUTH_MODE == "external"


def login_redirect(next_path: str) -> HttpResponseRedirect:
    """Send the browser to the provider's sign-in, coming back to `next_path`."""
    query = urlencode({"next": next_path or "/admin/"})
    return HttpResponseRedirect(f"{reverse('oidc_authentication_init')}?{query}")


class AuthenticationRequestView(OIDCAuthenticationRequestView):
    def get(self, request):
        response = super().get(request)
        response["Location"] = with_public_redirect_uri(response["Location"])
        return response


class LogoutView(OIDCLogoutView):
    """POST only: end the session, audit it, and sign out at the provider."""

    http_method_names = ["post"]

    @property
    def redirect_url(self) -> str:
        # Django's LOGOUT_REDIRECT_URL defaults to None, which the library
        # cannot resolve; without a provider logout the browser goes home.
        return settings.LOGOUT_REDIRECT_URL or "/"

    def post(self, request):
        user = request.user if request.user.is_authenticated else None
        if user is not None:
            audit_login(user, "auth.logout", "success", {}, login_source(request))
        return super().post(request)


def session_expired(request) -> bool:
    if not external_mode() or not request.user.is_authenticated:
        return False
    if "oidc_id_token_expiration" not in request.session:
        return False
    return request.session["oidc_id_token_expiration"] <= time.time()


class SessionLifetimeMiddleware(SessionRefresh):
    """Renew provider sessions before they lapse, and refuse expired ones."""

    def process_request(self, request):
        if not external_mode():
            return None
        if session_expired(request) and (
            is_api_path(request.path) or request.method != "GET"
        ):
            logger.info("session expired: user=%s", request.user.pk)
            if is_api_path(request.path):
                return json_response(
                    {
                        "error": "session_expired",
                        "detail": "Your sign-in expired; sign in again.",
                    },
                    status=401,
                )
            auth.logout(request)
            return login_redirect(request.get_full_path())
        response = super().process_request(request)
        if response is not None and response.has_header("Location"):
            response["Location"] = with_public_redirect_uri(response["Location"])
        return response
