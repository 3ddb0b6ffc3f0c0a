from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.services import Source
from apps.core.errors import PermissionDenied
from apps.workspaces.selectors import memberships_for_user
from apps.workspaces.services import workspace_create, workspace_creation_allowed


class WorkspaceCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=64, required=False)


def workspace_body(workspace, role: str) -> dict:
    return {
        "id": str(workspace.pk),
        "name": workspace.name,
        "slug": workspace.slug,
        "role": role,
        "createdAt": workspace.created_at.isoformat(),
    }


class WorkspaceCollectionView(APIView):
    """`GET /api/workspaces` lists the caller's; `POST` creates one they own."""

    def get(self, request):
        memberships = memberships_for_user(user=request.user).order_by(
            "workspace__name"
        )
        return Response([workspace_body(m.workspace, m.role) for m in memberships])

    def post(self, request):
        if not workspace_creation_allowed():
            raise PermissionDenied(
                "workspace_creation_forbidden",
                "Workspaces are created by operators here "
                "(`manage.py create_workspace`); ask one to create it.",
            )
        data = WorkspaceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = workspace_create(
            owner=request.user,
            source=Source.from_request(request),
            **data.validated_data,
        )
        return Response(
            workspace_body(workspace, "owner"), status=status.HTTP_201_CREATED
        )
