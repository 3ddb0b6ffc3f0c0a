import uuid

from django.conf import settings
from django.db import models

from apps.workspaces.roles import Role

DEFAULT_TEAM_NAME = "General"


class Workspace(models.Model):
    """A tenant: every app, grant, run and audit event belongs to one workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's membership of a workspace, with one of the fixed roles."""

    class Source(models.TextChoices):
        MANUAL = "manual"
        INVITATION = "invitation"
        IDENTITY_CLAIM = "identity_claim"
        CREATOR = "creator"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Role])
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.MANUAL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"], name="workspaces_membership_unique_user"
            )
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class Team(models.Model):
    """A group of members; published apps are visible to the teams they name."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="teams"
    )
    name = models.CharField(max_length=120)
    is_default = models.BooleanField(default=False)
    members = models.ManyToManyField(
        Membership, through="TeamMembership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="workspaces_team_unique_name"
            ),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(is_default=True),
                name="workspaces_team_one_default",
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A member's place in a team of the same workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "membership"], name="workspaces_team_member_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.team_id}"


class Invitation(models.Model):
    """An invitation of an email address to a workspace, with a role and teams.

    Only a lookup prefix and a keyed hash of the invitation token are stored. The
    token itself is shown once, in the accept link, when it is issued.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="invitations"
    )
    # Stored in lower case; the services normalise it before every write.
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Role])
    teams = models.ManyToManyField(Team, blank=True, related_name="invitations")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_sent_at = models.DateTimeField()
    send_count = models.PositiveIntegerField(default=1)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=models.Q(status="pending"),
                name="workspaces_invitation_one_pending",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation {self.pk} ({self.role}, {self.status})"
