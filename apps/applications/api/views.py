from rest_framework import status
from rest_framework.response import Response

from apps.applications.api.guard import AppAPIView
from apps.applications.api.serializers import AppCreateInput, app_body
from apps.applications.services import app_create
from apps.workspaces.api.guard import WorkspaceAPIView


class AppCollectionView(WorkspaceAPIView):
    permissions = {
        "POST": (
            "apps:create",
            "forbidden",
            "Your role cannot create apps in this workspace.",
        )
    }

    def post(self, request, workspace_id):
        data = AppCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        app = app_create(
            workspace=self.workspace,
            user=request.user,
            actor=self.actor,
            source=self.audit_source,
            **data.validated_data,
        )
        return Response(app_body(app), status=status.HTTP_201_CREATED)


class AppDetailView(AppAPIView):
    def get(self, request, workspace_id, app_id):
        return Response(app_body(self.app, include_draft=self.is_builder))
