"""Routes of OAuth provider configs, the connect flow and connected accounts."""

from django.http import HttpResponseRedirect
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.services import Actor, Source
from apps.core.errors import NotFound
from apps.integrations.connected_accounts import account_revoke
from apps.integrations.models import ConnectedAccount, OAuthProviderConfig
from apps.integrations.oauth_configs import (
    config_configure,
    config_is_complete,
    redirect_uri,
    start_url,
)
from apps.integrations.oauth_connect import connect_callback, connect_start
from apps.workspaces.api.guard import WorkspaceAPIView
from apps.workspaces.roles import role_has_permission
from apps.workspaces.selectors import parse_id

MANAGE_DENIED = (
    "integrations:manage",
    "oauth_provider_config_forbidden",
    "Only owners and admins configure OAuth provider apps.",
)
FIELDS = {
    "authorizationUrl": "authorization_url",
    "tokenUrl": "token_url",
    "revocationUrl": "revocation_url",
    "userinfoUrl": "userinfo_url",
    "clientId": "client_id",
    "tokenAuthMethod": "token_auth_method",
    "name": "name",
}


class ProviderPatchInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    authorizationUrl = serializers.CharField(max_length=2000, required=False)  # noqa: N815
    tokenUrl = serializers.CharField(max_length=2000, required=False)  # noqa: N815
    revocationUrl = serializers.CharField(  # noqa: N815
        max_length=2000, required=False, allow_blank=True
    )
    userinfoUrl = serializers.CharField(  # noqa: N815
        max_length=2000, required=False, allow_blank=True
    )
    clientId = serializers.CharField(max_length=500, required=False)  # noqa: N815
    clientSecret = serializers.CharField(  # noqa: N815
        max_length=4096, required=False, trim_whitespace=False
    )
    tokenAuthMethod = serializers.ChoiceField(  # noqa: N815
        choices=OAuthProviderConfig.TokenAuthMethod.values, required=False
    )


def provider_body(config: OAuthProviderConfig, *, manage: bool) -> dict:
    body = {
        "id": str(config.pk),
        "providerKey": config.provider_key,
        "name": config.name,
        "configured": config_is_complete(config),
        "startUrl": start_url(config),
        "redirectUri": redirect_uri(),
        "authorizationUrl": config.authorization_url,
        "tokenUrl": config.token_url,
        "tokenAuthMethod": config.token_auth_method,
    }
    if manage:
        body.update(
            {
                "clientId": config.client_id,
                "clientSecretSet": config.client_secret_id is not None,
                "clientSecretRotatedAt": config.client_secret_rotated_at.isoformat()
                if config.client_secret_rotated_at
                else None,
                "revocationUrl": config.revocation_url,
                "userinfoUrl": config.userinfo_url,
            }
        )
    return body


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def account_body(account: ConnectedAccount) -> dict:
    return {
        "id": str(account.pk),
        "providerKey": account.config.provider_key,
        "status": account.status,
        "needsReconnect": account.status != ConnectedAccount.Status.ACTIVE,
        "reason": account.status_reason or None,
        "scopes": account.granted_scopes,
        "upstreamEmail": account.upstream_email or None,
        "connectedAt": account.connected_at.isoformat()
        if account.connected_at
        else None,
        "refreshedAt": account.refreshed_at.isoformat()
        if account.refreshed_at
        else None,
        "startUrl": start_url(account.config),
    }


class ProvidersView(WorkspaceAPIView):
    """`GET …/oauth-providers`: the workspace's OAuth apps with their start URLs."""

    def get(self, request, workspace_id):
        manage = role_has_permission(self.role, "integrations:manage")
        configs = OAuthProviderConfig.objects.filter(workspace=self.workspace)
        return Response([provider_body(c, manage=manage) for c in configs])


class ConfigScopedView(WorkspaceAPIView):
    """A view of one OAuth provider config of the workspace; others are 404."""

    def resolve_scope(self, **kwargs) -> None:
        parsed = parse_id(kwargs.get("config_id"))
        config = None
        if parsed is not None:
            config = OAuthProviderConfig.objects.filter(
                workspace=self.workspace, pk=parsed
            ).first()
        if config is None:
            raise NotFound()
        self.config = config


class ProviderDetailView(ConfigScopedView):
    """`PATCH …/oauth-providers/{id}`: complete or change an OAuth app."""

    permissions = {"PATCH": MANAGE_DENIED}

    def patch(self, request, workspace_id, config_id):
        data = ProviderPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        secret = values.pop("clientSecret", None)
        config = config_configure(
            config=self.config,
            changes={FIELDS[name]: value for name, value in values.items()},
            client_secret=secret,
            user=request.user,
            actor=self.actor,
            source=self.audit_source,
        )
        return Response(provider_body(config, manage=True))


class ConnectStartView(ConfigScopedView):
    """`GET …/oauth/{config}/start[?returnTo=/path]`: send the user to the provider."""

    def get(self, request, workspace_id, config_id):
        flow = connect_start(
            config=self.config,
            user=request.user,
            return_to=request.query_params.get("returnTo"),
        )
        if "application/json" in request.headers.get("Accept", ""):
            return Response({"authorizationUrl": flow.authorization_url})
        return HttpResponseRedirect(flow.authorization_url)


class ConnectCallbackView(APIView):
    """`GET /api/oauth/callback`: the provider sends the user back here."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        account, return_to, error = connect_callback(
            params=request.query_params,
            user=request.user,
            source=Source.from_request(request),
        )
        separator = "&" if "?" in return_to else "?"
        if error:
            return HttpResponseRedirect(f"{return_to}{separator}oauth_error={error}")
        return HttpResponseRedirect(
            f"{return_to}{separator}oauth_connected={account.config.provider_key}"
        )


class ConnectedAccountsView(WorkspaceAPIView):
    """`GET …/connected-accounts`: the caller's own accounts in this workspace."""

    def get(self, request, workspace_id):
        accounts = ConnectedAccount.objects.filter(
            workspace=self.workspace, user=request.user
        ).select_related("config")
        return Response([account_body(account) for account in accounts])


class ConnectedAccountDetailView(WorkspaceAPIView):
    """`DELETE …/connected-accounts/{id}`: only the account's own user revokes it."""

    def resolve_scope(self, **kwargs) -> None:
        parsed = parse_id(kwargs.get("account_id"))
        account = (
            ConnectedAccount.objects.filter(
                workspace=self.workspace, user=self.request.user, pk=parsed
            )
            .select_related("config", "config__workspace")
            .first()
            if parsed
            else None
        )
        if account is None:
            raise NotFound()
        self.account = account

    def delete(self, request, workspace_id, account_id):
        account_revoke(
            account=self.account,
            actor=Actor.for_user(request.user, self.role),
            source=self.audit_source,
            reason="revoked by its user",
        )
        return Response(status=204)
