"""Scheduled jobs of the audit log."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="audit.apply_retention")
def apply_retention() -> int:
    """Remove expired audit events.

    NOTE: retention is not built yet, so this job removes nothing. When it is,
    it removes only whole expired prefixes of a workspace's chain and leaves an
    `audit.checkpoint` event for verification to start from.
    """
    logger.info("audit retention ran: removed=0")
    return 0
