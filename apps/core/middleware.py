"""Request id, the internal-routes switch and JSON bodies for unknown API paths."""

import logging
import re
import uuid
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from apps.core.errors import (
    NOT_FOUND_BODY,
    REQUEST_TOO_LARGE_BODY,
    json_response,
    json_server_error,
)

logger = logging.getLogger(__name__)

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give every request an id, taken from a well-formed X-Request-Id or made new."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get("X-Request-Id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-Id"] = request_id
        # Django's own 404 pages are HTML; every unmatched API path returns JSON.
        is_json = response.get("Content-Type", "").startswith("application/json")
        if is_api_path(request.path) and response.status_code == 404 and not is_json:
            return json_response(NOT_FOUND_BODY, status=404)
        return response


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class ApiErrorMiddleware:
    """Turn an unhandled error on an API path into a JSON 500, never a debug page.

    The log line names the exception type and the request id only, because the
    exception's message may quote values.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):
            return json_response(REQUEST_TOO_LARGE_BODY, status=413)
        logger.error(
            "unhandled error on an API route: path=%s error=%s",
            request.path,
            type(exception).__name__,
        )
        return json_server_error(request)


class InternalRoutesMiddleware:
    """Return 404 for /api/internal/* where SECOND_SERVE_INTERNAL_ROUTES is off."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        serving = settings.SECOND_SERVE_INTERNAL_ROUTES
        if request.path.startswith("/api/internal/") and not serving:
            return json_response(NOT_FOUND_BODY, status=404)
        return self.get_response(request)
