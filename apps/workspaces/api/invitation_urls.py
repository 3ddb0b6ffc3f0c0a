"""Invitation routes below `/api/`."""

from apps.core.urls import api_path
from apps.workspaces.api.invitations import (
    InvitationAcceptView,
    InvitationCollectionView,
    InvitationResendView,
    InvitationRevokeView,
)

INVITATIONS = "workspaces/<str:workspace_id>/invitations"
INVITATION = f"{INVITATIONS}/<str:invitation_id>"

urlpatterns = [
    *api_path(INVITATIONS, InvitationCollectionView.as_view(), name="invitations"),
    *api_path(
        f"{INVITATION}/resend",
        InvitationResendView.as_view(),
        name="invitation-resend",
    ),
    *api_path(
        f"{INVITATION}/revoke",
        InvitationRevokeView.as_view(),
        name="invitation-revoke",
    ),
    *api_path(
        "invitations/<str:token>/accept",
        InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
]
