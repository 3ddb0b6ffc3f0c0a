"""Scheduled jobs of integrations."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="integrations.clean_oauth_state")
def clean_oauth_state() -> int:
    """Remove expired OAuth flow state.

    Flow state lives in the cache with a 10-minute timeout, which removes it by
    itself, so there is nothing left to remove. The job stays scheduled as the
    place for any flow state the cache does not expire.
    """
    logger.info("oauth state clean-up ran: removed=0")
    return 0
