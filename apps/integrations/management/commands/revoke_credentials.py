from django.core.management.base import BaseCommand, CommandError

from apps.accounts.selectors import user_find
from apps.audit.services import Actor, Source
from apps.integrations.connected_accounts import account_revoke
from apps.integrations.models import ConnectedAccount
from apps.secret_store.store import SecretUnavailable
from apps.workspaces.selectors import workspace_find_by_identifier


class Command(BaseCommand):
    help = (
        "Revoke connected OAuth accounts of a workspace at their providers and "
        "delete their stored tokens, optionally for one user or one provider."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace id or slug.")
        parser.add_argument("--user", help="Only this username or email.")
        parser.add_argument("--provider", help="Only this providerKey.")

    def handle(self, *args, **options) -> None:
        workspace = workspace_find_by_identifier(identifier=options["workspace"])
        if workspace is None:
            raise CommandError(
                f"No workspace has the id or slug {options['workspace']!r}. Check "
                "--workspace."
            )
        accounts = ConnectedAccount.objects.filter(workspace=workspace).exclude(
            status=ConnectedAccount.Status.REVOKED
        )
        if options.get("user"):
            user = user_find(identifier=options["user"])
            if user is None:
                raise CommandError(
                    f"No account has the username or email {options['user']!r}."
                )
            accounts = accounts.filter(user=user)
        if options.get("provider"):
            accounts = accounts.filter(config__provider_key=options["provider"])

        revoked, failed = 0, []
        actor = Actor.system("manage.py revoke_credentials")
        source = Source.for_command()
        for account in accounts.select_related("config", "config__workspace"):
            try:
                account_revoke(
                    account=account, actor=actor, source=source, reason="revoked by ops"
                )
            except SecretUnavailable:
                failed.append(str(account.pk))
                continue
            revoked += 1

        self.stdout.write(
            f"Revoked {revoked} connected account(s) in {workspace.slug}."
        )
        if failed:
            raise CommandError(
                "The secret store was unavailable for these accounts; run the command "
                "again: " + ", ".join(failed)
            )
