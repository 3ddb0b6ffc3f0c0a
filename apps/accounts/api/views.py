from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.services import api_token_create
from apps.audit.services import Source


class TokenCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, default="API token")
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)  # noqa: N815


def token_body(api_token) -> dict:
    return {
        "id": str(api_token.pk),
        "name": api_token.name,
        "prefix": f"pat_{api_token.prefix}",
        "createdAt": api_token.created_at.isoformat(),
        "lastUsedAt": api_token.last_used_at.isoformat()
        if api_token.last_used_at
        else None,
        "expiresAt": api_token.expires_at.isoformat() if api_token.expires_at else None,
    }


class MyTokensView(APIView):
    """`POST /api/me/tokens` creates a personal API token, shown once."""

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
