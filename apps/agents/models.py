import uuid

from django.conf import settings
from django.db import models


class AgentsApproval(models.Model):
    """An owner's or admin's approval of one exact agents.json payload.

    The hash is the `v1:` canonical hash of `payload`; an approval applies to a
    draft only while the draft still hashes to it. A mock-only approval lets live
    tools answer with mock data and never replaces a live approval.
    """

    class Source(models.TextChoices):
        AGENTS_PAGE = "agents_page"
        BUILDER = "builder"
        BUILDER_MOCK = "builder_mock"
        REVIEW = "review"
        PUBLISH = "publish"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    app = models.ForeignKey(
        "applications.App", on_delete=models.CASCADE, related_name="approvals"
    )
    hash = models.CharField(max_length=80)
    schema_version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField()
    source = models.CharField(max_length=16, choices=Source.choices)
    mock_only = models.BooleanField(default=False)
    self_approved = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150)
    approved_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-approved_at"]
        indexes = [models.Index(fields=["app", "hash"])]

    def __str__(self) -> str:
        return f"{self.hash[:15]}… by {self.approved_by_name}"
