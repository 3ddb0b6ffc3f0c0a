import uuid

from django.conf import settings
from django.db import models


class SourceVersion(models.TextChoices):
    DRAFT = "draft"
    PUBLISHED = "published"


class AgentRun(models.Model):
    """One run of an app's agent, which accepts tool calls while it is open.

    The run token (`run_…`) is stored as a prefix and a keyed hash. It is valid
    for this run only and is rejected once the run has ended.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    OPEN_STATUSES = (Status.PENDING, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="runs"
    )
    app = models.ForeignKey(
        "applications.App", on_delete=models.CASCADE, related_name="runs"
    )
    agent_id = models.CharField(max_length=200)
    source_version = models.CharField(max_length=16, choices=SourceVersion.choices)
    prompt = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    runtime = models.CharField(max_length=16, default="none")
    triggering_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="triggered_runs",
    )
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    # The runtime gets a token of its own when the run is handed to it, because
    # the creator's token is shown once and never stored.
    runtime_token_prefix = models.CharField(
        max_length=16, unique=True, null=True, blank=True
    )
    runtime_token_hash = models.CharField(max_length=64, blank=True)
    runtime_input = models.JSONField(null=True, blank=True)
    approval_hash = models.CharField(max_length=80, blank=True)
    result = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"run {self.id} ({self.agent_id}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class ToolCall(models.Model):
    """One tool call and the only channel of its result.

    The web process writes it `queued`; a worker claims it `running` with a
    conditional update before anything is sent, then stores the bounded, scrubbed
    result and marks it `completed`. A waiter that gives up moves a `queued` row to
    `expired`; the reaper marks rows still `running` too long as `lost`.
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        EXPIRED = "expired"
        LOST = "lost"

    class Outcome(models.TextChoices):
        EXECUTED = "executed"
        FAILED = "failed"
        MOCKED = "mocked"
        DENIED = "denied"

    class Kind(models.TextChoices):
        AGENT_TOOL = "agent_tool"
        APP_ACTION = "app_action"

    # States that hold one of the workspace's concurrency slots.
    SLOT_STATES = (State.QUEUED, State.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="tool_calls"
    )
    app = models.ForeignKey(
        "applications.App", on_delete=models.CASCADE, related_name="tool_calls"
    )
    run = models.ForeignKey(
        AgentRun,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tool_calls",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    agent_id = models.CharField(max_length=200, blank=True)
    tool_name = models.CharField(max_length=200)
    source_version = models.CharField(max_length=16, choices=SourceVersion.choices)
    triggering_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    tool_input = models.JSONField(default=dict, blank=True)
    sent_tool_spec = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    mock = models.BooleanField(default=False)
    mock_reason = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_category = models.CharField(max_length=32, blank=True)
    http_status = models.PositiveSmallIntegerField(default=200)
    upstream_status = models.PositiveSmallIntegerField(null=True, blank=True)
    upstream_host = models.CharField(max_length=253, blank=True)
    approval_hash = models.CharField(max_length=80, blank=True)
    result = models.JSONField(null=True, blank=True)
    request_bytes = models.PositiveIntegerField(default=0)
    response_bytes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["workspace", "state"]),
            models.Index(fields=["state", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.tool_name} ({self.state})"
