"""The app's admin page: its approval state, the payload and the approve button."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from apps.agents.domains import describe_domain
from apps.agents.models import AgentsApproval
from apps.agents.selectors import agents_state_for_files
from apps.agents.services import agents_approve
from apps.agents.tools import security_summary
from apps.applications.models import App, AppSnapshot
from apps.applications.selectors import snapshot_files
from apps.audit.services import Source
from apps.core.errors import ApiError
from apps.execution.egress.verdict import tool_verdict
from apps.workspaces.admin_base import WorkspaceScopedAdmin
from apps.workspaces.roles import role_governs
from apps.workspaces.selectors import role_in


def _custom_tools(document: dict):
    for agent in document.get("agents") or []:
        yield from (t for t in agent.get("tools") or [] if t.get("type") == "custom")
    yield from document.get("appTools") or []


def egress_verdicts(document: dict) -> list:
    """Return the `egress_check` verdict of every custom tool's endpoint."""
    return [
        tool_verdict(
            tool=tool.get("name", ""),
            url=tool.get("endpoint", {}).get("url", ""),
            domain=tool.get("integration", {}).get("domain", ""),
        )
        for tool in _custom_tools(document)
    ]


@admin.register(App)
class AppAdmin(WorkspaceScopedAdmin):
    list_display = ("name", "workspace", "publish_status", "agents_state", "updated_at")
    list_filter = ("publish_status",)
    search_fields = ("name",)
    readonly_fields = ("workspace", "created_by", "publish_status", "published_at")
    fields = ("name", "description", "workspace", "created_by", "publish_status")
    change_form_template = "admin/applications/app/change_form.html"

    def get_list_filter(self, request):
        return self.list_filter

    @admin.display(description="agents.json")
    def agents_state(self, obj: App) -> str:
        files = snapshot_files(app=obj, kind=AppSnapshot.Kind.DRAFT)
        return agents_state_for_files(app=obj, files=files).state

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/approve-agents/",
                self.admin_site.admin_view(require_POST(self.approve_view)),
                name="applications_app_approve_agents",
            )
        ]
        return custom + super().get_urls()

    def _approval_context(self, request, app: App) -> dict:
        state = agents_state_for_files(
            app=app, files=snapshot_files(app=app, kind=AppSnapshot.Kind.DRAFT)
        )
        payload_text = (
            json.dumps(state.document, indent=2, ensure_ascii=False)
            if state.document is not None
            else ""
        )
        summary, verdicts = None, []
        if state.state not in ("none", "invalid"):
            summary = security_summary(state.document)
            summary["domains"] = [describe_domain(d) for d in summary["domains"]]
            verdicts = egress_verdicts(state.document)
        return {
            "agents_state": state,
            "agents_payload": payload_text,
            "agents_summary": summary,
            "egress_verdicts": verdicts,
            "approve_url": reverse(
                "admin:applications_app_approve_agents", args=[app.pk]
            ),
            "can_approve": state.state in ("unapproved", "stale", "mock_only"),
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        app = self.get_object(request, object_id)
        context = {**(extra_context or {}), **self._approval_context(request, app)}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def approve_view(self, request, object_id):
        app = self.get_object(request, object_id)
        role = role_in(user=request.user, workspace=app.workspace)
        if role is None or not role_governs(role):
            raise PermissionDenied
        change_url = reverse("admin:applications_app_change", args=[app.pk])
        try:
            approval = agents_approve(
                app=app,
                seen_hash=request.POST.get("hash", ""),
                user=request.user,
                role=role,
                source=AgentsApproval.Source.AGENTS_PAGE,
                audit_source=Source.from_request(request, trust="admin_session"),
            )
        except ApiError as error:
            messages.error(request, f"Not approved: {error.detail}")
            return HttpResponseRedirect(change_url)
        messages.success(request, f"Approved agents.json {approval.hash}.")
        return HttpResponseRedirect(change_url)
