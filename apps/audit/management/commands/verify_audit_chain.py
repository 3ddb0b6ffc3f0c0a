from django.core.management.base import BaseCommand, CommandError

from apps.audit.chain import chain_verify
from apps.workspaces.selectors import workspace_find_by_identifier


class Command(BaseCommand):
    help = (
        "Verify the hash chain of a workspace's audit events, or of the global "
        "ones, and name the first broken link."
    )

    def add_arguments(self, parser) -> None:
        chain = parser.add_mutually_exclusive_group(required=True)
        chain.add_argument("--workspace", help="Workspace id or slug.")
        chain.add_argument(
            "--global",
            action="store_true",
            dest="global_chain",
            help="Verify the chain of events that belong to no workspace.",
        )

    def handle(self, *args, **options) -> None:
        workspace_id = None
        if not options["global_chain"]:
            workspace = workspace_find_by_identifier(identifier=options["workspace"])
            if workspace is None:
                raise CommandError(
                    f"No workspace has the id or slug {options['workspace']!r}. "
                    "Check --workspace."
                )
            workspace_id = workspace.pk

        report = chain_verify(workspace_id_or_none=workspace_id)
        if not report.intact:
            raise CommandError(
                f"{report.describe()} Keep the database as it is and compare the "
                "event with a backup or an earlier export."
            )

        self.stdout.write(report.describe())
