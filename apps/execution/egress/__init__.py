"""The one outbound HTTP client of the product, and the checks it applies.

Every outbound request (tool calls, OAuth and OIDC endpoints, the runtime
webhook) goes through `send`, which refuses destinations that a tool template,
tool input, DNS answer or upstream response could turn against internal
infrastructure.
"""

from apps.execution.egress.client import (
    Destination,
    EgressPolicy,
    OutboundRequest,
    OutboundResponse,
    check_destination,
    send,
)
from apps.execution.egress.errors import EgressError, error_category
from apps.execution.egress.urls import ParsedUrl, parse_url

__all__ = [
    "Destination",
    "EgressError",
    "EgressPolicy",
    "OutboundRequest",
    "OutboundResponse",
    "ParsedUrl",
    "check_destination",
    "error_category",
    "parse_url",
    "send",
]
