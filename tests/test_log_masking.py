"""Log lines mask tokens and OAuth values, whichever logger writes them."""

import json
import logging

import pytest

from apps.core.logging import JsonFormatter

CODE = "oauth-code-CANARY-9d2e"
STATE = "oauth-state-CANARY-41c7"


def formatted(message: str, logger: str = "django.server") -> str:
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, message, (), None)
    return json.loads(JsonFormatter().format(record))["message"]


def test_callback_request_line_masked():
    line = formatted(
        f'"GET /api/oauth/callback?code={CODE}&state={STATE} HTTP/1.1" 302 0'
    )

    assert CODE not in line
    assert STATE not in line
    assert "/api/oauth/callback?code=[redacted]&state=[redacted]" in line


@pytest.mark.parametrize(
    "name", ["access_token", "id_token", "refresh_token", "client_secret", "token"]
)
def test_token_query_value_masked(name):
    line = formatted(f"GET /callback?scope=openid&{name}={CODE}#top")

    assert line == f"GET /callback?scope=openid&{name}=[redacted]#top"


def test_other_query_values_kept():
    line = formatted("GET /api/workspaces?limit=50&cursor=abc")

    assert line == "GET /api/workspaces?limit=50&cursor=abc"
