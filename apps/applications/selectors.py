"""Reads of apps, scoped by the caller's membership."""

from django.db.models import Q, QuerySet

from apps.applications.models import App, AppSnapshot, Review
from apps.workspaces.roles import role_governs
from apps.workspaces.selectors import parse_id


def apps_visible_to(*, membership) -> QuerySet[App]:
    """Return the apps of the membership's workspace that its user may see.

    Owners and admins see every app; the creator and collaborators see theirs;
    other members see published apps whose teams overlap their own.
    """
    apps = App.objects.filter(workspace_id=membership.workspace_id)
    if role_governs(membership.role):
        return apps
    user = membership.user
    team_ids = membership.teams.values_list("pk", flat=True)
    return apps.filter(
        Q(created_by=user)
        | Q(collaborators=user)
        | Q(publish_status=App.PublishStatus.PUBLISHED, teams__in=team_ids)
    ).distinct()


def app_find_visible(*, membership, app_id) -> App | None:
    parsed = parse_id(app_id)
    if parsed is None:
        return None
    return apps_visible_to(membership=membership).filter(pk=parsed).first()


def app_is_builder(*, membership, app: App) -> bool:
    """Tell whether the member builds this app (creator, collaborator, owner, admin)."""
    if role_governs(membership.role):
        return True
    if app.created_by_id == membership.user_id:
        return True
    return app.collaborators.filter(pk=membership.user_id).exists()


def app_find_in_workspace(*, workspace_id, app_id) -> App | None:
    """Find an app by id inside one workspace, for internal routes."""
    parsed_app, parsed_workspace = parse_id(app_id), parse_id(workspace_id)
    if parsed_app is None or parsed_workspace is None:
        return None
    return App.objects.filter(pk=parsed_app, workspace_id=parsed_workspace).first()


def snapshot_find(*, app: App, kind: str) -> AppSnapshot | None:
    return AppSnapshot.objects.filter(app=app, kind=kind).first()


def snapshot_files(*, app: App, kind: str) -> dict[str, str]:
    snapshot = snapshot_find(app=app, kind=kind)
    return dict(snapshot.files) if snapshot else {}


def reviews_visible_to(*, apps: QuerySet[App]) -> QuerySet[Review]:
    """Return the reviews of `apps`, newest first."""
    return Review.objects.filter(app__in=apps).order_by("-requested_at")


def review_find_visible(*, apps: QuerySet[App], review_id) -> Review | None:
    parsed = parse_id(review_id)
    if parsed is None:
        return None
    return reviews_visible_to(apps=apps).filter(pk=parsed).select_related("app").first()
