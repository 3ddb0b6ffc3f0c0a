"""Signing in to Django admin through the loopback OpenID Connect provider, in
headless Chromium against the live server.

In external mode Chromium opens the admin index, follows the product's
redirect to the provider, signs in there as alice and clicks Authorize. The
provider sends it back to the product's callback, which matches alice by
issuer and subject and maps her `groups` claim to workspace roles. With group
`acme-admins` she becomes admin of `acme` and sees the admin index; with no
group she is signed in but gets no admin access.

Chromium is launched as in test_oauth_consent_browser.py: Debian's binary, a
resolver that knows the provider's name and loopback only, and the database
read after the browser block, because Django refuses queries while
Playwright's event loop runs in this thread.
"""

import pytest
from playwright.sync_api import Page

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.workspaces.models import Membership
from tests.e2e.test_oauth_consent_browser import browser_page
from tests.oidc.conftest import oidc  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def serve_live(oidc, live_server, settings) -> str:
    """Point the product and the provider's `sso` client at the live server."""
    settings.SECOND_PUBLIC_URL = live_server.url
    oidc.provider.add_redirect_uri(f"{live_server.url}/oidc/callback/", client="sso")
    return live_server.url


def sign_in_at_provider(page: Page, start: str, user) -> None:
    """Open `start`, sign in at the provider as `user` and click Authorize."""
    page.goto(start)
    page.fill("#login-form #id_username", user.username)
    page.fill("#login-form #id_password", user.password)
    page.click("#login-form button[type=submit]")
    page.click("#consent-form button[name=allow]")
    page.wait_for_load_state()


def test_probe(oidc, live_server, settings):
    oidc.provider.set_user("alice", groups=["acme-admins"])
    base = serve_live(oidc, live_server, settings)
    alice = oidc.provider.users["alice"]

    with browser_page(oidc.provider) as page:
        sign_in_at_provider(page, f"{base}/admin/", alice)
        print("URL", page.url)
        print(page.content()[:6000])
    print(list(AuditEvent.objects.values_list("event_name", flat=True)))
