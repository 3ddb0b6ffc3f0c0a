"""Routes of `/api/workspaces/{w}/teams`: list, create, rename, delete, members."""

from rest_framework import serializers, status
from rest_framework.response import Response

from apps.core.errors import NotFound
from apps.workspaces.api.guard import WorkspaceAPIView
from apps.workspaces.teams import (
    team_create,
    team_delete,
    team_find,
    team_member_add,
    team_member_find,
    team_member_ids,
    team_member_remove,
    team_rename,
    teams_list,
)

MEMBERS_VIEW = (
    "members:view",
    "workspace_members_forbidden",
    "Your role cannot view the members and teams of this workspace.",
)
MEMBERS_MANAGE = (
    "members:manage",
    "workspace_members_forbidden",
    "Only owners and admins can create, change or delete teams and their members.",
)


class TeamInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)


def team_body(team) -> dict:
    return {
        "id": str(team.pk),
        "name": team.name,
        "isDefault": team.is_default,
        "memberIds": team_member_ids(team),
        "createdAt": team.created_at.isoformat(),
    }


def _valid_name(request) -> str:
    data = TeamInput(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data["name"]


class TeamCollectionView(WorkspaceAPIView):
    """`GET` lists the workspace's teams, and `POST {name}` creates one."""

    permissions = {"GET": MEMBERS_VIEW, "POST": MEMBERS_MANAGE}

    def get(self, request, workspace_id):
        teams = teams_list(workspace=self.workspace)
        return Response([team_body(team) for team in teams])

    def post(self, request, workspace_id):
        team = team_create(
            workspace=self.workspace,
            name=_valid_name(request),
            actor=self.actor,
            source=self.audit_source,
        )
        team = team_find(workspace=self.workspace, team_id=team.pk)
        return Response(team_body(team), status=status.HTTP_201_CREATED)


class TeamAPIView(WorkspaceAPIView):
    """Base view that resolves `self.team` among the workspace's teams, else 404."""

    def resolve_scope(self, **kwargs) -> None:
        team = team_find(workspace=self.workspace, team_id=kwargs.get("team_id"))
        if team is None:
            raise NotFound()
        self.team = team

    def team_response(self) -> Response:
        team = team_find(workspace=self.workspace, team_id=self.team.pk)
        return Response(team_body(team))


class TeamDetailView(TeamAPIView):
    """`PATCH {name}` renames a team, and `DELETE` deletes it."""

    permissions = {"PATCH": MEMBERS_MANAGE, "DELETE": MEMBERS_MANAGE}

    def patch(self, request, workspace_id, team_id):
        team_rename(
            team=self.team,
            name=_valid_name(request),
            actor=self.actor,
            source=self.audit_source,
        )
        return self.team_response()

    def delete(self, request, workspace_id, team_id):
        team_delete(team=self.team, actor=self.actor, source=self.audit_source)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMemberView(TeamAPIView):
    """`PUT` adds a workspace member to the team, and `DELETE` removes them."""

    permissions = {"PUT": MEMBERS_MANAGE, "DELETE": MEMBERS_MANAGE}

    def resolve_scope(self, **kwargs) -> None:
        super().resolve_scope(**kwargs)
        membership = team_member_find(
            workspace=self.workspace, user_id=kwargs.get("user_id")
        )
        if membership is None:
            raise NotFound()
        self.target_membership = membership

    def put(self, request, workspace_id, team_id, user_id):
        team_member_add(
            team=self.team,
            membership=self.target_membership,
            actor=self.actor,
            source=self.audit_source,
        )
        return self.team_response()

    def delete(self, request, workspace_id, team_id, user_id):
        team_member_remove(
            team=self.team,
            membership=self.target_membership,
            actor=self.actor,
            source=self.audit_source,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
