"""Removing a member ends what they could still do through the workspace."""

import json
import logging

import pytest
from rest_framework.test import APIClient

from apps.applications.models import App
from apps.core.logging import JsonFormatter
from apps.execution.models import AgentRun
from tests.execution.conftest import build_app, tool_document

pytestmark = pytest.mark.django_db


def public_tool() -> dict:
    return tool_document(
        url="https://api.allowed.example/json", domain="api.allowed.example"
    )


def test_removal_fails_member_runs(world):
    built = build_app(world, public_tool(), creator=world.member.user)

    response = world.owner.client.delete(f"{world.base}/members/{world.member.user.pk}")

    assert response.status_code == 204
    run = AgentRun.objects.get(pk=built.run_id)
    assert run.status == "failed"
    assert run.error_code == "member_removed"
    refused = built.call()
    assert refused.status_code == 409
    assert refused.json()["error"] == "run_not_active"


def test_removal_drops_collaborator(world):
    built = build_app(world, public_tool())
    built.app.collaborators.add(world.member.user)

    world.owner.client.delete(f"{world.base}/members/{world.member.user.pk}")

    assert not App.objects.get(pk=built.app.pk).collaborators.exists()


def test_run_token_other_run_is_mismatch(world):
    built = build_app(world, public_tool())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {built.run_token}")
    body = {"runId": "00000000-0000-0000-0000-000000000000", "toolName": "lookup"}

    answer = client.post("/api/internal/tool-execute", body, format="json")

    assert answer.status_code == 403
    assert answer.json()["error"] == "run_mismatch"


def test_slug_is_unique_ignoring_case(world):
    response = world.member.post("/api/workspaces", {"name": "Copy", "slug": "ACME"})

    assert response.status_code == 409
    assert response.json()["error"] == "workspace_slug_unavailable"


def test_bare_api_path_is_json_404(client, settings):
    settings.DEBUG = True
    response = client.get("/api")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}


def test_oversized_body_is_413(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = world.member.post("/api/workspaces", {"name": "x" * 4096})

    assert response.status_code == 413
    assert response.json()["error"] == "request_too_large"


def test_log_lines_mask_invitation_tokens():
    token = "inv_abcdefghijkl_" + "Z" * 43
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"GET /invitations/%s HTTP/1.1" 200',
        (token,),
        None,
    )

    line = json.loads(JsonFormatter().format(record))["message"]

    assert token not in line
    assert "/invitations/[redacted]" in line or "inv_[redacted]" in line


def test_django_loggers_use_masking_handler(settings):
    loggers = settings.LOGGING["loggers"]

    assert loggers["django"]["handlers"] == ["console"]
    assert loggers["django.server"]["handlers"] == ["console"]
