"""The health route: the state of the database, the cache and the broker."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
)
from rest_framework.response import Response

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_cache() -> str:
    cache.set("second:health", "ok", timeout=5)
    if cache.get("second:health") != "ok":
        raise RuntimeError("cache did not return the value just written")
    return "ok"


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    from config.celery import app

    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=2)
    return "ok"


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def health(request) -> Response:
    """Return 200 when every component responds, else 503 naming the one down."""
    components: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            components[name] = check()
        except Exception as error:  # noqa: BLE001 - any failure means "down"
            logger.warning(
                "health check failed: component=%s error=%s", name, type(error).__name__
            )
            components[name] = "down"
    healthy = all(state != "down" for state in components.values())
    body = {"status": "ok" if healthy else "unavailable", "components": components}
    return Response(body, status=200 if healthy else 503)
