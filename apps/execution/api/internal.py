"""`/api/internal/*`: routes for agent runtimes, behind the internal or run token.

The token proves only an internal caller. Workspace, app, agent, source version
and triggering user of a tool call all come from the server-created run.
"""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.applications.selectors import app_find_in_workspace
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError, PermissionDenied
from apps.execution.internal_auth import (
    InternalAuthentication,
    InternalOrRunAuthentication,
)
from apps.execution.models import AgentRun, ToolCall
from apps.execution.runs import run_complete
from apps.execution.tool_calls import check_run_open, tool_call_run
from apps.integrations.api.serializers import grant_body
from apps.integrations.selectors import grants_for_app
from apps.integrations.services import setup_sync
from apps.workspaces.selectors import parse_id


class InternalAPIView(APIView):
    authentication_classes = [InternalAuthentication]
    permission_classes = []


def _run_for_caller(caller, run_id) -> AgentRun:
    """Return the run the body names, as far as the caller may reach it.

    A run token acts for its own run only, and any other id gets the same
    `run_mismatch`, whether that run exists or not. With the internal token an
    unknown run is `403 app_not_found`, as for a run outside the named app.
    """
    parsed = parse_id(run_id)
    if caller.kind == "run" and caller.run.pk != parsed:
        raise PermissionDenied(
            "run_mismatch", "A run token may act only for its own run."
        )
    run = (
        AgentRun.objects.select_related("app__workspace").filter(pk=parsed).first()
        if parsed
        else None
    )
    if run is None:
        raise PermissionDenied(
            "app_not_found", "No run with that runId exists in a reachable app."
        )
    return run


def _check_body_ids(data: dict, run: AgentRun) -> None:
    expected = {
        "workspaceId": str(run.workspace_id),
        "appId": str(run.app_id),
        "agentId": run.agent_id,
        "sourceVersion": run.source_version,
    }
    for name, value in expected.items():
        sent = data.get(name)
        if sent not in (None, "") and str(sent) != value:
            raise PermissionDenied(
                "run_mismatch",
                f"{name} in the body differs from the run's; omit it or send the "
                "run's value.",
            )


class ToolExecuteInput(serializers.Serializer):
    runId = serializers.CharField()  # noqa: N815
    toolName = serializers.CharField(max_length=200)  # noqa: N815
    toolInput = serializers.DictField(required=False, default=dict)  # noqa: N815
    toolSpec = serializers.DictField(required=False, allow_null=True)  # noqa: N815


class ToolExecuteView(InternalAPIView):
    """`POST /api/internal/tool-execute`: run one approved tool for a run."""

    authentication_classes = [InternalOrRunAuthentication]

    def post(self, request):
        data = ToolExecuteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run = _run_for_caller(request.user, values["runId"])
        _check_body_ids(request.data, run)
        check_run_open(run)

        answer = tool_call_run(
            workspace_id=run.workspace_id,
            app=run.app,
            run=run,
            kind=ToolCall.Kind.AGENT_TOOL,
            agent_id=run.agent_id,
            tool_name=values["toolName"],
            source_version=run.source_version,
            triggering_user_id=run.triggering_user_id,
            tool_input=values["toolInput"],
            sent_tool_spec=values.get("toolSpec"),
        )
        return Response(answer.body, status=answer.status, headers=answer.headers)


class RunCompleteInput(serializers.Serializer):
    runId = serializers.CharField()  # noqa: N815
    status = serializers.ChoiceField(choices=["completed", "failed"])
    result = serializers.JSONField(required=False, allow_null=True)
    usage = serializers.JSONField(required=False, allow_null=True)


class AgentRunCompleteView(InternalAPIView):
    """`POST /api/internal/agent-run-complete`: end a run with its result."""

    authentication_classes = [InternalOrRunAuthentication]

    def post(self, request):
        data = RunCompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run = _run_for_caller(request.user, values["runId"])
        check_run_open(run)
        run = run_complete(
            run=run,
            status=values["status"],
            result=values.get("result"),
            usage=values.get("usage"),
            actor=Actor(kind="agent", id=run.agent_id, display=f"agent {run.agent_id}"),
        )
        return Response({"ok": True, "runId": str(run.pk), "status": run.status})


def _app_for_internal(workspace_id, app_id):
    app = app_find_in_workspace(workspace_id=workspace_id, app_id=app_id)
    if app is None:
        raise PermissionDenied(
            "app_not_found", "No app with that appId exists in that workspace."
        )
    return app


class IntegrationRequirementsInput(serializers.Serializer):
    workspaceId = serializers.CharField()  # noqa: N815
    appId = serializers.CharField()  # noqa: N815
    setupConfig = serializers.JSONField()  # noqa: N815


class IntegrationRequirementsView(InternalAPIView):
    """`POST /api/internal/integration-requirements`: the setup sync for runtimes."""

    def post(self, request):
        data = IntegrationRequirementsInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        app = _app_for_internal(values["workspaceId"], values["appId"])
        grants = setup_sync(
            app=app,
            setup_config=values["setupConfig"],
            actor=Actor(kind="system", display="agent runtime"),
            source=Source(kind="app_agent", trust="internal_token"),
        )
        return Response({"integrations": [grant_body(grant) for grant in grants]})


class WorkspaceIntegrationsView(InternalAPIView):
    """`GET /api/internal/workspace-integrations`: grant metadata, no secrets."""

    def get(self, request):
        workspace_id = request.query_params.get("workspaceId")
        app_id = request.query_params.get("appId")
        if not workspace_id or not app_id:
            raise ApiError(
                "invalid_request",
                "Send the workspaceId and appId query parameters.",
                extra={
                    "fields": {"workspaceId": ["Required."], "appId": ["Required."]}
                },
            )
        app = _app_for_internal(workspace_id, app_id)
        grants = grants_for_app(app=app).prefetch_related("secrets")
        return Response({"integrations": [grant_body(grant) for grant in grants]})
