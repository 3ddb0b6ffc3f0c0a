from rest_framework import serializers
from rest_framework.response import Response

from apps.applications.api.guard import AppAPIView
from apps.core.errors import NotFound
from apps.integrations.api.serializers import grant_body
from apps.integrations.grant_secrets import (
    grant_configure_secrets,
    grant_delete,
    grant_reset,
)
from apps.integrations.selectors import grant_find_visible, grants_visible_to
from apps.integrations.services import setup_sync
from apps.workspaces.api.guard import WorkspaceAPIView

VIEW_DENIED = ("integrations:view", "forbidden", "Your role cannot view integrations.")
MANAGE_DENIED = (
    "integrations:manage",
    "integration_setup_forbidden",
    "Only owners and admins configure integration secrets and grants.",
)


class GrantPatchInput(serializers.Serializer):
    secrets = serializers.DictField(child=serializers.CharField(trim_whitespace=False))


class IntegrationCollectionView(WorkspaceAPIView):
    permissions = {"GET": VIEW_DENIED}

    def get(self, request, workspace_id):
        grants = grants_visible_to(membership=self.membership)
        return Response([grant_body(grant) for grant in grants])


class GrantScopedView(WorkspaceAPIView):
    """A view of one grant the caller can see; another workspace's id is 404."""

    def resolve_scope(self, **kwargs) -> None:
        grant = grant_find_visible(
            membership=self.membership, grant_id=kwargs.get("grant_id")
        )
        if grant is None:
            raise NotFound()
        self.grant = grant


class IntegrationDetailView(GrantScopedView):
    """`GET|PATCH|DELETE …/integrations/{id}`: read, configure or delete a grant."""

    permissions = {
        "GET": VIEW_DENIED,
        "PATCH": MANAGE_DENIED,
        "DELETE": MANAGE_DENIED,
    }

    def get(self, request, workspace_id, grant_id):
        return Response(grant_body(self.grant))

    def patch(self, request, workspace_id, grant_id):
        data = GrantPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        grant = grant_configure_secrets(
            grant=self.grant,
            secrets=data.validated_data["secrets"],
            user=request.user,
            actor=self.actor,
            source=self.audit_source,
        )
        return Response(grant_body(grant))

    def delete(self, request, workspace_id, grant_id):
        grant_delete(grant=self.grant, actor=self.actor, source=self.audit_source)
        return Response(status=204)


class IntegrationResetView(GrantScopedView):
    """`POST …/integrations/{id}/reset`: delete the secrets, keep the grant."""

    permissions = {"POST": MANAGE_DENIED}

    def post(self, request, workspace_id, grant_id):
        grant = grant_reset(
            grant=self.grant, actor=self.actor, source=self.audit_source
        )
        return Response(grant_body(grant))


class IntegrationSetupView(AppAPIView):
    """`PUT …/apps/{a}/integration-setup` syncs the app's integration-setup.json."""

    permissions = {"PUT": ("apps:update", "forbidden", "Your role cannot change apps.")}

    def put(self, request, workspace_id, app_id):
        self.require_builder()
        grants = setup_sync(
            app=self.app,
            setup_config=request.data,
            actor=self.actor,
            source=self.audit_source,
        )
        return Response({"integrations": [grant_body(grant) for grant in grants]})
