"""Scheduled jobs of workspaces."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="workspaces.expire_invitations")
def expire_invitations() -> int:
    """Mark pending invitations past their expiry as expired; safe to run twice."""
    from apps.workspaces.invitations import invitation_expire_due

    count = invitation_expire_due()
    logger.info("invitations expired: count=%s", count)
    return count
