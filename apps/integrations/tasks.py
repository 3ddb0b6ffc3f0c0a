"""Scheduled jobs of integrations."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="integrations.clean_oauth_state")
def clean_oauth_state() -> int:
    """Remove expired OAuth flow state.

    NOTE: OAuth connect flows are not built yet. Their state will live in the
    cache with a 10-minute timeout, which removes it by itself; this job is the
    place for anything the cache does not expire.
    """
    logger.info("oauth state clean-up ran: removed=0")
    return 0
