"""The request guard every workspace route inherits.

In order, a request proves who (DRF authentication and `IsIdentified`), where
(the workspace in the URL), allowed (a membership, else 404 exactly as for a
missing id) and permitted (the route's named permission, else 403 with the
route's code, audited as `access.denied`). Subclasses resolve their parents
(app, run) through scoped selectors in `resolve_scope` and hold no checks of
their own.
"""

import logging

from rest_framework.views import APIView

from apps.audit.services import Actor, AuditEntry, Source, Target, audit_record
from apps.core.errors import NotFound, PermissionDenied
from apps.workspaces.roles import role_has_permission
from apps.workspaces.selectors import membership_find, parse_id

logger = logging.getLogger(__name__)


def _path_ids(kwargs: dict) -> dict:
    """Return the URL's values that parse as ids, leaving out any other text.

    The keys are camel case, as in every event's related ids: `workspaceId`.
    """
    ids = {}
    for name, value in kwargs.items():
        parsed = parse_id(value)
        if parsed is not None:
            first, *rest = name.split("_")
            ids[first + "".join(part.title() for part in rest)] = str(parsed)
    return ids


class WorkspaceAPIView(APIView):
    """Base view of `/api/workspaces/{workspace_id}/…` routes.

    `permissions` maps an HTTP method to the permission it needs and the code and
    detail of the 403 response when the caller's role lacks it.
    """

    permissions: dict[str, tuple[str, str, str]] = {}

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        membership = membership_find(
            user=request.user, workspace_id=kwargs.get("workspace_id")
        )
        if membership is None:
            raise NotFound()
        self.membership = membership
        self.workspace = membership.workspace
        self.role = membership.role
        self.actor = Actor.for_user(request.user, membership.role)
        self.audit_source = Source.from_request(request)
        self.check_workspace_permission(request.method)
        self.resolve_scope(**kwargs)

    def resolve_scope(self, **kwargs) -> None:
        """Resolve objects named in the URL below the workspace; 404 when not found."""

    def check_workspace_permission(self, method: str) -> None:
        rule = self.permissions.get(method)
        if rule is None:
            return
        permission, code, detail = rule
        if not role_has_permission(self.role, permission):
            self.deny(code, detail, permission=permission)

    def deny(self, code: str, detail: str, *, permission: str = "") -> None:
        """Audit `access.denied` and raise the 403 with `code`.

        The event names the URL pattern, not the path: a path is whatever the
        caller typed, a token pasted by mistake included. Of the path's values,
        only well-formed ids are kept.
        """
        match = self.request.resolver_match
        route = match.route if match is not None else ""
        audit_record(
            workspace=self.workspace,
            entry=AuditEntry(
                event_name="access.denied",
                outcome="denied",
                severity="warning",
                summary=f"{self.actor.display} was denied {self.request.method} "
                f"/{route}",
                actor=self.actor,
                source=self.audit_source,
                target=Target(
                    type="route",
                    id=match.view_name if match is not None else "",
                    name=f"/{route}",
                ),
                metadata={"code": code, "permission": permission},
                related_ids=_path_ids(match.kwargs if match is not None else {}),
            ),
        )
        logger.info(
            "access denied: workspace=%s user=%s code=%s",
            self.workspace.pk,
            self.request.user.pk,
            code,
        )
        raise PermissionDenied(code, detail)
