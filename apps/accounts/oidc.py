"""External login with OpenID Connect, on mozilla-django-oidc.

The library runs the authorization code flow with PKCE, state and nonce. This
backend sends every request to the provider through the egress client, where
the operator-hosts waiver applies to OIDC endpoints only. It verifies the ID
token's issuer, audience, expiry and issue time on top of the library's
signature and nonce checks. It matches users by the (issuer, subject) pair,
never by email.
An email counts only when the provider marks it as verified.
"""

import json
import logging
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from apps.accounts.services import sign_in_record
from apps.audit.services import Source
from apps.execution.egress.client import EgressPolicy, OutboundRequest, send
from apps.execution.egress.errors import EgressError

logger = logging.getLogger(__name__)

POLICY = EgressPolicy(allowed_domain=None, operator_hosts_allowed=True, purpose="oidc")
CLOCK_LEEWAY_SECONDS = 30
TIMEOUT_SECONDS = 10


class LoginRejected(SuspiciousOperation):
    """A sign-in the product refuses; `reason` is a short code for the audit log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"sign-in rejected: {reason}")


def callback_url() -> str:
    """Return the redirect URI sent to the provider, built from SECOND_PUBLIC_URL."""
    return settings.SECOND_PUBLIC_URL.rstrip("/") + "/oidc/callback/"


def with_public_redirect_uri(url: str) -> str:
    """Return `url` with its `redirect_uri` query parameter set to callback_url().

    The library builds it from the request's host; the product builds every
    URL it hands to a provider from SECOND_PUBLIC_URL instead.
    """
    parts = urlsplit(url)
    query = [
        (name, callback_url() if name == "redirect_uri" else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def provider_logout_url(request) -> str:
    """Return where logout sends the browser: the provider's end-session page
    when configured, else the product's own start page."""
    if not settings.OIDC_OP_LOGOUT_ENDPOINT:
        return "/"
    query = urlencode(
        {
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "post_logout_redirect_uri": settings.SECOND_PUBLIC_URL.rstrip("/") + "/",
        }
    )
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{query}"


def _exchange(request: OutboundRequest):
    try:
        return send(request, policy=POLICY, deadline_seconds=TIMEOUT_SECONDS)
    except EgressError as error:
        logger.warning("oidc provider request failed: code=%s", error.code)
        raise LoginRejected("provider_unreachable") from error


def _json(response, reason: str) -> dict:
    try:
        data = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if response.status != 200 or not isinstance(data, dict):
        logger.info(
            "oidc provider request rejected: reason=%s status=%s",
            reason,
            response.status,
        )
        raise LoginRejected(reason)
    return data


def provider_userinfo(access_token: str) -> dict:
    """Return the provider's claims for a bearer token; raises LoginRejected."""
    response = _exchange(
        OutboundRequest(
            method="GET",
            url=settings.OIDC_OP_USER_ENDPOINT,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json",
            },
        )
    )
    claims = _json(response, "userinfo_failed")
    if not claims.get("sub"):
        raise LoginRejected("missing_subject")
    return claims


def audit_login(user, event_name: str, outcome: str, metadata: dict, source) -> None:
    sign_in_record(
        event_name=event_name,
        outcome=outcome,
        user=user,
        metadata=metadata,
        source=source,
    )


def login_source(request) -> Source:
    if request is None:
        return Source(kind="web", trust="identity_provider")
    return Source.from_request(request, trust="identity_provider")


def _failed(user, reason: str, source: Source) -> None:
    logger.info("oidc sign-in rejected: reason=%s", reason)
    audit_login(user, "auth.login_failed", "failure", {"reason": reason}, source)
    return None


