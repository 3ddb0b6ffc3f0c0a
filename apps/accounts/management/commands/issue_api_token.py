from django.core.management.base import BaseCommand, CommandError

from apps.accounts.selectors import user_find
from apps.accounts.services import api_token_create
from apps.audit.services import Actor, Source

COMMAND = "manage.py issue_api_token"


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="Username or email.")
        parser.add_argument(
            "--name", default="CLI token", help="A label for the token."
        )

    def handle(self, *args, **options) -> None:
        user = user_find(identifier=options["user"])
        if user is None or not user.is_active:
            raise CommandError(
                f"No active account has the username or email {options['user']!r}; "
                "check the spelling or create the account first."
            )
        api_token, token = api_token_create(
            user=user,
            name=options["name"],
            actor=Actor.system(COMMAND),
            source=Source.for_command(),
        )
        self.stdout.write(f"Created token {api_token.pk} for {user.username}.")
        self.stdout.write("It is shown once; store it now:")
        self.stdout.write(token)
