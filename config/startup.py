"""Run Django's registered system checks before a server or worker takes traffic."""

import logging

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.color import no_style

logger = logging.getLogger(__name__)


class StartupChecksFailed(ImproperlyConfigured):
    """Error raised when a registered system check reports an error at start-up."""


def run_startup_checks() -> None:
    """Log every serious system check message and raise StartupChecksFailed."""
    messages = checks.run_checks(include_deployment_checks=False)
    errors = [message for message in messages if message.is_serious()]
    if not errors:
        return

    style = no_style()
    for message in errors:
        logger.error("system check failed: %s", style.ERROR(str(message)))
    raise StartupChecksFailed(
        "system checks failed: " + ", ".join(sorted({str(m.id) for m in errors}))
    )
