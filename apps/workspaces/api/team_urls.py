"""Routes of a workspace's teams and of their members."""

from apps.core.urls import api_path
from apps.workspaces.api.teams import (
    TeamCollectionView,
    TeamDetailView,
    TeamMemberView,
)

WORKSPACE = "workspaces/<str:workspace_id>"
TEAM = f"{WORKSPACE}/teams/<str:team_id>"

urlpatterns = [
    *api_path(f"{WORKSPACE}/teams", TeamCollectionView.as_view(), name="teams"),
    *api_path(TEAM, TeamDetailView.as_view(), name="team"),
    *api_path(
        f"{TEAM}/members/<str:user_id>", TeamMemberView.as_view(), name="team-member"
    ),
]
