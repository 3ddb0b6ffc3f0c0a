"""Routes of `/api/workspaces/{w}/apps/{a}/collaborators`."""

from rest_framework import serializers
from rest_framework.response import Response

from apps.applications.api.guard import AppAPIView
from apps.applications.collaborators import (
    app_collaborators_list,
    app_collaborators_set,
    app_manages_collaborators,
)

MAX_COLLABORATORS = 500


class CollaboratorsInput(serializers.Serializer):
    userIds = serializers.ListField(  # noqa: N815
        child=serializers.CharField(max_length=64),
        allow_empty=True,
        max_length=MAX_COLLABORATORS,
    )


def collaborator_body(user) -> dict:
    body = {"id": str(user.pk), "name": user.name}
    if user.email:
        body["email"] = user.email
    return body


class AppCollaboratorsView(AppAPIView):
    """`GET` lists the app's collaborators to anyone who can view the app.

    `PUT {userIds}` replaces them, for the app's creator, owners and admins only.
    """

    def get(self, request, workspace_id, app_id):
        return self.collaborators_response()

    def put(self, request, workspace_id, app_id):
        self.require_collaborator_manager()

        data = CollaboratorsInput(data=request.data)
        data.is_valid(raise_exception=True)

        app_collaborators_set(
            app=self.app,
            user_ids=data.validated_data["userIds"],
            actor=self.actor,
            source=self.audit_source,
        )
        return self.collaborators_response()

    def require_collaborator_manager(self) -> None:
        """Only the app's creator, owners and admins change its collaborators."""
        if not app_manages_collaborators(membership=self.membership, app=self.app):
            self.deny(
                "forbidden",
                "Only the app's creator, owners and admins may change its "
                "collaborators.",
            )

    def collaborators_response(self) -> Response:
        users = app_collaborators_list(workspace=self.workspace, app=self.app)
        return Response({"collaborators": [collaborator_body(user) for user in users]})
