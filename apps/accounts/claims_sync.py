"""Workspace memberships derived from the identity provider's claims at each login.

`SECOND_OIDC_ROLE_CLAIM` names the claim and `SECOND_OIDC_ROLE_MAP` maps each of
its values to workspace roles. The sync manages only the memberships that it
created (`source=identity_claim`), so memberships added by hand, by invitation or
by creating the workspace keep their role whatever roles the claim grants.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import (
    Actor,
    AuditEntry,
    Source,
    Target,
    audit_record,
    short_hash,
)
from apps.core.errors import ApiError, Conflict, NotFound
from apps.workspaces.invitations import _audit_accepted, _join, normalise_email
from apps.workspaces.members import _audit_member, _check_keeps_an_owner, _locked
from apps.workspaces.models import (
    Invitation,
    Membership,
    Team,
    TeamMembership,
    Workspace,
)
from apps.workspaces.roles import Role
from apps.workspaces.services import user_sync_staff

logger = logging.getLogger(__name__)

CLAIM_SOURCE = Membership.Source.IDENTITY_CLAIM
CLAIM_ACTOR = Actor.system("identity provider")
ROLE_STRENGTH = {Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}
REMOVAL_REASON = "the identity provider claim no longer grants the membership"


@dataclass(frozen=True)
class DesiredRole:
    """The role that the claim grants in one workspace."""

    workspace: Workspace
    role: str


# Reading the claim and the map


def claim_values(claims: dict) -> list[str]:
    """Return the role claim's values. A single string counts as a one-item list."""
    value = (claims or {}).get(settings.SECOND_OIDC_ROLE_CLAIM)
    if isinstance(value, str):
        return [value]

    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def _map_entries(group: str) -> list[dict]:
    """Return the role map's entries for `group`, dropping malformed ones."""
    entries = settings.SECOND_OIDC_ROLE_MAP.get(group) or []
    if isinstance(entries, dict):
        entries = [entries]

    valid = []
    for entry in entries:
        role = entry.get("role") if isinstance(entry, dict) else None
        slug = entry.get("workspace") if isinstance(entry, dict) else None
        if role in set(Role) and isinstance(slug, str) and slug:
            valid.append({"workspace": slug.lower(), "role": role})
        else:
            logger.warning("role map entry is invalid and skipped: group=%s", group)
    return valid


def _strongest_roles(groups: list[str]) -> dict[str, tuple[str, str]]:
    """Map each workspace slug to its strongest role and the group granting it."""
    strongest: dict[str, tuple[str, str]] = {}
    for group in groups:
        for entry in _map_entries(group):
            slug, role = entry["workspace"], entry["role"]
            current = strongest.get(slug)
            if current is None or ROLE_STRENGTH[role] > ROLE_STRENGTH[current[0]]:
                strongest[slug] = (role, group)
    return strongest


def desired_roles(claims: dict) -> list[DesiredRole]:
    """Resolve the claim to the workspaces and roles it grants.

    A slug that names no workspace is skipped with a warning that names the slug
    and the group that mapped to it.
    """
    strongest = _strongest_roles(claim_values(claims))

    workspaces = {
        workspace.slug: workspace
        for workspace in Workspace.objects.filter(slug__in=list(strongest))
    }

    desired = []
    for slug, (role, group) in strongest.items():
        workspace = workspaces.get(slug)
        if workspace is None:
            logger.warning(
                "role map names an unknown workspace: slug=%s group=%s", slug, group
            )
            continue
        desired.append(DesiredRole(workspace=workspace, role=role))
    return desired


# Audit of rejected changes


def _audit_conflict(
    event_name: str, membership: Membership, source: Source, summary: str, **extra
) -> None:
    """Audit a change that the claim requested but the last-owner rule rejected."""
    audit_record(
        workspace=membership.workspace,
        entry=AuditEntry(
            event_name=event_name,
            outcome="failure",
            severity="warning",
            summary=summary,
            actor=CLAIM_ACTOR,
            source=source,
            target=Target(
                type="membership", id=str(membership.pk), name=membership.user.name
            ),
            related_ids={"userId": str(membership.user_id)},
            metadata={"reason": "last_owner", "source": CLAIM_SOURCE, **extra},
        ),
    )
    logger.warning(
        "identity claim change rejected for the last owner: event=%s membership=%s",
        event_name,
        membership.pk,
    )


