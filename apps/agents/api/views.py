from rest_framework import serializers
from rest_framework.response import Response

from apps.agents.models import AgentsApproval
from apps.agents.selectors import agents_state_for_files, approval_summary
from apps.agents.services import agents_approve
from apps.agents.validation import validate_agents_json
from apps.applications.api.guard import AppAPIView
from apps.applications.drafts import draft_write, serialise_json_file
from apps.applications.models import AGENTS_FILE, AppSnapshot
from apps.applications.selectors import snapshot_files
from apps.core.errors import ApiError

UPDATE_DENIED = (
    "apps:update",
    "forbidden",
    "Your role cannot change apps in this workspace.",
)


class ApprovalInput(serializers.Serializer):
    hash = serializers.CharField(max_length=80)


def problems_body(problems) -> list[dict]:
    return [{"path": problem.path, "message": problem.message} for problem in problems]


class AgentsView(AppAPIView):
    """`GET|PATCH …/apps/{a}/agents`: the agents.json document and its approval."""

    permissions = {"PATCH": UPDATE_DENIED}

    def _body(self, kind: str) -> dict:
        state = agents_state_for_files(
            app=self.app, files=snapshot_files(app=self.app, kind=kind)
        )
        body = {
            "agentsJson": state.document,
            "hash": state.hash,
            "approval": approval_summary(state),
        }
        if state.problems:
            body["problems"] = problems_body(state.problems)
        return body

    def get(self, request, workspace_id, app_id):
        kind = AppSnapshot.Kind.DRAFT if self.is_builder else AppSnapshot.Kind.PUBLISHED
        return Response(self._body(kind))

    def patch(self, request, workspace_id, app_id):
        self.require_builder()
        document = request.data
        problems = validate_agents_json(document)
        if problems:
            raise ApiError(
                "invalid_agents_json",
                f"agents.json has {len(problems)} problem(s); nothing was written. "
                "Fix each listed path and send the whole document again.",
                extra={"problems": problems_body(problems)},
            )
        draft_write(
            app=self.app,
            changes={AGENTS_FILE: serialise_json_file(document)},
            actor=self.actor,
            source=self.audit_source,
        )
        return Response(self._body(AppSnapshot.Kind.DRAFT))


class AgentsApprovalView(AppAPIView):
    """`POST …/agents/approval {hash}` approves the draft the caller saw."""

    def post(self, request, workspace_id, app_id):
        self.require_builder()
        data = ApprovalInput(data=request.data)
        data.is_valid(raise_exception=True)
        approval = agents_approve(
            app=self.app,
            seen_hash=data.validated_data["hash"],
            user=request.user,
            role=self.role,
            source=AgentsApproval.Source.BUILDER,
            audit_source=self.audit_source,
        )
        return Response(
            {
                "ok": True,
                "mockOnly": approval.mock_only,
                "hash": approval.hash,
                "hasAgentsJson": True,
            }
        )