class ProviderBackend(OIDCAuthenticationBackend):
    """Sign people in at the configured OpenID Connect provider."""

    def authenticate(self, request, **kwargs):
        source = login_source(request)
        self.rejection = None
        try:
            user = super().authenticate(request, **kwargs)
        except LoginRejected as error:
            return _failed(None, error.reason, source)
        except jwt.ExpiredSignatureError:
            return _failed(None, "token_expired", source)
        except (SuspiciousOperation, jwt.InvalidTokenError):
            return _failed(None, "invalid_token", source)
        if user is None and self.rejection:
            return _failed(None, self.rejection, source)
        if user is not None and not user.is_active:
            return _failed(user, "inactive", source)
        if user is not None:
            audit_login(user, "auth.login", "success", {"method": "oidc"}, source)
        return user

    def get_or_create_user(self, access_token, id_token, payload):
        # The library turns this method's errors into a logged None, so the
        # reason is kept for the audit event.
        try:
            return super().get_or_create_user(access_token, id_token, payload)
        except LoginRejected as error:
            self.rejection = error.reason
            raise

    # Requests to the provider.

    def get_token(self, payload):
        form = {**payload, "redirect_uri": callback_url()}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        response = _exchange(
            OutboundRequest(
                method="POST",
                url=self.OIDC_OP_TOKEN_ENDPOINT,
                headers=headers,
                body=urlencode(form).encode(),
            )
        )
        return _json(response, "token_request_failed")

    def retrieve_matching_jwk(self, token):
        response = _exchange(
            OutboundRequest(
                method="GET",
                url=self.OIDC_OP_JWKS_ENDPOINT,
                headers={"Accept": "application/json"},
            )
        )
        keys = _json(response, "jwks_unavailable").get("keys")
        header = jwt.get_unverified_header(token)
        for candidate in keys if isinstance(keys, list) else []:
            if not isinstance(candidate, dict):
                continue
            if candidate.get("kid") != header.get("kid"):
                continue
            if "alg" in candidate and candidate["alg"] != header.get("alg"):
                continue
            return jwt.PyJWK(candidate)
        raise LoginRejected("unknown_signing_key")

    def get_userinfo(self, access_token, id_token, payload):
        claims = provider_userinfo(access_token)
        # OpenID Connect Core 5.3.2: userinfo must describe the ID token's subject.
        if claims.get("sub") != payload.get("sub"):
            raise LoginRejected("userinfo_subject_mismatch")
        return {**claims, "iss": payload["iss"]}

    # Checks of the ID token and the claims.

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        check_registered_claims(payload)
        return payload

    def verify_claims(self, claims):
        if not claims.get("sub") or not claims.get("iss"):
            raise LoginRejected("missing_subject")
        profile = ("email", "preferred_username", "name")
        if not any(claims.get(name) for name in profile):
            raise LoginRejected("profile_required")
        return True

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            oidc_issuer=claims["iss"], oidc_subject=str(claims["sub"])
        )

    def create_user(self, claims):
        email = verified_email(claims)
        claimed = claims.get("email")
        users = self.UserModel.objects
        if not email and claimed and users.filter(email__iexact=claimed).exists():
            # An unverified email never reaches an account that already uses it.
            raise LoginRejected("email_unverified")
        if email and self.UserModel.objects.filter(email__iexact=email).exists():
            # Another account has this email: the identities stay apart, and an
            # owner links them by hand if they are one person.
            raise LoginRejected("email_in_use")
        try:
            with transaction.atomic():
                user = self.UserModel.objects.create_user(
                    username=self._free_username(claims),
                    email=email,
                    oidc_issuer=claims["iss"],
                    oidc_subject=str(claims["sub"]),
                    email_verified=bool(email),
                )
        except IntegrityError as error:
            raise LoginRejected("identity_conflict") from error
        user.set_unusable_password()
        user.save(update_fields=["password"])
        logger.info("oidc user created: user=%s", user.pk)
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        email = verified_email(claims)
        if email and email.lower() != (user.email or "").lower():
            others = self.UserModel.objects.filter(email__iexact=email)
            if others.exclude(pk=user.pk).exists():
                raise LoginRejected("email_in_use")
            user.email = email
        user.email_verified = bool(email)
        user.display_name = str(claims.get("name") or user.display_name)[:150]
        user.last_provider_login_at = timezone.now()
        user.save()
        sync_after_login(user, claims, getattr(self, "request", None))
        return user

    def _free_username(self, claims) -> str:
        base = str(claims.get("preferred_username") or claims.get("email") or "user")
        base = "".join(c for c in base if c.isalnum() or c in "@.+-_")[:100] or "user"
        candidate = base
        while self.UserModel.objects.filter(username=candidate).exists():
            candidate = f"{base}-{get_random_string(6).lower()}"
        return candidate


def verified_email(claims) -> str:
    """Return the email claim when `email_verified` is true, else ""."""
    if claims.get("email_verified") is True and isinstance(claims.get("email"), str):
        return claims["email"][:254]
    return ""


def check_registered_claims(payload: dict, *, now: float | None = None) -> None:
    """Refuse an ID token for another issuer or client, expired, or issued later."""
    now = time.time() if now is None else now
    if payload.get("iss") != settings.OIDC_OP_ISSUER:
        raise LoginRejected("wrong_issuer")
    audience = payload.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if settings.OIDC_RP_CLIENT_ID not in audiences:
        raise LoginRejected("wrong_audience")
    if len(audiences) > 1 and payload.get("azp") != settings.OIDC_RP_CLIENT_ID:
        raise LoginRejected("wrong_audience")
    expires = payload.get("exp")
    if not isinstance(expires, int | float) or expires + CLOCK_LEEWAY_SECONDS < now:
        raise LoginRejected("token_expired")
    issued = payload.get("iat")
    if not isinstance(issued, int | float) or issued - CLOCK_LEEWAY_SECONDS > now:
        raise LoginRejected("token_not_yet_valid")


def sync_after_login(user, claims, request) -> None:
    """Apply the role claim to memberships and accept invitations for the email."""
    from apps.accounts.claims_sync import (
        invitations_accept_at_login,
        memberships_sync_from_claims,
    )
    from apps.workspaces.services import user_sync_staff

    source = login_source(request)
    invitations_accept_at_login(user=user, source=source)
    memberships_sync_from_claims(user=user, claims=claims, source=source)
    user_sync_staff(user=user)
