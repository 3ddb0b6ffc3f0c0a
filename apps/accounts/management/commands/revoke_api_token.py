from django.core.management.base import BaseCommand, CommandError

from apps.accounts.selectors import api_token_find
from apps.accounts.services import api_token_revoke
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError


class Command(BaseCommand):
    help = "Revoke a personal API token by its id, as GET /api/me/tokens lists it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("id", help="The token's id (a UUID), not the token.")

    def handle(self, *args, **options) -> None:
        api_token = api_token_find(token_id=options["id"])
        if api_token is None:
            raise CommandError(
                f"No personal API token has the id {options['id']!r}. Pass the id "
                "that GET /api/me/tokens lists, not the token itself."
            )

        if api_token.revoked_at is not None:
            raise CommandError(
                f"The token {api_token.pk} was already revoked at "
                f"{api_token.revoked_at.isoformat()}, so nothing changed."
            )

        try:
            api_token_revoke(
                api_token=api_token,
                actor=Actor.system("manage.py revoke_api_token"),
                source=Source.for_command(),
            )
        except ApiError as error:
            raise CommandError(error.detail) from None

        self.stdout.write(
            f"Revoked token {api_token.pk} ({api_token.name!r}, "
            f"pat_{api_token.prefix}) of {api_token.user.username}."
        )
