"""The app's admin page shows each tool's egress verdict, as egress_check gives it,
without opening a connection."""

import pytest
from django.test import Client

from tests.execution.conftest import build_app, tool_document
from tests.support.egress_fixtures import assert_no_dials

pytestmark = pytest.mark.django_db

DOMAIN = "api.allowed.example"


def admin_page(world, app) -> str:
    client = Client()
    client.force_login(world.owner.user)
    response = client.get(f"/admin/applications/app/{app.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_verdict_allows_public_address(world, test_resolver, settings):
    settings.SECOND_EGRESS_RESOLVE = {}
    test_resolver.set_answers(DOMAIN, ["93.184.215.14"])
    built = build_app(
        world, tool_document(url=f"https://{DOMAIN}/items/{{{{id}}}}", domain=DOMAIN)
    )

    page = admin_page(world, built.app)

    assert (
        "<code>lookup</code>: <code>allowed api.allowed.example 93.184.215.14</code>"
        in page
    )
    assert_no_dials()


def test_verdict_rejects_private_address(world, test_resolver, settings):
    settings.SECOND_EGRESS_RESOLVE = {}
    test_resolver.set_answers(DOMAIN, ["10.0.0.5"])
    built = build_app(world, tool_document(url=f"https://{DOMAIN}/json", domain=DOMAIN))

    page = admin_page(world, built.app)

    assert "rejected private_ip_blocked" in page
    assert_no_dials()
