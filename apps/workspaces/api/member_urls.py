from apps.core.urls import api_path
from apps.workspaces.api.members import (
    MemberCollectionView,
    MemberDetailView,
    WorkspaceDetailView,
)

WORKSPACE = "workspaces/<str:workspace_id>"

urlpatterns = [
    *api_path(WORKSPACE, WorkspaceDetailView.as_view(), name="workspace"),
    *api_path(f"{WORKSPACE}/members", MemberCollectionView.as_view(), name="members"),
    *api_path(
        f"{WORKSPACE}/members/<str:user_id>",
        MemberDetailView.as_view(),
        name="member",
    ),
]
