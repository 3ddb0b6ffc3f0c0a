"""The catalogue of audit event names, with the category each belongs to."""

EVENTS: dict[str, str] = {}


def _register(category: str, *names: str) -> None:
    for name in names:
        EVENTS[name] = category


_register("sign_in", "auth.login", "auth.login_failed", "auth.logout")
_register("access", "access.denied")
_register(
    "members",
    "member.added",
    "member.role_changed",
    "member.removed",
    "invitation.created",
    "invitation.resent",
    "invitation.revoked",
    "invitation.accepted",
    "team.created",
    "team.renamed",
    "team.deleted",
    "team.member_added",
    "team.member_removed",
    "api_token.created",
    "api_token.revoked",
)
_register(
    "integrations",
    "integration.requested",
    "integration.orphaned",
    "integration.secret_rotated",
    "integration.reset",
    "integration.deleted",
    "secrets.key_rotated",
)
_register(
    "oauth",
    "oauth.provider_configured",
    "oauth.provider_secret_rotated",
    "oauth.connected",
    "oauth.connect_failed",
    "oauth.token_refreshed",
    "oauth.refresh_failed",
    "oauth.revoked",
)
_register(
    "apps",
    "app.created",
    "app.deleted",
    "app.agents_config.approved",
    "app.agents_config.stale",
    "app.agents_config.revoked",
    "app.published",
    "app.unpublished",
    "app.visibility_changed",
    "app.teams_changed",
    "app.collaborators_changed",
)
_register(
    "reviews",
    "review.requested",
    "review.approved",
    "review.changes_requested",
    "review.superseded",
)
_register(
    "runs_and_tools",
    "app_agent_run.created",
    "app_agent_run.completed",
    "app_agent_run.failed",
    "tool.custom.executed",
    "tool.custom.failed",
    "tool.custom.mocked",
    "tool.custom.denied",
)
_register("audit", "audit.viewed", "audit.exported", "audit.checkpoint")


def category_of(event_name: str) -> str:
    """Return the event's category; an unknown name is a programming error."""
    try:
        return EVENTS[event_name]
    except KeyError:
        raise ValueError(
            f"audit event {event_name!r} is not in the catalogue; add it to "
            "apps/audit/catalogue.py first."
        ) from None
