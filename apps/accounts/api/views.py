"""Routes of `/api/me/tokens`: the caller's own personal API tokens."""

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import api_token_find_for_user, api_tokens_for_user
from apps.accounts.services import api_token_create, api_token_revoke
from apps.audit.services import Source
from apps.core.errors import NotFound


class TokenCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, default="API token")
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)  # noqa: N815


def _isoformat(value) -> str | None:
    return value.isoformat() if value else None


def token_body(api_token) -> dict:
    """Describe a token by its id and prefix, never by the token or its hash."""
    return {
        "id": str(api_token.pk),
        "name": api_token.name,
        "prefix": f"pat_{api_token.prefix}",
        "createdAt": api_token.created_at.isoformat(),
        "lastUsedAt": _isoformat(api_token.last_used_at),
        "expiresAt": _isoformat(api_token.expires_at),
        "revokedAt": _isoformat(api_token.revoked_at),
    }


class MyTokensView(APIView):
    """`GET /api/me/tokens` lists the caller's tokens.

    `POST` creates one and returns the token, which is shown only this once.
    """

    def get(self, request):
        tokens = api_tokens_for_user(user=request.user)
        return Response([token_body(api_token) for api_token in tokens])

    def post(self, request):
        data = TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        api_token, token = api_token_create(
            user=request.user,
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expiresAt"),
            source=Source.from_request(request),
        )
        return Response(
            {**token_body(api_token), "token": token}, status=status.HTTP_201_CREATED
        )


class MyTokenDetailView(APIView):
    """`DELETE /api/me/tokens/{id}` revokes one of the caller's tokens.

    Another user's token is 404, exactly as a missing id.
    """

    def delete(self, request, token_id):
        api_token = api_token_find_for_user(user=request.user, token_id=token_id)
        if api_token is None:
            raise NotFound()
        api_token_revoke(
            api_token=api_token, actor=request.user, source=Source.from_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
