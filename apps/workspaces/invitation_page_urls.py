"""Browser routes of the invitation accept link, included at the site root."""

from django.urls import path

from apps.workspaces.invitation_views import invitation_page, workspace_joined

urlpatterns = [
    path("invitations/<str:token>", invitation_page, name="invitation-page"),
    path(
        "invitations/joined/<str:workspace_id>",
        workspace_joined,
        name="invitation-joined",
    ),
]
