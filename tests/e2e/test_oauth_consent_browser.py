"""Connecting an OAuth account in headless Chromium, against the live server.

A member signs in to the product, opens the start URL of the calendar
provider, signs in at the loopback provider as alice and clicks Authorize.
Chromium follows the provider's redirect back to the product's callback, which
exchanges the code and stores the account. A tool call then runs with alice's
token, and once that token is due it is refreshed. After the member revokes
the account, the next call gives mock data.

Chromium is Debian's binary, started by Playwright without downloading a
browser. Its host resolver sends the provider's host name to the provider's
loopback port and every other name but localhost and 127.0.0.1 to nothing, so
the browser reaches the live server and the provider only. The database is
read outside the browser block: Playwright runs an event loop in this thread,
and Django raises SynchronousOnlyOperation for a query made while one runs.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from apps.secret_store.store import secret_store
from tests.conftest import skip_or_fail
from tests.oauth.test_connect_cycle import Cycle
from tests.support.oauth_server import CALLBACK_PATH, LOOPBACK

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "consent-browser-pass-1"
RETURN_TO = "/accounts/login/"
# A hang guard for each page step. In local runs a step took well under a second.
STEP_TIMEOUT_MS = 15_000


def resolver_rules(provider) -> str:
    """Return Chromium's resolver flag: the provider's name goes to its port, and
    no other name but loopback resolves."""
    return (
        f"--host-resolver-rules=MAP {provider.host_name} {LOOPBACK}:{provider.port},"
        " MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
    )


@contextmanager
def browser_page(provider) -> Iterator[Page]:
    """Yield a page of a fresh headless Chromium, closed afterwards."""
    if not CHROMIUM.exists():
        skip_or_fail("chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[resolver_rules(provider)]
        )
        try:
            # The provider's certificate comes from the session's test CA, which
            # Chromium does not trust. Playwright cannot skip verification for
            # one host only, so this context skips it for both. The TLS under
            # test is the product's own: its token, userinfo and revocation
            # requests verify the provider against that CA.
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def consent(page: Page, start: str, user, back_to: str) -> str:
    """Open `start`, sign in at the provider, authorize and return the landing URL."""
    page.goto(start)
    page.fill("#login-form #id_username", user.username)
    page.fill("#login-form #id_password", user.password)
    page.click("#login-form button[type=submit]")
    page.click("#consent-form button[name=allow]")
    page.wait_for_url(lambda url: url.startswith(back_to))
    return page.url


def refresh_count(provider) -> int:
    return provider.stats()["token_requests"].get("refresh_token", 0)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_member_connects_in_chromium(
    world, live_server, settings, oauth_provider, oauth_routes, upstream
):
    settings.SECOND_PUBLIC_URL = live_server.url
    oauth_provider.add_redirect_uri(live_server.url + CALLBACK_PATH)
    cycle = Cycle(world, oauth_provider, upstream)
    assert cycle.configure().status_code == 200
    world.member.user.set_password(PASSWORD)
    world.member.user.save(update_fields=["password"])
    start = f"{live_server.url}{world.base}/oauth/{cycle.config.pk}/start"
    back_to = live_server.url + RETURN_TO
    alice = oauth_provider.users["alice"]

    with browser_page(oauth_provider) as page:
        sign_in(page, live_server.url, "member")
        landed = consent(page, f"{start}?returnTo={RETURN_TO}", alice, back_to)
        listed = page.goto(f"{live_server.url}{world.base}/connected-accounts").json()

    assert landed == f"{back_to}?oauth_connected=calendar"
    assert [account["providerKey"] for account in listed] == ["calendar"]
    account = cycle.account()
    assert account.status == "active"
    assert account.upstream_email == alice.email

    answer = cycle.call()
    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is False
    sent = upstream.requests[-1].headers["authorization"]
    assert sent == f"Bearer {secret_store().read(account.access_token)}"

    cycle.expire()
    before = refresh_count(oauth_provider)
    refreshed = cycle.call()
    assert refreshed.json()["mock"] is False
    assert refresh_count(oauth_provider) == before + 1
    rotated = secret_store().read(cycle.account().refresh_token)
    last = oauth_provider.stats()["last_refresh_token"]
    assert last["sha256"] == sha256(rotated)
    assert last["username"] == alice.username
    renewed = secret_store().read(cycle.account().access_token)
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {renewed}"

    revocations = oauth_provider.stats()["revocations"]
    removed = world.member.client.delete(
        f"{world.base}/connected-accounts/{account.pk}"
    )
    assert removed.status_code == 204
    assert oauth_provider.stats()["revocations"] > revocations
    assert cycle.account().status == "revoked"
    assert cycle.call().json()["mock"] is True
