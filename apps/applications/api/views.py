from rest_framework import serializers, status
from rest_framework.response import Response

from apps.applications.api.guard import AppAPIView
from apps.applications.api.serializers import AppCreateInput, app_body
from apps.applications.publishing import teams_for_publish
from apps.applications.selectors import app_is_builder, apps_visible_to
from apps.applications.services import app_create, app_delete, app_update
from apps.workspaces.api.guard import WorkspaceAPIView
from apps.workspaces.roles import role_governs

CREATE_DENIED = ("apps:create", "forbidden", "Your role cannot create apps here.")
UPDATE_DENIED = ("apps:update", "forbidden", "Your role cannot change apps here.")
DELETE_DENIED = ("apps:delete", "forbidden", "Your role cannot delete apps here.")


class AppUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    teamIds = serializers.ListField(  # noqa: N815
        child=serializers.CharField(), required=False
    )


class AppCollectionView(WorkspaceAPIView):
    """`GET|POST …/apps`: the apps the caller can see, and creating one."""

    permissions = {"POST": CREATE_DENIED}

    def get(self, request, workspace_id):
        apps = apps_visible_to(membership=self.membership).select_related("workspace")
        return Response(
            [
                app_body(
                    app,
                    include_draft=app_is_builder(membership=self.membership, app=app),
                )
                for app in apps
            ]
        )

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
    """`GET|PATCH|DELETE …/apps/{a}`: read, change or delete one app."""

    permissions = {"PATCH": UPDATE_DENIED, "DELETE": DELETE_DENIED}

    def require_creator_or_governor(self) -> None:
        if role_governs(self.role) or self.app.created_by_id == self.request.user.pk:
            return
        self.deny(
            "forbidden",
            "Only the app's creator, owners and admins may change or delete the app.",
        )

    def get(self, request, workspace_id, app_id):
        return Response(app_body(self.app, include_draft=self.is_builder))

    def patch(self, request, workspace_id, app_id):
        self.require_creator_or_governor()
        data = AppUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        team_ids = values.pop("teamIds", None)
        teams = (
            teams_for_publish(app=self.app, team_ids=team_ids)
            if team_ids is not None
            else None
        )
        app = app_update(
            app=self.app,
            changes=values,
            teams=teams,
            actor=self.actor,
            source=self.audit_source,
        )
        return Response(app_body(app, include_draft=True))

    def delete(self, request, workspace_id, app_id):
        self.require_creator_or_governor()
        app_delete(app=self.app, actor=self.actor, source=self.audit_source)
        return Response(status=status.HTTP_204_NO_CONTENT)
