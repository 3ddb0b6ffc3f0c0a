"""Helper endpoints under /test/ that let tests inspect and steer the provider.

Each needs `Authorization: Bearer <OAUTH_PROVIDER_TEST_TOKEN>`. Without that
variable set they all return 404. Token values never leave the provider: a refresh
token is named by its id and its SHA-256 digest.
"""

import hmac
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)

from tests.oauth_provider import stats as request_stats

logger = logging.getLogger(__name__)


def _authorized(request: HttpRequest) -> JsonResponse | None:
    """Return an error response unless the request carries the test API token."""
    expected = settings.TEST_API_TOKEN
    if not expected:
        logger.warning(
            "test endpoint %s called, but no test token is set", request.path
        )
        return JsonResponse({"error": "not_found"}, status=404)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented, expected):
        logger.warning("test endpoint %s called without the test token", request.path)
        return JsonResponse({"error": "unauthorized"}, status=401)
    return None


def _json_body(request: HttpRequest) -> dict:
    """Return the JSON object in the body, or an empty one."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _last_refresh_token(username: str, client_id: str) -> dict | None:
    """Describe the newest refresh token, optionally of one user and client."""
    tokens = get_refresh_token_model().objects.select_related("user", "application")
    if username:
        tokens = tokens.filter(user__username=username)
    if client_id:
        tokens = tokens.filter(application__client_id=client_id)
    token = tokens.order_by("-id").first()
    if token is None:
        return None
    return {
        "id": token.pk,
        # The toolkit keys every token by the SHA-256 hex digest of its value.
        "sha256": token.token_checksum,
        "revoked": token.revoked is not None,
        "username": token.user.get_username(),
        "client_id": token.application.client_id,
    }


@csrf_exempt
@require_GET
def stats(request: HttpRequest) -> JsonResponse:
    """Return request counts and the newest refresh token's id and digest.

    Optional query parameters `username` and `client_id` narrow the choice of
    that refresh token.
    """
    if denied := _authorized(request):
        return denied
    payload = request_stats.snapshot()
    payload["last_refresh_token"] = _last_refresh_token(
        request.GET.get("username", ""), request.GET.get("client_id", "")
    )
    return JsonResponse(payload)


@csrf_exempt
@require_POST
def expire(request: HttpRequest) -> JsonResponse:
    """Expire every access token of the user named in the JSON body now."""
    if denied := _authorized(request):
        return denied
    username = str(_json_body(request).get("username", ""))
    if not username:
        logger.warning("expire rejected: the JSON body has no username")
        return JsonResponse({"error": "username_required"}, status=400)
    past = timezone.now() - timedelta(seconds=1)
    tokens = get_access_token_model().objects.filter(user__username=username)
    count = tokens.filter(expires__gt=past).update(expires=past)
    return JsonResponse({"expired": count})


@csrf_exempt
@require_POST
def redirect_uri(request: HttpRequest) -> JsonResponse:
    """Register one more redirect URI for a client, or for every client.

    The JSON body has `redirect_uri` and an optional `client_id`.
    """
    if denied := _authorized(request):
        return denied
    body = _json_body(request)
    uri = str(body.get("redirect_uri", "")).strip()
    if not uri or any(character.isspace() for character in uri):
        logger.warning("redirect URI rejected: missing or contains spaces: %r", uri)
        return JsonResponse({"error": "redirect_uri_required"}, status=400)
    client_id = str(body.get("client_id") or "")
    applications = get_application_model().objects.all()
    if client_id:
        applications = applications.filter(client_id=client_id)

    registered = {}
    for application in applications:
        uris = application.redirect_uris.split()
        if uri not in uris:
            application.redirect_uris = " ".join([*uris, uri])
            application.save(update_fields=["redirect_uris"])
        registered[application.client_id] = application.redirect_uris.split()

    if not registered:
        logger.warning("redirect URI rejected: client %r not found", client_id)
        return JsonResponse({"error": "unknown_client"}, status=404)
    return JsonResponse({"redirect_uris": registered})


UNVERIFIED_GROUP = "email-unverified"


@csrf_exempt
@require_POST
def user(request: HttpRequest) -> JsonResponse:
    """Change one user: `groups` (names), `email`, `email_verified`, `is_active`.

    Group names become the `groups` claim. `email_verified: false` puts the user
    in the email-unverified group, which the claims validator reads.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    if denied := _authorized(request):
        return denied
    body = _json_body(request)
    account = get_user_model().objects.filter(username=body.get("username")).first()
    if account is None:
        return JsonResponse({"error": "user_not_found"}, status=404)
    names = set(account.groups.values_list("name", flat=True))
    if "groups" in body:
        names = {str(name) for name in body["groups"]} | (names & {UNVERIFIED_GROUP})
    if "email_verified" in body:
        names.discard(UNVERIFIED_GROUP)
        if not body["email_verified"]:
            names.add(UNVERIFIED_GROUP)
    account.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
    for field in ("email", "is_active"):
        if field in body:
            setattr(account, field, body[field])
    account.save()
    return JsonResponse({"username": account.get_username(), "groups": sorted(names)})