# Writes, one membership at a time


def _relocked(membership: Membership) -> Membership | None:
    """Re-read `membership` under a row lock, or return None when it was deleted."""
    try:
        return _locked(membership)
    except NotFound:
        logger.info("identity claim sync skipped: membership=%s", membership.pk)
        return None


def _is_last_owner(membership: Membership) -> bool:
    """Return True when `membership` is the workspace's last owner.

    Locks the workspace's owner rows until the surrounding transaction ends.
    """
    try:
        _check_keeps_an_owner(membership)
    except ApiError:
        return True
    return False


def _membership_add(*, workspace, user, role: str, source: Source) -> None:
    """Add a claim-managed membership with `role` and join the General team.

    A membership created meanwhile by a concurrent login is left as it is.
    """
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                workspace=workspace, user=user, role=role, source=CLAIM_SOURCE
            )
            general = Team.objects.get(workspace=workspace, is_default=True)
            TeamMembership.objects.create(team=general, membership=membership)
    except IntegrityError:
        logger.info(
            "identity claim membership exists already: workspace=%s user=%s",
            workspace.pk,
            user.pk,
        )
        return

    user_sync_staff(user=user)

    _audit_member(
        "member.added",
        membership,
        CLAIM_ACTOR,
        source,
        f"{user.name} joined as {role} through the identity provider claim",
        metadata={"role": role, "source": CLAIM_SOURCE},
    )
    logger.info(
        "identity claim membership added: membership=%s workspace=%s user=%s",
        membership.pk,
        workspace.pk,
        user.pk,
    )


def _membership_change_role(*, membership, role: str, source: Source) -> None:
    """Give a claim-managed membership `role`, unless it demotes the last owner."""
    with transaction.atomic():
        membership = _relocked(membership)
        if membership is None or membership.role == role:
            return
        previous = membership.role
        rejected = previous == Role.OWNER and _is_last_owner(membership)
        if not rejected:
            membership.role = role
            membership.save(update_fields=["role"])

    if rejected:
        _audit_conflict(
            "member.role_changed",
            membership,
            source,
            f"{membership.user.name} stays owner: the identity provider claim "
            "would demote the last owner",
            fromRole=previous,
            toRole=role,
        )
        return

    user_sync_staff(user=membership.user)

    _audit_member(
        "member.role_changed",
        membership,
        CLAIM_ACTOR,
        source,
        f"{membership.user.name} is now {role} (was {previous}) through the "
        "identity provider claim",
        metadata={"fromRole": previous, "toRole": role, "source": CLAIM_SOURCE},
        changes=[
            {"field": "role", "before": short_hash(previous), "after": short_hash(role)}
        ],
    )
    logger.info("identity claim role changed: membership=%s", membership.pk)


def _membership_remove(*, membership, source: Source) -> None:
    """Remove a claim-managed membership, unless it is the last owner's.

    Does what `member_remove` does for the removed member: the user leaves the
    collaborators of the workspace's apps, their open runs fail and their
    connected accounts are revoked.
    """
    from apps.applications.collaborators import app_collaborators_remove_user
    from apps.execution.runs import runs_fail_for_user
    from apps.integrations.connected_accounts import accounts_revoke_for_user

    with transaction.atomic():
        membership = _relocked(membership)
        if membership is None:
            return
        rejected = membership.role == Role.OWNER and _is_last_owner(membership)
        user, workspace, membership_id = (
            membership.user,
            membership.workspace,
            membership.pk,
        )
        if not rejected:
            app_collaborators_remove_user(workspace=workspace, user=user)
            membership.delete()

    if rejected:
        _audit_conflict(
            "member.removed",
            membership,
            source,
            f"{user.name} stays owner: the identity provider claim would remove "
            "the last owner",
            role=Role.OWNER,
        )
        return

    user_sync_staff(user=user)
    # The removed member's runs must not go on acting for them.
    runs_fail_for_user(workspace=workspace, user=user)
    # Their connected accounts must not keep powering calls in this workspace.
    # Revocation at the OAuth provider runs here, outside any transaction.
    accounts_revoke_for_user(
        workspace=workspace,
        user=user,
        actor=CLAIM_ACTOR,
        source=source,
        reason=REMOVAL_REASON,
    )

    membership.pk = membership_id
    _audit_member(
        "member.removed",
        membership,
        CLAIM_ACTOR,
        source,
        f"{user.name} was removed: the identity provider claim no longer grants "
        "the membership",
        metadata={"role": membership.role, "source": CLAIM_SOURCE},
    )
    logger.info("identity claim membership removed: membership=%s", membership_id)


