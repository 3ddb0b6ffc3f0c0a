"""Invitations: reads scoped by workspace, and the writes that create, resend,
revoke, accept and expire them.

An invitation token reads `inv_<prefix>_<secret>`. Only the prefix and a keyed
hash are stored, so a token is returned once, when it is issued, and a new token
replaces the old one on every resend.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.audit.services import (
    Actor,
    AuditEntry,
    Source,
    Target,
    audit_record,
    short_hash,
)
from apps.core.errors import (
    ApiError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from apps.core.tokens import issue_token, token_matches, token_prefix
from apps.workspaces.models import Invitation, Membership, Team, TeamMembership
from apps.workspaces.roles import Role, role_has_permission
from apps.workspaces.selectors import parse_id
from apps.workspaces.services import user_sync_staff

logger = logging.getLogger(__name__)

TOKEN_KIND = "inv"
INVITATION_LIFETIME = timedelta(days=7)
MAX_TEAMS = 50


class InvitationExpired(ApiError):
    status_code = 410
    code = "invitation_expired"
    detail = (
        "This invitation expired; ask an owner or admin of the workspace to resend it."
    )


# Reads


def invitations_list(*, workspace, status: str | None = None) -> QuerySet[Invitation]:
    """Return the workspace's invitations, newest first, with teams and inviter."""
    invitations = (
        Invitation.objects.filter(workspace=workspace)
        .select_related("invited_by")
        .prefetch_related("teams")
    )
    return _filter_status(invitations, status)


def _filter_status(invitations: QuerySet, status: str | None) -> QuerySet:
    """Filter by status. A pending invitation past its expiry counts as expired."""
    if not status:
        return invitations
    now = timezone.now()
    pending = Q(status=Invitation.Status.PENDING)
    if status == Invitation.Status.PENDING:
        return invitations.filter(pending, expires_at__gt=now)
    if status == Invitation.Status.EXPIRED:
        return invitations.filter(
            Q(status=Invitation.Status.EXPIRED) | pending & Q(expires_at__lte=now)
        )
    return invitations.filter(status=status)


def invitation_find(*, workspace, invitation_id) -> Invitation | None:
    """Return the workspace's invitation with this id, or None for any other id."""
    parsed = parse_id(invitation_id)
    if parsed is None:
        return None
    return (
        invitations_list(workspace=workspace)
        .filter(pk=parsed)
        .select_related("workspace")
        .first()
    )


def invitation_find_by_token(*, token: str) -> Invitation | None:
    """Return the invitation that `token` proves, in any status, or None."""
    prefix = token_prefix(TOKEN_KIND, token or "")
    if prefix is None:
        return None
    invitation = (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(token_prefix=prefix)
        .first()
    )
    if invitation is None or not token_matches(
        TOKEN_KIND, token, invitation.token_hash
    ):
        return None
    return invitation


def invitation_is_expired(invitation: Invitation, *, now=None) -> bool:
    """Return True when the invitation expired, whether or not it is marked so."""
    if invitation.status == Invitation.Status.EXPIRED:
        return True
    now = now or timezone.now()
    return invitation.status == Invitation.Status.PENDING and (
        invitation.expires_at <= now
    )


def invitation_check_token(*, token: str) -> Invitation:
    """Return the pending, unexpired invitation that `token` proves.

    Raises NotFound for an unknown, revoked, accepted or replaced token, and
    InvitationExpired when the invitation expired.
    """
    invitation = invitation_find_by_token(token=token)
    if invitation is None:
        raise NotFound()

    if invitation_is_expired(invitation):
        raise InvitationExpired()

    if invitation.status != Invitation.Status.PENDING:
        raise NotFound()
    return invitation


def accept_url(token: str) -> str:
    """Return the browser link that accepts the invitation of `token`."""
    return f"{settings.SECOND_PUBLIC_URL.rstrip('/')}/invitations/{token}"


