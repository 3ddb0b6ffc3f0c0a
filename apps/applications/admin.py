"""The owners' approval desk in Django admin.

The app list is the inbox: a "needs a decision" filter, each draft's approval
state, hash and security-relevant difference, and the pending review. The
change page shows the difference, the review and the payload with the approve
button. Actions approve, publish, request changes and revoke, one service call
per selected app, and report what they did and what they skipped.
"""

import json
import logging
from dataclasses import dataclass, field
from functools import partial

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from apps.agents.domains import describe_domain
from apps.agents.models import AgentsApproval
from apps.agents.selectors import AgentsState, agents_state_for_files
from apps.agents.services import agents_approve, agents_revoke
from apps.agents.tools import security_summary
from apps.applications.models import INTEGRATION_SETUP_FILE, App, AppSnapshot, Review
from apps.applications.review_diff import Change, diff_counts, review_diff
from apps.applications.reviews import review_approve, review_request_changes
from apps.applications.selectors import snapshot_files
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError
from apps.execution.egress.verdict import tool_verdict
from apps.workspaces.admin_base import WorkspaceScopedAdmin
from apps.workspaces.roles import role_governs
from apps.workspaces.selectors import parse_id, role_in

logger = logging.getLogger(__name__)

# Draft states an approval changes; the others have nothing to approve.
APPROVABLE_STATES = ("unapproved", "stale", "mock_only")
# Draft states that wait for an owner's decision, besides a pending review.
UNDECIDED_STATES = ("unapproved", "stale")
# Codes for the states that have nothing to approve, as the services name them.
NOTHING_TO_APPROVE = {
    "none": "agents_json_missing",
    "invalid": "invalid_agents_json",
    "approved": "already_approved",
}
NEEDS_DECISION = "needed"
SHORT_HASH_CHARS = 15
ADMIN_TRUST = "admin_session"


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


def _parse_json(text: str | None):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def security_difference(app: App, state: AgentsState) -> list[Change]:
    """List what the draft adds, removes and changes against what was approved.

    An approved draft is compared with the approval it matches; any other draft
    with the newest live approval, so a stale draft shows its edit. The setup
    side compares the published snapshot's integration-setup.json.
    """
    approval = state.approval if state.state == "approved" else state.latest_approval
    published = snapshot_files(app=app, kind=AppSnapshot.Kind.PUBLISHED)
    draft = snapshot_files(app=app, kind=AppSnapshot.Kind.DRAFT)

    return review_diff(
        approved_agents=approval.payload if approval else None,
        draft_agents=state.document,
        approved_setup=_parse_json(published.get(INTEGRATION_SETUP_FILE)),
        draft_setup=_parse_json(draft.get(INTEGRATION_SETUP_FILE)),
    )


def pending_review_of(app: App) -> Review | None:
    """Return the app's pending review, or None."""
    return (
        Review.objects.filter(app=app, status=Review.Status.PENDING)
        .select_related("requested_by")
        .first()
    )


@dataclass
class DeskRow:
    """The desk's view of one app: its draft state, difference and review."""

    app: App
    state: AgentsState
    changes: list[Change]
    review: Review | None

    @property
    def counts(self) -> dict[str, int]:
        return diff_counts(self.changes)

    @property
    def short_hash(self) -> str:
        return (self.state.hash or "")[:SHORT_HASH_CHARS]

    @property
    def approvable(self) -> bool:
        return self.state.state in APPROVABLE_STATES

    @property
    def nothing_to_approve(self) -> str:
        """Return the code of why the draft has nothing to approve, or ""."""
        return NOTHING_TO_APPROVE.get(self.state.state, "")

    @property
    def needs_decision(self) -> bool:
        return self.review is not None or self.state.state in UNDECIDED_STATES


def desk_row(app: App) -> DeskRow:
    """Return the app's desk row, computed once per app instance."""
    cached = getattr(app, "_desk_row", None)
    if cached is not None:
        return cached

    state = agents_state_for_files(
        app=app, files=snapshot_files(app=app, kind=AppSnapshot.Kind.DRAFT)
    )
    row = DeskRow(app, state, security_difference(app, state), pending_review_of(app))
    app._desk_row = row
    return row


