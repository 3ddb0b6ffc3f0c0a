import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.audit.services import Actor, Source
from apps.workspaces.models import Workspace
from apps.workspaces.services import workspace_create

OWNER_USERNAME = "owner"
DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = (
        "Create the local owner account and the demo workspace, once. The password "
        "comes from DJANGO_SUPERUSER_PASSWORD or is generated and printed once."
    )

    def handle(self, *args, **options) -> None:
        if not settings.SECOND_LOCAL_MODE:
            raise CommandError(
                "bootstrap_local runs under config.settings.local only; in production "
                "create accounts through the identity provider."
            )
        owner = self._owner()
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
        if workspace is None:
            workspace = workspace_create(
                owner=owner,
                name="Demo",
                slug=DEMO_SLUG,
                actor=Actor.system("manage.py bootstrap_local"),
                source=Source.for_command(),
            )
            self.stdout.write(f"Created the demo workspace {workspace.pk}.")
        else:
            self.stdout.write(f"The demo workspace {workspace.pk} exists.")

    def _owner(self) -> User:
        owner = User.objects.filter(username=OWNER_USERNAME).first()
        if owner is not None:
            self.stdout.write(f"The local owner account {OWNER_USERNAME!r} exists.")
            return owner
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        owner = User.objects.create_user(
            username=OWNER_USERNAME,
            email="owner@localhost",
            password=password,
            display_name="Local owner",
        )
        self.stdout.write(f"Created the local owner account {OWNER_USERNAME!r}.")
        if generated:
            self.stdout.write(f"Its generated password, shown once: {password}")
        return owner
