"""Guard base for routes below `/api/workspaces/{w}/apps/{a}`."""

from apps.applications.selectors import app_find_visible, app_is_builder
from apps.core.errors import NotFound
from apps.workspaces.api.guard import WorkspaceAPIView


class AppAPIView(WorkspaceAPIView):
    """Resolves `self.app` among the apps the member can see; 404 otherwise."""

    def resolve_scope(self, **kwargs) -> None:
        app = app_find_visible(membership=self.membership, app_id=kwargs.get("app_id"))
        if app is None:
            raise NotFound()
        self.app = app

    @property
    def is_builder(self) -> bool:
        return app_is_builder(membership=self.membership, app=self.app)

    def require_builder(self) -> None:
        """Only the creator, collaborators, owners and admins build an app."""
        if not self.is_builder:
            self.deny(
                "forbidden",
                "Only the app's creator, its collaborators, owners and admins may "
                "do this.",
            )