def mask_email(email: str) -> str:
    """Mask an address: `alice@example.com` becomes `a***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def email_metadata(email: str) -> dict:
    return {"emailMasked": mask_email(email), "emailHash": short_hash(email)}


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


# Checks shared by the writes


def _deny(*, membership, source: Source, code: str, detail: str, permission: str):
    """Audit `access.denied` for the inviter and raise the 403 with `code`."""
    audit_record(
        workspace=membership.workspace,
        entry=AuditEntry(
            event_name="access.denied",
            outcome="denied",
            severity="warning",
            summary=f"{membership.user.name} was denied an invitation change",
            actor=Actor.for_user(membership.user, membership.role),
            source=source,
            target=Target(type="invitation"),
            metadata={"code": code, "permission": permission},
        ),
    )
    logger.info(
        "invitation denied: workspace=%s user=%s code=%s",
        membership.workspace_id,
        membership.user_id,
        code,
    )
    raise PermissionDenied(code, detail)


def _check_invite_permission(*, membership, source: Source) -> None:
    if not role_has_permission(membership.role, "members:invite"):
        _deny(
            membership=membership,
            source=source,
            code="workspace_invitations_forbidden",
            detail="Inviting members needs the members:invite permission, which "
            "owners and admins have; ask one of them.",
            permission="members:invite",
        )


def _check_owner_permission(*, membership, role: str, source: Source) -> None:
    if role == Role.OWNER and not role_has_permission(
        membership.role, "members:manage-owner"
    ):
        _deny(
            membership=membership,
            source=source,
            code="workspace_owner_invite_forbidden",
            detail="Only an owner may invite, resend or revoke an owner "
            "invitation; ask an owner, or invite with role admin or member.",
            permission="members:manage-owner",
        )


def _check_may_invite(*, membership, role: str, source: Source) -> None:
    """Raise 403 unless `membership` may invite, and may invite `role`."""
    _check_invite_permission(membership=membership, source=source)
    _check_owner_permission(membership=membership, role=role, source=source)


def _check_role(role: str) -> None:
    if role not in set(Role):
        raise ApiError(
            "invalid_role",
            f"The role {role!r} is not owner, admin or member; send one of them.",
        )


def _check_email(email: str) -> None:
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(
            {"email": ["Enter a valid email address."]},
            detail=f"The email address {email!r} is invalid; send a valid address.",
        ) from None


def _teams_of(*, workspace, team_ids) -> list[Team]:
    """Return the teams named by `team_ids`, all of which must be in `workspace`.

    Raises ValidationFailed with `fields.teamIds` for a malformed id, an id of
    another workspace or an id that does not exist.
    """
    team_ids = list(team_ids or [])
    if len(team_ids) > MAX_TEAMS:
        raise ValidationFailed(
            {"teamIds": [f"Send at most {MAX_TEAMS} team ids."]},
        )

    parsed = {parse_id(team_id) for team_id in team_ids}
    teams = list(Team.objects.filter(workspace=workspace, pk__in=parsed - {None}))
    found = {team.pk for team in teams}
    unknown = [str(team_id) for team_id in team_ids if parse_id(team_id) not in found]
    if unknown:
        raise ValidationFailed(
            {
                "teamIds": [
                    f"No team of this workspace has the id {team_id!r}."
                    for team_id in unknown
                ]
            },
            detail=f"teamIds: {', '.join(unknown)} are not teams of this "
            "workspace; send ids from GET /api/workspaces/{id}/teams.",
        )
    return teams


def _check_not_member(*, workspace, email: str) -> None:
    if Membership.objects.filter(
        workspace=workspace, user__email__iexact=email
    ).exists():
        raise Conflict(
            "workspace_member_already_exists",
            f"{email} is already a member of this workspace; change "
            "their role instead of inviting them.",
        )


def _check_no_pending(*, workspace, email: str) -> None:
    """Mark a past-due pending invitation expired, then reject a live one."""
    _expire_each(
        Invitation.objects.filter(
            workspace=workspace,
            email=email,
            status=Invitation.Status.PENDING,
            expires_at__lte=timezone.now(),
        )
    )

    pending = Invitation.objects.filter(
        workspace=workspace, email=email, status=Invitation.Status.PENDING
    ).exists()
    if pending:
        raise _pending_conflict(email)


def _pending_conflict(email: str) -> Conflict:
    return Conflict(
        "workspace_invitation_already_pending",
        f"{email} already has a pending invitation to this workspace; "
        "resend or revoke it instead.",
    )


def _check_owns(*, membership, invitation: Invitation) -> None:
    """Raise NotFound unless the invitation belongs to the membership's workspace."""
    if invitation.workspace_id != membership.workspace_id:
        raise NotFound()


