"""Scheduled jobs of the audit log."""

import logging

from celery import shared_task

from apps.audit.retention import retention_apply

logger = logging.getLogger(__name__)


@shared_task(name="audit.apply_retention")
def apply_retention() -> int:
    """Remove the expired prefix of every audit chain, leaving checkpoints."""
    removed = retention_apply()
    logger.info("audit retention job finished: removed=%s", removed)
    return removed
