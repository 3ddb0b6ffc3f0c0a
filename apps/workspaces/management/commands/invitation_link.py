from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import Source
from apps.core.errors import ApiError
from apps.workspaces.invitations import (
    accept_url,
    invitation_link_issue,
    mask_email,
)
from apps.workspaces.models import Invitation
from apps.workspaces.selectors import parse_id


class Command(BaseCommand):
    help = (
        "Print the accept link of a pending invitation. Only a hash of each "
        "invitation token is stored, so this issues a new token and the earlier "
        "link stops working."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "id", help="The invitation's id, as GET …/invitations lists it."
        )

    def handle(self, *args, **options) -> None:
        invitation = self._find(options["id"])
        try:
            token = invitation_link_issue(
                invitation=invitation, source=Source.for_command()
            )
        except ApiError as error:
            raise CommandError(error.detail) from None

        self.stdout.write(
            f"Issued a new token for invitation {invitation.pk} "
            f"({mask_email(invitation.email)}, {invitation.role} of "
            f"{invitation.workspace.name}); earlier links to it no longer work."
        )
        self.stdout.write(f"Expires at {invitation.expires_at.isoformat()}.")
        self.stdout.write(accept_url(token))

    def _find(self, identifier: str) -> Invitation:
        parsed = parse_id(identifier)
        invitation = (
            Invitation.objects.select_related("workspace").filter(pk=parsed).first()
            if parsed is not None
            else None
        )
        if invitation is None:
            raise CommandError(
                f"No invitation has the id {identifier!r}; use an id from "
                "GET /api/workspaces/<workspace>/invitations."
            )

        if invitation.status != Invitation.Status.PENDING:
            raise CommandError(
                f"The invitation {invitation.pk} is {invitation.status}, so it has "
                "no link; create a new invitation with POST "
                "/api/workspaces/<workspace>/invitations."
            )
        return invitation