def _check_pending(invitation: Invitation, action: str) -> None:
    if invitation.status != Invitation.Status.PENDING:
        raise Conflict(
            "invitation_not_pending",
            f"The invitation {invitation.pk} is {invitation.status}, so it cannot "
            f"be {action}; create a new invitation instead.",
        )


def _audit(*, invitation: Invitation, event_name: str, actor: Actor, source, summary):
    audit_record(
        workspace=invitation.workspace,
        entry=AuditEntry(
            event_name=event_name,
            outcome="success",
            summary=summary,
            actor=actor,
            source=source,
            target=Target(
                type="invitation",
                id=str(invitation.pk),
                name=mask_email(invitation.email),
            ),
            metadata={
                **email_metadata(invitation.email),
                "role": invitation.role,
                "expiresAt": invitation.expires_at.isoformat(),
                "sendCount": invitation.send_count,
            },
        ),
    )


# Writes


def invitation_create(
    *, workspace, inviter_membership, email: str, role: str, team_ids, source: Source
) -> tuple[Invitation, str]:
    """Create a pending invitation and return it with its token, which is shown once.

    Raises PermissionDenied `workspace_invitations_forbidden` or
    `workspace_owner_invite_forbidden`, ApiError `invalid_role`, ValidationFailed
    for the email or `teamIds`, and Conflict `workspace_member_already_exists` or
    `workspace_invitation_already_pending`. Raises NotFound when
    `inviter_membership` belongs to another workspace.
    """
    if inviter_membership.workspace_id != workspace.pk:
        raise NotFound()
    email = normalise_email(email)
    _check_invite_permission(membership=inviter_membership, source=source)
    _check_role(role)
    _check_owner_permission(membership=inviter_membership, role=role, source=source)

    _check_email(email)
    teams = _teams_of(workspace=workspace, team_ids=team_ids)
    _check_not_member(workspace=workspace, email=email)
    _check_no_pending(workspace=workspace, email=email)

    issued = issue_token(TOKEN_KIND)
    now = timezone.now()
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                workspace=workspace,
                email=email,
                role=role,
                token_prefix=issued.prefix,
                token_hash=issued.token_hash,
                invited_by=inviter_membership.user,
                expires_at=now + INVITATION_LIFETIME,
                last_sent_at=now,
            )
            invitation.teams.set(teams)
    except IntegrityError:
        # Another request created a pending invitation for this email meanwhile.
        raise _pending_conflict(email) from None

    actor = Actor.for_user(inviter_membership.user, inviter_membership.role)
    _audit(
        invitation=invitation,
        event_name="invitation.created",
        actor=actor,
        source=source,
        summary=f"{actor.display} invited {mask_email(email)} as {role}",
    )
    logger.info(
        "invitation created: id=%s workspace=%s by=%s",
        invitation.pk,
        workspace.pk,
        inviter_membership.user_id,
    )
    return invitation, issued.token


