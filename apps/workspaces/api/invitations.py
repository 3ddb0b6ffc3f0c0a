"""Invitation routes: list, create, resend and revoke in a workspace, and accept.

The accept link (`acceptUrl`) contains the invitation token. It is returned only
by the create and resend responses, because the product stores a hash of it.
"""

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.services import Source
from apps.core.errors import NotFound, ValidationFailed
from apps.workspaces.api.guard import WorkspaceAPIView
from apps.workspaces.api.views import workspace_body
from apps.workspaces.invitations import (
    MAX_TEAMS,
    accept_url,
    invitation_accept,
    invitation_create,
    invitation_find,
    invitation_is_expired,
    invitation_resend,
    invitation_revoke,
    invitations_list,
)
from apps.workspaces.models import Invitation

INVITE_RULE = (
    "members:invite",
    "workspace_invitations_forbidden",
    "Managing invitations needs the members:invite permission, which owners and "
    "admins have; ask one of them.",
)


class InvitationCreateInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.CharField(max_length=16)
    teamIds = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=MAX_TEAMS,
    )


def invitation_body(invitation: Invitation) -> dict:
    """Serialise an invitation; a pending one past its expiry reads `expired`."""
    inviter = invitation.invited_by
    shown_status = (
        Invitation.Status.EXPIRED
        if invitation_is_expired(invitation)
        else invitation.status
    )
    return {
        "id": str(invitation.pk),
        "email": invitation.email,
        "role": invitation.role,
        "teamIds": [str(team.pk) for team in invitation.teams.all()],
        "status": shown_status,
        "invitedBy": {"id": str(inviter.pk), "name": inviter.name} if inviter else None,
        "createdAt": invitation.created_at.isoformat(),
        "expiresAt": invitation.expires_at.isoformat(),
        "lastSentAt": invitation.last_sent_at.isoformat(),
    }


def status_filter(request) -> str | None:
    """Return the `status` query parameter, checked against the known statuses."""
    value = request.query_params.get("status")
    if value is None or value in Invitation.Status.values:
        return value
    raise ValidationFailed(
        {"status": [f"Use one of {', '.join(Invitation.Status.values)}."]},
        detail=f"The status {value!r} is unknown; use one of "
        f"{', '.join(Invitation.Status.values)}.",
    )


class InvitationCollectionView(WorkspaceAPIView):
    """`GET` lists the workspace's invitations; `POST` invites an email address."""

    permissions = {"GET": INVITE_RULE, "POST": INVITE_RULE}

    def get(self, request, workspace_id):
        invitations = invitations_list(
            workspace=self.workspace, status=status_filter(request)
        )
        return Response([invitation_body(invitation) for invitation in invitations])

    def post(self, request, workspace_id):
        data = InvitationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = invitation_create(
            workspace=self.workspace,
            inviter_membership=self.membership,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            team_ids=data.validated_data["teamIds"],
            source=self.audit_source,
        )
        body = {**invitation_body(invitation), "acceptUrl": accept_url(token)}
        return Response(body, status=status.HTTP_201_CREATED)


class InvitationActionView(WorkspaceAPIView):
    """Base of the routes below one invitation; another workspace's is 404."""

    permissions = {"POST": INVITE_RULE}

    def resolve_scope(self, *, invitation_id, **kwargs) -> None:
        invitation = invitation_find(
            workspace=self.workspace, invitation_id=invitation_id
        )
        if invitation is None:
            raise NotFound()
        self.invitation = invitation


class InvitationResendView(InvitationActionView):
    """`POST` issues a new accept link; the previous link stops working."""

    def post(self, request, workspace_id, invitation_id):
        invitation, token = invitation_resend(
            invitation=self.invitation,
            inviter_membership=self.membership,
            source=self.audit_source,
        )
        body = {**invitation_body(invitation), "acceptUrl": accept_url(token)}
        return Response(body)


class InvitationRevokeView(InvitationActionView):
    """`POST` revokes a pending invitation."""

    def post(self, request, workspace_id, invitation_id):
        invitation = invitation_revoke(
            invitation=self.invitation,
            inviter_membership=self.membership,
            source=self.audit_source,
        )
        return Response(invitation_body(invitation))


class InvitationAcceptView(APIView):
    """`POST /api/invitations/{token}/accept` joins the signed-in account."""

    def post(self, request, token):
        membership = invitation_accept(
            token=token, user=request.user, source=Source.from_request(request)
        )
        body = {
            "workspace": workspace_body(membership.workspace, membership.role),
            "membershipId": str(membership.pk),
            "role": membership.role,
            "teamIds": [str(team.pk) for team in membership.teams.all()],
        }
        return Response(body)
