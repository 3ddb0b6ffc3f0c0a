"""Domain errors and the one mapping from them to API responses.

Error bodies are `{"error": code, "detail": text}`, with extra keys where a
contract names them (`fields`, `toolCallId`, `retryable`).
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.serializers import Serializer

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with a status code, a stable code and a human-readable detail."""

    status_code = 400
    code = "invalid_request"
    detail = "The request is invalid."

    def __init__(
        self,
        code: str | None = None,
        detail: str | None = None,
        *,
        status_code: int | None = None,
        extra: dict | None = None,
        headers: dict | None = None,
    ) -> None:
        self.code = code or self.code
        self.detail = detail or self.detail
        self.status_code = status_code or self.status_code
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(f"{self.code}: {self.detail}")

    def body(self) -> dict:
        return {"error": self.code, "detail": self.detail, **self.extra}


class NotFound(ApiError):
    status_code = 404
    code = "not_found"
    detail = "Not found."

    def __init__(self) -> None:
        # Every not-found response is byte for byte the same, whatever was missing.
        super().__init__()


class PermissionDenied(ApiError):
    status_code = 403
    code = "forbidden"
    detail = "You do not have permission to do this."


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


BODY_INVALID = "The request body is invalid"
QUERY_INVALID = "The query parameters are invalid"


class ValidationFailed(ApiError):
    """A request that fails validation.

    `fields` maps each JSON path or query parameter to its messages. The detail
    starts with `prefix`, which is BODY_INVALID unless the caller passes
    QUERY_INVALID.
    """

    status_code = 400
    code = "invalid_request"

    def __init__(
        self,
        fields: dict[str, list[str]],
        detail: str | None = None,
        *,
        prefix: str = BODY_INVALID,
    ):
        summary = detail or f"{prefix}: " + "; ".join(
            f"{path}: {' '.join(messages)}" for path, messages in fields.items()
        )
        super().__init__(detail=summary, extra={"fields": fields})


NOT_FOUND_BODY = {"error": "not_found", "detail": "Not found."}
REQUEST_TOO_LARGE_BODY = {
    "error": "request_too_large",
    "detail": "The request body is larger than 16 MiB; send less data.",
}


def _flatten_drf_errors(data, prefix: str = "") -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                path = prefix or "$"
            fields.update(_flatten_drf_errors(value, path))
    elif isinstance(data, list) and data and all(isinstance(v, str) for v in data):
        fields[prefix or "$"] = [str(value) for value in data]
    elif isinstance(data, list):
        for index, value in enumerate(data):
            fields.update(_flatten_drf_errors(value, f"{prefix}[{index}]"))
    else:
        fields[prefix or "$"] = [str(data)]
    return fields


def validated_query(serializer: Serializer) -> dict:
    """Validate `serializer`, built from query parameters, and return its data.

    Raises ValidationFailed with a detail that starts with QUERY_INVALID, and
    the same `invalid_request` code and `fields` as a body error.
    """
    if not serializer.is_valid():
        fields = _flatten_drf_errors(serializer.errors)
        raise ValidationFailed(fields, prefix=QUERY_INVALID)

    return serializer.validated_data


def _drf_error_response(exc: drf_exceptions.APIException) -> Response:
    if isinstance(exc, drf_exceptions.ValidationError):
        error = ValidationFailed(_flatten_drf_errors(exc.detail))
        return Response(error.body(), status=400)
    if isinstance(
        exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed
    ):
        detail = str(exc.detail)
        code = getattr(exc, "error_code", "identity_required")
        return Response({"error": code, "detail": detail}, status=401)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return Response(
            {"error": "method_not_allowed", "detail": str(exc.detail)}, status=405
        )
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return Response(
            {"error": "unsupported_media_type", "detail": str(exc.detail)}, status=415
        )
    if isinstance(exc, drf_exceptions.ParseError):
        return Response(
            {"error": "invalid_request", "detail": str(exc.detail), "fields": {}},
            status=400,
        )
    if isinstance(exc, drf_exceptions.NotFound):
        return Response(NOT_FOUND_BODY, status=404)
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return Response({"error": "forbidden", "detail": str(exc.detail)}, status=403)
    if isinstance(exc, drf_exceptions.Throttled):
        return Response(
            {"error": "rate_limited", "detail": str(exc.detail)}, status=429
        )
    return Response(
        {"error": "request_failed", "detail": str(exc.detail)}, status=exc.status_code
    )


def api_exception_handler(exc, context) -> Response | None:
    """Map domain and DRF errors to the product's error bodies."""
    if isinstance(exc, ApiError):
        return Response(exc.body(), status=exc.status_code, headers=exc.headers)
    if isinstance(exc, Http404):
        return Response(NOT_FOUND_BODY, status=404)
    if isinstance(exc, RequestDataTooBig):
        return Response(REQUEST_TOO_LARGE_BODY, status=413)
    if isinstance(exc, drf_exceptions.APIException):
        response = _drf_error_response(exc)
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        return response
    return None


# DRF's JSONRenderer writes compact JSON; plain Django responses use the same
# separators so that every not-found body is identical byte for byte.
COMPACT_JSON = {"separators": (",", ":"), "ensure_ascii": False}


def json_response(body: dict, *, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params=COMPACT_JSON)


def json_not_found(request, exception=None) -> JsonResponse:
    return json_response(NOT_FOUND_BODY, status=404)


def json_server_error(request) -> JsonResponse:
    body = {"error": "server_error", "detail": "The server failed; try again later."}
    return json_response(body, status=500)
