import uuid

from django.conf import settings
from django.db import models

from apps.workspaces.models import Team, Workspace

AGENTS_FILE = "agents.json"
INTEGRATION_SETUP_FILE = "integration-setup.json"
MAX_FILE_BYTES = 1024 * 1024
MAX_SNAPSHOT_BYTES = 12 * 1024 * 1024


class App(models.Model):
    """An app of a workspace whose agents call approved tools."""

    class PublishStatus(models.TextChoices):
        DRAFT = "draft"
        REVIEW_REQUESTED = "review_requested"
        PUBLISHED = "published"
        CHANGES_REQUESTED = "changes_requested"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="apps"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="created_apps",
    )
    collaborators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="collaborating_apps"
    )
    teams = models.ManyToManyField(Team, blank=True, related_name="apps")
    publish_status = models.CharField(
        max_length=24, choices=PublishStatus.choices, default=PublishStatus.DRAFT
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class AppSnapshot(models.Model):
    """The app's files as a JSON map of path to text: the draft or the published one.

    `agents.json` and `integration-setup.json` are files of this map. The draft is
    written only through the draft service; the published snapshot is a copy of
    an approved draft, carrying the approval it was promoted with.
    """

    class Kind(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="snapshots")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    files = models.JSONField(default=dict)
    total_bytes = models.PositiveIntegerField(default=0)
    agents_hash = models.CharField(max_length=80, blank=True)
    approval = models.ForeignKey(
        "agents.AgentsApproval",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "kind"], name="applications_snapshot_one_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} snapshot of {self.app_id}"


class Review(models.Model):
    """A request to publish the draft as it was when the request was made.

    `draft_hash` is the draft agents.json hash at request time: approving the
    review after the draft changed is refused, so what goes live is what the
    reviewer saw. One review of an app is pending at a time.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        CHANGES_REQUESTED = "changes_requested"
        SUPERSEDED = "superseded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="reviews"
    )
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="reviews")
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.PENDING
    )
    draft_hash = models.CharField(max_length=80)
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    approval = models.ForeignKey(
        "agents.AgentsApproval",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["workspace", "status", "-requested_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["app"],
                condition=models.Q(status="pending"),
                name="applications_review_one_pending_per_app",
            )
        ]

    def __str__(self) -> str:
        return f"review of {self.app_id} ({self.status})"
