"""Routes of an app's collaborators."""

from apps.applications.api.collaborators import AppCollaboratorsView
from apps.core.urls import api_path

APP = "workspaces/<str:workspace_id>/apps/<str:app_id>"

urlpatterns = [
    *api_path(
        f"{APP}/collaborators",
        AppCollaboratorsView.as_view(),
        name="app-collaborators",
    ),
]
