"""Run Django's registered system checks before a server or worker takes traffic."""

import logging
import sys

from django.core import checks
from django.core.management.color import no_style

logger = logging.getLogger(__name__)


def run_startup_checks() -> None:
    """Exit non-zero when any registered system check reports an error."""
    messages = checks.run_checks(include_deployment_checks=False)
    errors = [message for message in messages if message.is_serious()]
    if not errors:
        return
    style = no_style()
    for message in errors:
        logger.error("system check failed: %s", style.ERROR(str(message)))
    sys.exit(1)
