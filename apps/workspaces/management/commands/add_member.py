from django.core.management.base import BaseCommand, CommandError

from apps.accounts.selectors import user_find
from apps.audit.services import Actor, Source
from apps.core.errors import ApiError
from apps.workspaces.roles import Role
from apps.workspaces.selectors import workspace_find_by_identifier
from apps.workspaces.services import membership_add

ROLES = ", ".join(role.value for role in Role)


class Command(BaseCommand):
    help = (
        "Add an existing account to a workspace with a role, and to its General team."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace id or slug.")
        parser.add_argument("--user", required=True, help="Username or email.")
        parser.add_argument("--role", required=True, help=f"One of: {ROLES}.")

    def handle(self, *args, **options) -> None:
        workspace = workspace_find_by_identifier(identifier=options["workspace"])
        if workspace is None:
            raise CommandError(
                f"No workspace has the id or slug {options['workspace']!r}. Check "
                "--workspace."
            )

        user = user_find(identifier=options["user"])
        if user is None or not user.is_active:
            raise CommandError(
                f"No active account has the username or email {options['user']!r}. "
                "Check --user or create the account first."
            )

        role = options["role"]
        if role not in set(Role):
            raise CommandError(f"The role {role!r} is invalid. Pass --role {ROLES}.")

        try:
            membership = membership_add(
                workspace=workspace,
                user=user,
                role=role,
                actor=Actor.system("manage.py add_member"),
                source=Source.for_command(),
            )
        except ApiError as error:
            raise CommandError(error.detail) from None

        self.stdout.write(
            f"Added {user.username} to {workspace.slug} as {role} "
            f"(membership {membership.pk})."
        )