def _reissue(*, invitation: Invitation, actor: Actor, source: Source) -> str:
    """Replace the token of a pending invitation, extend its expiry and audit it."""
    _check_pending(invitation, "resent")

    issued = issue_token(TOKEN_KIND)
    now = timezone.now()
    invitation.token_prefix = issued.prefix
    invitation.token_hash = issued.token_hash
    invitation.expires_at = now + INVITATION_LIFETIME
    invitation.last_sent_at = now
    invitation.send_count += 1
    invitation.save(
        update_fields=[
            "token_prefix",
            "token_hash",
            "expires_at",
            "last_sent_at",
            "send_count",
        ]
    )

    _audit(
        invitation=invitation,
        event_name="invitation.resent",
        actor=actor,
        source=source,
        summary=f"{actor.display} resent the invitation of "
        f"{mask_email(invitation.email)}",
    )
    logger.info(
        "invitation resent: id=%s workspace=%s count=%s",
        invitation.pk,
        invitation.workspace_id,
        invitation.send_count,
    )
    return issued.token


def invitation_resend(
    *, invitation: Invitation, inviter_membership, source: Source
) -> tuple[Invitation, str]:
    """Issue a new token for a pending invitation and extend its expiry.

    The previous token stops working. Returns the invitation and the new token.
    Raises PermissionDenied as `invitation_create` does for the invitation's
    role, and Conflict `invitation_not_pending` unless it is pending.
    """
    _check_owns(membership=inviter_membership, invitation=invitation)
    _check_may_invite(
        membership=inviter_membership, role=invitation.role, source=source
    )

    actor = Actor.for_user(inviter_membership.user, inviter_membership.role)
    token = _reissue(invitation=invitation, actor=actor, source=source)
    return invitation, token


def invitation_link_issue(*, invitation: Invitation, source: Source) -> str:
    """Issue a new token for a pending invitation on an operator's command.

    Operators on the server's command line need no workspace role. The previous
    token stops working and the event is audited as `invitation.resent`.
    Raises Conflict `invitation_not_pending` unless the invitation is pending.
    """
    actor = Actor.system("manage.py invitation_link")
    return _reissue(invitation=invitation, actor=actor, source=source)


def invitation_revoke(
    *, invitation: Invitation, inviter_membership, source: Source
) -> Invitation:
    """Mark a pending invitation revoked, so its token stops working.

    Raises PermissionDenied as `invitation_create` does for the invitation's
    role, and Conflict `invitation_not_pending` unless it is pending.
    """
    _check_owns(membership=inviter_membership, invitation=invitation)
    _check_may_invite(
        membership=inviter_membership, role=invitation.role, source=source
    )
    _check_pending(invitation, "revoked")

    invitation.status = Invitation.Status.REVOKED
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["status", "revoked_at"])

    actor = Actor.for_user(inviter_membership.user, inviter_membership.role)
    _audit(
        invitation=invitation,
        event_name="invitation.revoked",
        actor=actor,
        source=source,
        summary=f"{actor.display} revoked the invitation of "
        f"{mask_email(invitation.email)}",
    )
    logger.info(
        "invitation revoked: id=%s workspace=%s by=%s",
        invitation.pk,
        invitation.workspace_id,
        inviter_membership.user_id,
    )
    return invitation


def invitation_check_acceptable(*, invitation: Invitation, user) -> None:
    """Check that `user` may accept the invitation, without changing anything.

    Raises PermissionDenied `invitation_email_mismatch` when the invitation is
    for another email address, and Conflict `workspace_member_already_exists`
    when `user` is already a member.
    """
    if normalise_email(user.email) != invitation.email:
        raise PermissionDenied(
            "invitation_email_mismatch",
            f"This invitation is for {mask_email(invitation.email)}, but you are "
            f"signed in as {user.name}; sign in with the invited email address.",
        )

    if Membership.objects.filter(workspace=invitation.workspace, user=user).exists():
        raise Conflict(
            "workspace_member_already_exists",
            f"{user.name} is already a member of {invitation.workspace.name}.",
        )


