"""`POST …/apps/{a}/app-tools/{toolName}/execute?version=`: an app action.

App code calls an approved `appTools` entry for the signed-in user, who is the
call's triggering user. The call goes through the same pipeline as an agent's
tool call; the caller sends only the tool's name and its input.
"""

from rest_framework import serializers
from rest_framework.response import Response

from apps.applications.api.guard import AppAPIView
from apps.applications.models import AppSnapshot
from apps.applications.selectors import snapshot_find
from apps.core.errors import Conflict, ValidationFailed
from apps.execution.models import SourceVersion, ToolCall
from apps.execution.tool_calls import tool_call_run

RUN_DENIED = ("agents:run", "forbidden", "Your role cannot run app actions.")


class AppActionInput(serializers.Serializer):
    input = serializers.DictField(required=False, default=dict)


class AppActionView(AppAPIView):
    permissions = {"POST": RUN_DENIED}

    def _version(self) -> str:
        version = self.request.query_params.get("version", SourceVersion.PUBLISHED)
        if version not in (SourceVersion.DRAFT, SourceVersion.PUBLISHED):
            raise ValidationFailed({"version": ["Send version draft or published."]})
        if version == SourceVersion.DRAFT:
            self.require_builder()
        elif snapshot_find(app=self.app, kind=AppSnapshot.Kind.PUBLISHED) is None:
            raise Conflict(
                "app_not_published",
                "The app has never been published; builders call the draft with "
                "?version=draft.",
            )
        return version

    def post(self, request, workspace_id, app_id, tool_name):
        version = self._version()
        data = AppActionInput(data=request.data)
        data.is_valid(raise_exception=True)

        answer = tool_call_run(
            workspace_id=self.app.workspace_id,
            app=self.app,
            run=None,
            kind=ToolCall.Kind.APP_ACTION,
            agent_id="",
            tool_name=tool_name[:200],
            source_version=version,
            triggering_user_id=request.user.pk,
            tool_input=data.validated_data["input"],
        )
        return Response(answer.body, status=answer.status, headers=answer.headers)
