"""Authentication of `/api/internal/*`: the internal token or a run's own token."""

import hmac
from dataclasses import dataclass

from django.conf import settings
from rest_framework import authentication, exceptions

from apps.accounts.authentication import bearer_token
from apps.execution.models import AgentRun
from apps.execution.runs import run_find_by_token


class InternalTokenRequired(exceptions.NotAuthenticated):
    error_code = "identity_required"
    default_detail = (
        "Internal routes need `Authorization: Bearer <INTERNAL_API_TOKEN>` or the "
        "run's own token."
    )


class InvalidInternalToken(exceptions.AuthenticationFailed):
    error_code = "invalid_token"
    default_detail = "The bearer token is not the internal token or a known run token."


@dataclass(frozen=True)
class InternalCaller:
    """The caller of an internal route: the runtime with the internal token, or
    one run with its token."""

    kind: str  # "internal" or "run"
    run: AgentRun | None = None

    is_authenticated = True
    is_active = True
    pk = None

    @property
    def name(self) -> str:
        return "internal caller" if self.kind == "internal" else "agent runtime"


class InternalAuthentication(authentication.BaseAuthentication):
    """Accept the internal token (constant-time comparison) or a `run_` token."""

    # Routes that accept a run's own token besides the internal token.
    run_token_allowed = False

    def authenticate(self, request):
        token = bearer_token(request)
        if token is None:
            raise InternalTokenRequired()
        expected = settings.INTERNAL_API_TOKEN
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return (InternalCaller(kind="internal"), None)
        if self.run_token_allowed and token.startswith("run_"):
            run = run_find_by_token(token)
            if run is not None:
                return (InternalCaller(kind="run", run=run), None)
        raise InvalidInternalToken()

    def authenticate_header(self, request) -> str:
        return "Bearer"


class InternalOrRunAuthentication(InternalAuthentication):
    run_token_allowed = True
