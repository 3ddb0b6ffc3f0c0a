"""The approval desk in headless Chromium, against pytest-django's live server.

An owner signs in and opens a draft that became stale when a second tool added
a new domain and OAuth scope. The owner reads that difference and approves the
hash shown on the action's confirmation page. The draft run's next tool call
then reaches the loopback upstream. A member cannot sign in or approve, and the
owner of another workspace finds neither the app in the list nor its page.

Chromium is Debian's binary, started by Playwright without downloading a
browser. Its host resolver maps every name but localhost and 127.0.0.1 to
nothing, so the browser can reach the live server only. The database is read
between browser sessions: Playwright runs an event loop in this thread, and
Django raises SynchronousOnlyOperation for a query made while one runs.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Page, sync_playwright

from apps.agents.models import AgentsApproval
from apps.agents.selectors import agents_state_for_files
from apps.applications.drafts import draft_write, serialise_json_file
from apps.applications.models import AGENTS_FILE, AppSnapshot
from apps.audit.services import Actor, Source
from tests.conftest import skip_or_fail
from tests.execution.conftest import build_app, tool_document

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "desk-browser-pass-1"
DOMAIN = "api.allowed.example"
NEW_DOMAIN = "slack.com"
NEW_SCOPE = "chat:write"
APP_NAME = "Desk forecast"
LOOPBACK_ONLY = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
)


def public_document() -> dict:
    return tool_document(url=f"https://{DOMAIN}/forecast", domain=DOMAIN)


def oauth_tool() -> dict:
    """A Slack tool whose OAuth grant requests NEW_SCOPE on NEW_DOMAIN."""
    return {
        "type": "custom",
        "name": "post_message",
        "integration": {
            "name": "Slack",
            "domain": NEW_DOMAIN,
            "auth": {
                "type": "oauth2",
                "providerKey": "slack",
                "identity": "triggering_user",
                "authorizationUrl": f"https://{NEW_DOMAIN}/oauth/v2/authorize",
                "tokenUrl": f"https://{NEW_DOMAIN}/api/oauth.v2.access",
                "scopes": [NEW_SCOPE],
            },
        },
        "endpoint": {"method": "POST", "url": f"https://{NEW_DOMAIN}/api/chat.post"},
        "mockData": [{"ok": True}],
    }


def stale_draft(world):
    """Build an approved app with a draft run, then add the OAuth tool to its draft."""
    built = build_app(world, public_document())
    built.app.name = APP_NAME
    built.app.save(update_fields=["name"])

    document = public_document()
    document["agents"][0]["tools"].append(oauth_tool())
    draft_write(
        app=built.app,
        changes={AGENTS_FILE: serialise_json_file(document)},
        actor=Actor.for_user(world.owner.user, "owner"),
        source=Source(),
    )
    return built


def set_password(user) -> None:
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])


@contextmanager
def browser_page() -> Iterator[Page]:
    """Yield a page of a fresh headless Chromium, closed afterwards."""
    if not CHROMIUM.exists():
        skip_or_fail("chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[LOOPBACK_ONLY]
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def read_difference(page: Page, base: str) -> str:
    """Open the desk from the admin's app index, then the app; return its difference."""
    page.goto(f"{base}/admin/applications/")
    page.click("#approval-desk-link a")
    page.click(f"text={APP_NAME}")
    return page.text_content("#security-difference")


def approve_from_desk(page: Page, app_id: str) -> tuple[str, str]:
    """Go back to the desk, select the app and confirm the approval.

    Return the confirmation page's text and the message shown afterwards.
    """
    page.click(".breadcrumbs a[href^='/admin/applications/app/']")
    page.check(f"input[name=_selected_action][value='{app_id}']")
    page.select_option("select[name=action]", "approve_agents")
    page.click("button[name=index]")
    confirmation = page.text_content("#content")
    page.click("#desk-action-confirm")
    return confirmation, page.text_content(".messagelist")


def draft_hash(app) -> str:
    files = AppSnapshot.objects.get(app=app, kind=AppSnapshot.Kind.DRAFT).files
    return agents_state_for_files(app=app, files=files).hash


def approval_count(app) -> int:
    return AgentsApproval.objects.filter(app=app).count()


def test_owner_approves_stale_draft(world, live_server, upstream):
    upstream.server.set_json("/forecast", {"temperature": 21})
    built = stale_draft(world)
    set_password(world.owner.user)
    app_id = str(built.app.pk)
    refused = built.call()
    assert refused.json()["error"] == "draft_agents_config_unapproved"

    with browser_page() as page:
        sign_in(page, live_server.url, "owner")
        difference = read_difference(page, live_server.url)
        shown_hash = page.text_content("#agents-hash")
        confirmation, message = approve_from_desk(page, app_id)

    assert NEW_DOMAIN in difference
    assert NEW_SCOPE in difference
    assert shown_hash in confirmation
    assert message.strip() == "Approve agents.json: 1 done, 0 skipped."
    assert AgentsApproval.objects.filter(app=built.app).first().hash == shown_hash

    answer = built.call()
    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is False
    assert answer.json()["data"] == {"temperature": 21}
    assert len(upstream.requests) == 1


def test_member_cannot_approve(world, live_server):
    built = stale_draft(world)
    set_password(world.member.user)
    before = approval_count(built.app)

    with browser_page() as page:
        sign_in(page, live_server.url, "member")
        login_error = page.text_content(".errornote")
        page.goto(f"{live_server.url}/admin/applications/app/")
        landed = page.url
        approve_options = page.locator("option[value=approve_agents]").count()

    assert "no admin access" in login_error
    assert landed.startswith(f"{live_server.url}/admin/login/")
    assert approve_options == 0

    client = Client()
    client.force_login(world.member.user)
    path = f"/admin/applications/app/{built.app.pk}/approve-agents/"
    client.post(path, {"hash": draft_hash(built.app)})
    assert approval_count(built.app) == before


def test_outsider_sees_no_app(world, live_server):
    built = stale_draft(world)
    set_password(world.outsider.user)
    change_path = f"/admin/applications/app/{built.app.pk}/change/"

    with browser_page() as page:
        sign_in(page, live_server.url, "outsider")
        page.goto(f"{live_server.url}/admin/applications/app/")
        listed = page.text_content("#content")
        change = page.goto(f"{live_server.url}{change_path}")

    assert APP_NAME not in listed
    assert change.status == 404
