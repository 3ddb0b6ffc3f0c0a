from django.core.management.base import BaseCommand, CommandError

from apps.accounts.selectors import user_find
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError
from apps.workspaces.services import workspace_create


class Command(BaseCommand):
    help = "Create a workspace owned by an existing account."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="The workspace's name.")
        parser.add_argument(
            "--slug", help="A URL slug; derived from the name if absent."
        )
        parser.add_argument("--owner", required=True, help="Owner's username or email.")

    def handle(self, *args, **options) -> None:
        owner = user_find(identifier=options["owner"])
        if owner is None:
            raise CommandError(
                f"No account has the username or email {options['owner']!r}."
            )
        try:
            workspace = workspace_create(
                owner=owner,
                name=options["name"],
                slug=options.get("slug"),
                actor=Actor.system("manage.py create_workspace"),
                source=Source.for_command(),
            )
        except ApiError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(f"{workspace.pk} {workspace.slug}")
