from django.conf import settings
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from apps.applications.api.guard import AppAPIView
from apps.core.errors import NotFound
from apps.execution.models import AgentRun, SourceVersion
from apps.execution.runs import run_create, run_find_in_app

RUN_DENIED = ("agents:run", "forbidden", "Your role cannot run agents.")


class RunCreateInput(serializers.Serializer):
    agentId = serializers.CharField(max_length=200)  # noqa: N815
    prompt = serializers.CharField(allow_blank=True, default="", trim_whitespace=False)
    sourceVersion = serializers.ChoiceField(  # noqa: N815
        choices=SourceVersion.values, default=SourceVersion.PUBLISHED
    )
    script = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=50
    )

    def validate_script(self, value):
        if settings.SECOND_AGENT_RUNTIME != "scripted":
            raise serializers.ValidationError(
                "A script is accepted only with SECOND_AGENT_RUNTIME=scripted."
            )
        return value


class RunPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


def tool_call_body(call) -> dict:
    return {
        "id": str(call.pk),
        "kind": call.kind,
        "agentId": call.agent_id,
        "toolName": call.tool_name,
        "state": call.state,
        "outcome": call.outcome or None,
        "mock": call.mock,
        "mockReason": call.mock_reason or None,
        "errorCode": call.error_code or None,
        "errorCategory": call.error_category or None,
        "httpStatus": call.http_status,
        "upstreamStatus": call.upstream_status,
        "approvalHash": call.approval_hash or None,
        "result": call.result,
        "requestBytes": call.request_bytes,
        "responseBytes": call.response_bytes,
        "createdAt": call.created_at.isoformat(),
        "startedAt": call.started_at.isoformat() if call.started_at else None,
        "finishedAt": call.finished_at.isoformat() if call.finished_at else None,
        "durationMs": call.duration_ms,
    }


def run_body(run: AgentRun, *, with_tool_calls: bool = False) -> dict:
    body = {
        "id": str(run.pk),
        "appId": str(run.app_id),
        "agentId": run.agent_id,
        "sourceVersion": run.source_version,
        "status": run.status,
        "runtime": run.runtime,
        "triggeringUserId": str(run.triggering_user_id)
        if run.triggering_user_id
        else None,
        "approvalHash": run.approval_hash or None,
        "result": run.result,
        "usage": run.usage,
        "errorCode": run.error_code or None,
        "createdAt": run.created_at.isoformat(),
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
    }
    if with_tool_calls:
        body["toolCalls"] = [tool_call_body(call) for call in run.tool_calls.all()]
    return body


class RunCollectionView(AppAPIView):
    """`GET` lists the app's runs, newest first; `POST` starts one."""

    permissions = {"POST": RUN_DENIED}

    def get(self, request, workspace_id, app_id):
        runs = AgentRun.objects.filter(app=self.app)
        if not self.is_builder:
            runs = runs.filter(source_version=SourceVersion.PUBLISHED)
        paginator = RunPagination()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response([run_body(run) for run in page])

    def post(self, request, workspace_id, app_id):
        data = RunCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = data.validated_data["sourceVersion"]
        if version == SourceVersion.DRAFT:
            self.require_builder()
        run, token = run_create(
            app=self.app,
            agent_id=data.validated_data["agentId"],
            prompt=data.validated_data["prompt"],
            source_version=version,
            user=request.user,
            actor=self.actor,
            source=self.audit_source,
            runtime_input=(
                {"script": data.validated_data["script"]}
                if "script" in data.validated_data
                else None
            ),
        )
        return Response(
            {"runId": str(run.pk), "runToken": token, "status": run.status},
            status=status.HTTP_201_CREATED,
        )


class RunDetailView(AppAPIView):
    def resolve_scope(self, **kwargs) -> None:
        super().resolve_scope(**kwargs)
        self.run = run_find_in_app(app=self.app, run_id=kwargs.get("run_id"))
        # Draft runs are visible to the app's builders only, like draft files.
        if self.run.source_version == SourceVersion.DRAFT and not self.is_builder:
            raise NotFound()

    def get(self, request, workspace_id, app_id, run_id):
        return Response(run_body(self.run, with_tool_calls=True))