class NeedsDecisionFilter(admin.SimpleListFilter):
    """Keep the apps with a pending review or an unapproved or stale draft."""

    title = "needs a decision"
    parameter_name = "decision"

    def lookups(self, request, model_admin):
        return ((NEEDS_DECISION, "Needs a decision"),)

    def queryset(self, request, queryset):
        if self.value() != NEEDS_DECISION:
            return queryset
        # Staleness is computed from the draft on every read, never stored, so
        # the rows are filtered here rather than in SQL.
        matching = [app.pk for app in queryset if desk_row(app).needs_decision]
        return queryset.filter(pk__in=matching)


@dataclass
class Outcome:
    """The result of an action: how many apps it acted on, and the skipped ones."""

    label: str
    done: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, app: App, code: str) -> None:
        self.skipped.append((app.name, code))
        logger.info(
            "desk action skipped: action=%s app=%s code=%s", self.label, app.pk, code
        )

    def report(self, request) -> None:
        """Add one message with the counts and each skipped app's code."""
        text = f"{self.label}: {self.done} done, {len(self.skipped)} skipped"
        if self.skipped:
            reasons = "; ".join(f"{name}: {code}" for name, code in self.skipped)
            messages.warning(request, f"{text} ({reasons}).")
            return
        messages.success(request, f"{text}.")


