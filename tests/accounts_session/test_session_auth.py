"""The API with a Django session from `/accounts/login/`, CSRF enforced."""

import pytest
from django.test import Client


@pytest.fixture
def signed_in(world) -> Client:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    response = client.post(
        "/accounts/login/",
        {
            "username": "member",
            "password": "unused-pass-1",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    return client


def test_session_reads_workspaces(signed_in, world):
    response = signed_in.get("/api/workspaces")

    assert response.status_code == 200
    assert [item["slug"] for item in response.json()] == ["acme"]


def test_session_write_needs_csrf(signed_in, world):
    path = f"/api/workspaces/{world.workspace.pk}/apps"
    refused = signed_in.post(
        path, {"name": "No token"}, content_type="application/json"
    )
    accepted = signed_in.post(
        path,
        {"name": "With token"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=signed_in.cookies["csrftoken"].value,
    )

    assert refused.status_code == 403
    assert accepted.status_code == 201


def test_logout_ends_session(signed_in):
    signed_in.post(
        "/accounts/logout/",
        HTTP_X_CSRFTOKEN=signed_in.cookies["csrftoken"].value,
    )

    response = signed_in.get("/api/workspaces")

    assert response.status_code == 401
    assert response.json()["error"] == "identity_required"