def _join(*, invitation: Invitation, user) -> Membership:
    """Create the membership and its teams: General plus the invitation's."""
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                workspace=invitation.workspace,
                user=user,
                role=invitation.role,
                source=Membership.Source.INVITATION,
            )
    except IntegrityError:
        raise Conflict(
            "workspace_member_already_exists",
            f"{user.name} is already a member of {invitation.workspace.name}.",
        ) from None

    teams = {
        team.pk: team
        for team in Team.objects.filter(workspace=invitation.workspace, is_default=True)
    }
    teams.update(
        {
            team.pk: team
            for team in invitation.teams.filter(workspace=invitation.workspace)
        }
    )
    for team in teams.values():
        TeamMembership.objects.create(team=team, membership=membership)
    return membership


def invitation_accept(*, token: str, user, source: Source) -> Membership:
    """Accept the invitation of `token` as `user` and return the new membership.

    Creates the membership with the invitation's role, joins `General` and the
    invitation's teams, derives `is_staff` and audits `invitation.accepted` and
    `member.added`. Raises NotFound for an unknown, revoked, accepted or replaced
    token, InvitationExpired, PermissionDenied `invitation_email_mismatch` and
    Conflict `workspace_member_already_exists`.
    """
    with transaction.atomic():
        found = invitation_check_token(token=token)
        # On PostgreSQL the row lock makes a second, concurrent accept wait and
        # then see the invitation accepted. SQLite ignores select_for_update and
        # serialises the writes instead.
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("workspace")
            .get(pk=found.pk)
        )
        if invitation.status != Invitation.Status.PENDING:
            raise NotFound()
        invitation_check_acceptable(invitation=invitation, user=user)

        membership = _join(invitation=invitation, user=user)
        invitation.status = Invitation.Status.ACCEPTED
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["status", "accepted_at", "accepted_by"])

    user_sync_staff(user=user)
    _audit_accepted(invitation=invitation, membership=membership, source=source)
    logger.info(
        "invitation accepted: id=%s workspace=%s user=%s membership=%s",
        invitation.pk,
        invitation.workspace_id,
        user.pk,
        membership.pk,
    )
    return membership


def _audit_accepted(*, invitation: Invitation, membership, source: Source) -> None:
    user = membership.user
    actor = Actor.for_user(user, membership.role)
    _audit(
        invitation=invitation,
        event_name="invitation.accepted",
        actor=actor,
        source=source,
        summary=f"{user.name} accepted the invitation as {membership.role}",
    )
    audit_record(
        workspace=invitation.workspace,
        entry=AuditEntry(
            event_name="member.added",
            outcome="success",
            summary=f"{user.name} joined as {membership.role} by invitation",
            actor=actor,
            source=source,
            target=Target(type="membership", id=str(membership.pk), name=user.name),
            metadata={"role": membership.role, "invitationId": str(invitation.pk)},
        ),
    )


def invitation_expire_due() -> int:
    """Mark every pending invitation past its expiry as expired and return the count.

    Running it again changes nothing until more invitations fall due.
    """
    count = _expire_each(
        Invitation.objects.filter(
            status=Invitation.Status.PENDING, expires_at__lte=timezone.now()
        )
    )
    if count:
        logger.info("invitations expired: count=%s", count)
    return count


def _expire_each(due) -> int:
    """Mark each invitation of `due` expired, one locked save per row.

    A row is saved, not updated in bulk, so that django-auditlog keeps its diff.
    The lock and the status check under it leave an invitation that was
    accepted or revoked meanwhile unchanged.
    """
    count = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            invitation = (
                Invitation.objects.select_for_update()
                .filter(pk=pk, status=Invitation.Status.PENDING)
                .first()
            )
            if invitation is None:
                continue
            invitation.status = Invitation.Status.EXPIRED
            invitation.save(update_fields=["status"])
            count += 1
    return count