def memberships_sync_from_claims(*, user, claims: dict, source: Source) -> None:
    """Add, change and remove the user's claim-managed memberships to match the claim.

    A workspace the claim grants gets a new membership with the granted role, or
    a role change when the membership is claim-managed. A membership of another
    source is never changed. A claim-managed membership that the claim no longer
    grants is removed. The workspace's last owner is never demoted or removed,
    and the rejected change is audited with outcome `failure`. An absent claim
    counts as an empty one, so it removes every claim-managed membership.
    """
    desired = desired_roles(claims)
    existing = {
        membership.workspace_id: membership
        for membership in Membership.objects.select_related("workspace", "user")
        .filter(user=user)
        .order_by("created_at")
    }

    for grant in desired:
        membership = existing.get(grant.workspace.pk)
        if membership is None:
            _membership_add(
                workspace=grant.workspace, user=user, role=grant.role, source=source
            )
        elif membership.source == CLAIM_SOURCE:
            _membership_change_role(
                membership=membership, role=grant.role, source=source
            )

    granted = {grant.workspace.pk for grant in desired}
    for workspace_id, membership in existing.items():
        if membership.source == CLAIM_SOURCE and workspace_id not in granted:
            _membership_remove(membership=membership, source=source)

    logger.info("identity claim sync done: user=%s granted=%s", user.pk, len(desired))


# Invitations


def _pending_invitations(*, user, email: str):
    """Return the pending, unexpired invitations for `email` where `user` is not
    yet a member."""
    return (
        Invitation.objects.filter(
            email__iexact=email,
            status=Invitation.Status.PENDING,
            expires_at__gt=timezone.now(),
        )
        .exclude(workspace__memberships__user=user)
        .select_related("workspace")
        .order_by("created_at")
    )


def _invitation_accept(*, invitation: Invitation, user, source: Source) -> bool:
    """Accept one invitation for `user`, or return False when it is no longer open."""
    try:
        with transaction.atomic():
            invitation = (
                Invitation.objects.select_for_update()
                .select_related("workspace")
                .get(pk=invitation.pk)
            )
            if (
                invitation.status != Invitation.Status.PENDING
                or invitation.expires_at <= timezone.now()
            ):
                logger.info("invitation no longer pending: id=%s", invitation.pk)
                return False
            membership = _join(invitation=invitation, user=user)
            invitation.status = Invitation.Status.ACCEPTED
            invitation.accepted_at = timezone.now()
            invitation.accepted_by = user
            invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
    except Conflict:
        # A concurrent login or request created the membership meanwhile.
        logger.info(
            "invitation skipped, already a member: id=%s user=%s",
            invitation.pk,
            user.pk,
        )
        return False

    user_sync_staff(user=user)

    _audit_accepted(invitation=invitation, membership=membership, source=source)
    logger.info(
        "invitation accepted at login: id=%s workspace=%s user=%s membership=%s",
        invitation.pk,
        invitation.workspace_id,
        user.pk,
        membership.pk,
    )
    return True


def invitations_accept_at_login(*, user, source: Source) -> int:
    """Accept the user's pending invitations when the provider verified the email.

    Each pending, unexpired invitation for the user's email, compared in lower
    case, in a workspace where the user is not yet a member, becomes a membership
    with the invitation's role, `General` and the invitation's teams. Returns how
    many were accepted, which is 0 for an unverified or empty email.
    """
    email = normalise_email(user.email)
    if not email:
        logger.info("invitations not accepted at login, no email: user=%s", user.pk)
        return 0

    if not user.email_verified:
        logger.info(
            "invitations not accepted at login, email unverified: user=%s", user.pk
        )
        return 0

    accepted = 0
    for invitation in _pending_invitations(user=user, email=email):
        if _invitation_accept(invitation=invitation, user=user, source=source):
            accepted += 1
    return accepted
