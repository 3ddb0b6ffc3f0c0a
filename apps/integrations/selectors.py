"""Reads of integration grants, scoped by workspace and the apps the caller can see."""

from django.db.models import QuerySet

from apps.applications.selectors import apps_visible_to
from apps.integrations.models import IntegrationGrant
from apps.workspaces.selectors import parse_id


def grants_visible_to(*, membership) -> QuerySet[IntegrationGrant]:
    return (
        IntegrationGrant.objects.filter(
            workspace_id=membership.workspace_id,
            app__in=apps_visible_to(membership=membership),
        )
        .select_related("app")
        .prefetch_related("secrets")
    )


def grant_find_visible(*, membership, grant_id) -> IntegrationGrant | None:
    parsed = parse_id(grant_id)
    if parsed is None:
        return None
    return grants_visible_to(membership=membership).filter(pk=parsed).first()


def grant_for_call(*, app, domain: str, key_slug: str) -> IntegrationGrant | None:
    """Return the active grant that powers calls of `app` to (domain, keySlug).

    A grant powers only its own app: another app's grant for the same domain is
    never returned. Orphaned grants power nothing.
    """
    return (
        IntegrationGrant.objects.filter(
            workspace_id=app.workspace_id,
            app=app,
            domain=domain,
            key_slug=key_slug,
            status=IntegrationGrant.Status.ACTIVE,
        )
        .prefetch_related("secrets")
        .first()
    )


def grants_for_app(*, app) -> QuerySet[IntegrationGrant]:
    return IntegrationGrant.objects.filter(workspace_id=app.workspace_id, app=app)