@admin.register(App)
class AppAdmin(WorkspaceScopedAdmin):
    diff_scope = "app"
    list_display = (
        "name",
        "workspace",
        "publish_status",
        "agents_state",
        "draft_hash",
        "added",
        "removed",
        "changed",
        "pending_review",
    )
    list_filter = (NeedsDecisionFilter, "publish_status")
    search_fields = ("name",)
    readonly_fields = ("workspace", "created_by", "publish_status", "published_at")
    fields = ("name", "description", "workspace", "created_by", "publish_status")
    change_form_template = "admin/applications/app/change_form.html"
    change_list_template = "admin/applications/app/change_list.html"
    actions = (
        "approve_agents",
        "approve_review_and_publish",
        "request_changes",
        "revoke_approval",
    )

    def get_list_filter(self, request):
        return self.list_filter

    def get_actions(self, request):
        """Offer the desk's actions to owners and admins only, and no bulk delete."""
        if not self.governed(request).exists():
            return {}
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # Columns

    @admin.display(description="agents.json")
    def agents_state(self, obj: App) -> str:
        return desk_row(obj).state.state

    @admin.display(description="draft hash")
    def draft_hash(self, obj: App) -> str:
        return desk_row(obj).short_hash or "-"

    @admin.display(description="added")
    def added(self, obj: App) -> int:
        return desk_row(obj).counts["added"]

    @admin.display(description="removed")
    def removed(self, obj: App) -> int:
        return desk_row(obj).counts["removed"]

    @admin.display(description="changed")
    def changed(self, obj: App) -> int:
        return desk_row(obj).counts["changed"]

    @admin.display(description="pending review")
    def pending_review(self, obj: App) -> str:
        review = desk_row(obj).review
        if review is None:
            return "no"
        requester = review.requested_by.name if review.requested_by else "unknown"
        return f"yes, by {requester}"

    # The change page and its approve button

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
        row = desk_row(app)
        state = row.state
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
            "difference": row.changes,
            "pending_review": row.review,
            "review_teams": list(row.review.teams.all()) if row.review else [],
            "approve_url": reverse(
                "admin:applications_app_approve_agents", args=[app.pk]
            ),
            "can_approve": row.approvable,
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
                audit_source=Source.from_request(request, trust=ADMIN_TRUST),
            )
        except ApiError as error:
            messages.error(request, f"Not approved: {error.detail}")
            return HttpResponseRedirect(change_url)
        messages.success(request, f"Approved agents.json {approval.hash}.")
        return HttpResponseRedirect(change_url)

    # Helpers of the actions

    def _confirmed(self, request) -> bool:
        return request.POST.get("post") == "yes"

    def _posted_apps(self, request):
        """Return the apps a confirmation page listed, within the user's scope.

        The page posts back the id of every app it showed. The changelist filter
        may no longer match an app that someone decided meanwhile, so the ids are
        read again and such an app is reported as skipped.
        """
        posted = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        ids = [pk for pk in map(parse_id, posted) if pk is not None]
        return self.get_queryset(request).filter(pk__in=ids).order_by("name")

    def _governing_role(self, request, app: App) -> str | None:
        role = role_in(user=request.user, workspace=app.workspace)
        return role if role is not None and role_governs(role) else None

    def _act_on_each(self, request, apps, label: str, step) -> None:
        """Run `step(request, app, role)` on each app and report the counts.

        An app whose workspace the user does not govern is skipped as
        `forbidden`. `step` returns a skip code, or None once it acted, and an
        ApiError it raises skips the app with the error's code.
        """
        outcome = Outcome(label)
        for app in apps:
            role = self._governing_role(request, app)
            if role is None:
                outcome.skip(app, "forbidden")
                continue

            try:
                skipped = step(request, app, role)
            except ApiError as error:
                skipped = error.code
            if skipped:
                outcome.skip(app, skipped)
            else:
                outcome.done += 1
        outcome.report(request)

    def _intermediate_page(self, request, queryset, template: str, **context):
        rows = [desk_row(app) for app in queryset.order_by("name")]
        return TemplateResponse(
            request,
            f"admin/applications/app/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "rows": rows,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
                **context,
            },
        )

    # Actions

    @admin.action(description="Approve agents.json", permissions=["change"])
    def approve_agents(self, request, queryset):
        """Show each draft's hash and difference, then approve the hashes shown."""
        if not self._confirmed(request):
            return self._intermediate_page(
                request,
                queryset,
                "approve_agents_confirmation.html",
                title="Approve agents.json",
                action="approve_agents",
            )

        self._act_on_each(
            request,
            self._posted_apps(request),
            "Approve agents.json",
            self._approve_one,
        )
        return None

    def _approve_one(self, request, app: App, role: str) -> str | None:
        reason = desk_row(app).nothing_to_approve
        if reason:
            return reason

        agents_approve(
            app=app,
            seen_hash=request.POST.get(f"hash_{app.pk}", ""),
            user=request.user,
            role=role,
            source=AgentsApproval.Source.AGENTS_PAGE,
            audit_source=Source.from_request(request, trust=ADMIN_TRUST),
        )
        return None

    @admin.action(description="Approve review and publish", permissions=["change"])
    def approve_review_and_publish(self, request, queryset):
        """Approve each app's pending review, which publishes the reviewed draft."""
        self._act_on_each(
            request,
            queryset.order_by("name"),
            "Approve review and publish",
            self._publish_one,
        )

    def _publish_one(self, request, app: App, role: str) -> str | None:
        review = pending_review_of(app)
        if review is None:
            return "no_pending_review"

        review_approve(
            review=review,
            user=request.user,
            role=role,
            actor=Actor.for_user(request.user, role),
            source=Source.from_request(request, trust=ADMIN_TRUST),
        )
        return None

    @admin.action(description="Request changes", permissions=["change"])
    def request_changes(self, request, queryset):
        """Ask for a message, then send each pending review back with it."""
        message = request.POST.get("message", "").strip()
        if not self._confirmed(request) or not message:
            error = "Write what must change." if self._confirmed(request) else ""
            return self._intermediate_page(
                request,
                queryset,
                "request_changes.html",
                title="Request changes",
                action="request_changes",
                message_error=error,
            )

        self._act_on_each(
            request,
            self._posted_apps(request),
            "Request changes",
            partial(self._request_changes_one, message=message),
        )
        return None

    def _request_changes_one(
        self, request, app: App, role: str, *, message: str
    ) -> str | None:
        review = pending_review_of(app)
        if review is None:
            return "no_pending_review"

        review_request_changes(
            review=review,
            user=request.user,
            message=message,
            actor=Actor.for_user(request.user, role),
            source=Source.from_request(request, trust=ADMIN_TRUST),
        )
        return None

    @admin.action(description="Revoke approval", permissions=["change"])
    def revoke_approval(self, request, queryset):
        """Confirm, then revoke every live approval of each app and unpublish it."""
        if not self._confirmed(request):
            return self._intermediate_page(
                request,
                queryset,
                "revoke_confirmation.html",
                title="Revoke approval",
                action="revoke_approval",
            )

        self._act_on_each(
            request,
            self._posted_apps(request),
            "Revoke approval",
            self._revoke_one,
        )
        return None

    def _revoke_one(self, request, app: App, role: str) -> str | None:
        live = AgentsApproval.objects.filter(app=app, revoked_at__isnull=True)
        published = app.publish_status == App.PublishStatus.PUBLISHED
        if not live.exists() and not published:
            return "nothing_to_revoke"

        agents_revoke(
            app=app,
            user=request.user,
            actor=Actor.for_user(request.user, role),
            source=Source.from_request(request, trust=ADMIN_TRUST),
        )
        return None
