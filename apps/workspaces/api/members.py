from rest_framework import serializers, status
from rest_framework.response import Response

from apps.core.errors import Conflict, PermissionDenied
from apps.workspaces.api.guard import WorkspaceAPIView
from apps.workspaces.members import (
    member_change_role,
    member_find,
    member_remove,
    members_list,
)
from apps.workspaces.models import Workspace

MEMBERS_DENIED = (
    "members:manage",
    "workspace_members_forbidden",
    "Only owners and admins manage members.",
)


class WorkspacePatchInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    slug = serializers.SlugField(max_length=64, required=False)


class RoleInput(serializers.Serializer):
    role = serializers.CharField(max_length=16)


def member_body(membership) -> dict:
    user = membership.user
    return {
        "userId": str(user.pk),
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "role": membership.role,
        "teamIds": sorted(str(team.pk) for team in membership.teams.all()),
        "joinedAt": membership.created_at.isoformat(),
    }


def workspace_detail_body(workspace, role: str) -> dict:
    return {
        "id": str(workspace.pk),
        "name": workspace.name,
        "slug": workspace.slug,
        "role": role,
        "createdAt": workspace.created_at.isoformat(),
    }


class WorkspaceDetailView(WorkspaceAPIView):
    """`GET|PATCH /api/workspaces/{w}`: the workspace and its name and slug."""

    permissions = {
        "GET": ("workspace:view", "forbidden", "Your role cannot view this workspace."),
        "PATCH": (
            "workspace:manage",
            "workspace_manage_forbidden",
            "Only owners and admins change the workspace.",
        ),
    }

    def get(self, request, workspace_id):
        return Response(workspace_detail_body(self.workspace, self.role))

    def patch(self, request, workspace_id):
        data = WorkspacePatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "slug" in values:
            values["slug"] = values["slug"].lower()
        slug = values.get("slug")
        taken = Workspace.objects.filter(slug=slug).exclude(pk=self.workspace.pk)
        if slug and taken.exists():
            raise Conflict(
                "workspace_slug_unavailable",
                f"The workspace slug {slug!r} is taken; choose another slug.",
            )
        for field, value in values.items():
            setattr(self.workspace, field, value)
        self.workspace.save(update_fields=list(values) or None)
        return Response(workspace_detail_body(self.workspace, self.role))


class MemberCollectionView(WorkspaceAPIView):
    permissions = {
        "GET": ("members:view", "forbidden", "Your role cannot list members.")
    }

    def get(self, request, workspace_id):
        members = members_list(workspace=self.workspace)
        return Response([member_body(membership) for membership in members])


class MemberDetailView(WorkspaceAPIView):
    """`PATCH|DELETE …/members/{userId}`: change a member's role or remove them."""

    permissions = {"PATCH": MEMBERS_DENIED, "DELETE": MEMBERS_DENIED}

    def resolve_scope(self, **kwargs) -> None:
        self.target = member_find(workspace=self.workspace, user_id=kwargs["user_id"])

    def patch(self, request, workspace_id, user_id):
        data = RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            target = member_change_role(
                actor_membership=self.membership,
                target=self.target,
                role=data.validated_data["role"],
                source=self.audit_source,
            )
        except PermissionDenied as error:
            self.deny(error.code, error.detail, permission="members:manage-owner")
        return Response(member_body(target))

    def delete(self, request, workspace_id, user_id):
        try:
            member_remove(
                actor_membership=self.membership,
                target=self.target,
                source=self.audit_source,
            )
        except PermissionDenied as error:
            self.deny(error.code, error.detail, permission="members:manage-owner")
        return Response(status=status.HTTP_204_NO_CONTENT)
