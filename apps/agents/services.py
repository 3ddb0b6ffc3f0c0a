"""Approval of an app's draft agents.json with the hash the approver saw."""

import logging

from django.db import transaction
from django.utils import timezone

from apps.agents.hashing import drop_empty
from apps.agents.models import AgentsApproval
from apps.agents.selectors import agents_state_for_files
from apps.agents.tools import oauth_tool_auths
from apps.applications.models import App, AppSnapshot
from apps.applications.selectors import snapshot_files
from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import ApiError, Conflict
from apps.workspaces.roles import role_governs

logger = logging.getLogger(__name__)


def _check_hash(app: App, seen_hash: str):
    state = agents_state_for_files(
        app=app, files=snapshot_files(app=app, kind=AppSnapshot.Kind.DRAFT)
    )
    if state.state == "none":
        raise Conflict(
            "agents_json_missing",
            "The app has no agents.json to approve; write one with PATCH "
            ".../agents first.",
        )
    if state.state == "invalid":
        raise ApiError(
            "invalid_agents_json",
            "The draft agents.json is invalid and cannot be approved; fix the "
            "listed problems first.",
            extra={
                "problems": [
                    {"path": p.path, "message": p.message} for p in state.problems
                ]
            },
        )
    if state.hash != seen_hash:
        raise Conflict(
            "agents_config_changed",
            f"The draft agents.json now hashes to {state.hash}, not {seen_hash}; "
            "reload it, review the change and approve the new hash.",
        )
    return state


def _mark_accounts_short_of_scopes(app: App, payload) -> None:
    """Mark connected accounts that lack a scope the approved tools now need."""
    from apps.integrations.connected_accounts import accounts_mark_short_scopes

    required: dict[str, set[str]] = {}
    for spec in oauth_tool_auths(payload):
        key = spec.get("providerKey")
        if isinstance(key, str):
            scopes = {s for s in spec.get("scopes") or [] if isinstance(s, str)}
            required.setdefault(key, set()).update(scopes)
    if required:
        accounts_mark_short_scopes(workspace_id=app.workspace_id, required=required)


def agents_approve(
    *, app: App, seen_hash: str, user, role: str, source: str, audit_source: Source
) -> AgentsApproval:
    """Approve the draft agents.json whose hash is `seen_hash`.

    Owners and admins approve live; another builder's approval is mock-only.
    Raises Conflict `agents_config_changed` when the draft has another hash.
    """
    governs = role_governs(role)
    if not governs:
        source = AgentsApproval.Source.BUILDER_MOCK
    with transaction.atomic():
        state = _check_hash(app, seen_hash)
        draft = AppSnapshot.objects.filter(app=app, kind=AppSnapshot.Kind.DRAFT).first()
        self_approved = user.pk in {
            app.created_by_id,
            draft.updated_by_id if draft else None,
        }
        approval = AgentsApproval.objects.create(
            workspace_id=app.workspace_id,
            app=app,
            hash=state.hash,
            schema_version=1,
            payload=drop_empty(state.document),
            source=source,
            mock_only=not governs,
            self_approved=self_approved,
            approved_by=user,
            approved_by_name=user.name,
        )
    if not approval.mock_only:
        _mark_accounts_short_of_scopes(app, approval.payload)
    kind = "mock-only " if approval.mock_only else ""
    audit_record(
        workspace=app.workspace,
        entry=AuditEntry(
            event_name="app.agents_config.approved",
            outcome="success",
            summary=f"{user.name} approved agents.json of {app.name} {kind}"
            f"({approval.hash[:15]}…)"
            + (" as a self-approval" if self_approved else ""),
            actor=Actor.for_user(user, role),
            source=audit_source,
            target=Target(type="app", id=str(app.pk), name=app.name),
            metadata={
                "hash": approval.hash,
                "approvalSource": approval.source,
                "mockOnly": approval.mock_only,
                "selfApproval": self_approved,
            },
            related_ids={"approvalId": str(approval.pk)},
        ),
    )
    logger.info("agents.json approved: app=%s approval=%s", app.pk, approval.pk)
    return approval


def agents_revoke(*, app: App, user, actor: Actor, source: Source) -> list[str]:
    """Revoke every approval of the app, mock-only ones too, and unpublish it.

    Returns the revoked hashes. Draft runs get no live tools until someone
    approves again, and published runs stop before their next call. Callers
    check that the user governs the workspace.
    """
    from apps.applications.publishing import app_unpublish

    revoked = []
    with transaction.atomic():
        live = AgentsApproval.objects.select_for_update().filter(
            app=app, revoked_at__isnull=True
        )
        for approval in live:
            approval.revoked_at = timezone.now()
            approval.revoked_by = user
            approval.save(update_fields=["revoked_at", "revoked_by"])
            revoked.append(approval.hash)
        audit_record(
            workspace=app.workspace,
            entry=AuditEntry(
                event_name="app.agents_config.revoked",
                outcome="success",
                summary=f"{actor.display} revoked {len(revoked)} approval(s) of "
                f"agents.json of {app.name}",
                actor=actor,
                source=source,
                target=Target(type="app", id=str(app.pk), name=app.name),
                metadata={"revokedHashes": sorted(set(revoked))},
            ),
        )
        app_unpublish(app=app, actor=actor, source=source, reason="approval revoked")
    logger.info("agents.json approvals revoked: app=%s count=%s", app.pk, len(revoked))
    return revoked
