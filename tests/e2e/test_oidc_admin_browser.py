"""Signing in to Django admin through the loopback OpenID Connect provider, in
headless Chromium against the live server.

In external mode Chromium opens the admin index. The product sends it to the
provider, where it signs in as alice and clicks Authorize, and the provider
sends it back to the product's callback. The callback matches alice by issuer
and subject and maps her `groups` claim to workspace roles. With group
`acme-admins` she becomes admin of `acme` and gets the admin index. With no
group she is signed in, but gets no membership and no admin index.

Chromium starts as in test_oauth_consent_browser.py, through its
`browser_page`: Debian's binary, a resolver that resolves only the provider's
name and loopback, and a context that skips certificate checks, for the reason
given there. The database is read only after the browser block, because
Django raises SynchronousOnlyOperation for a query made while Playwright's
event loop runs in this thread.
"""

from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.workspaces.models import Membership
from tests.e2e.test_oauth_consent_browser import browser_page
from tests.oidc import conftest as oidc_setup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The `oidc` fixture of tests/oidc/conftest.py. Pytest collects fixtures from
# module attributes, so this name makes it available here.
oidc = oidc_setup.oidc

ADMIN_HEADER = "Second administration"
APPS_PATH = "/admin/applications/"


@dataclass(frozen=True)
class Landing:
    """The pages of one sign-in: the provider page Chromium was sent to first,
    the page it ended on, and what that page shows."""

    sent_to: str
    url: str
    header: str
    apps_links: int


def serve_live(oidc, live_server, settings) -> str:
    """Point the product's public URL and the `sso` client at the live server."""
    settings.SECOND_PUBLIC_URL = live_server.url
    oidc.provider.add_redirect_uri(f"{live_server.url}/oidc/callback/", client="sso")
    return live_server.url


def sign_in(page: Page, base: str, user) -> Landing:
    """Open the admin index, sign in at the provider as `user`, click Authorize
    and return where Chromium ends."""
    page.goto(f"{base}/admin/")
    sent_to = page.url
    page.fill("#login-form #id_username", user.username)
    page.fill("#login-form #id_password", user.password)
    page.click("#login-form button[type=submit]")
    allow = page.locator("#consent-form button[name=allow]")
    allow.wait_for()
    consent_url = page.url
    allow.click()
    # A redirect chain commits only its last URL, so the first new URL is where
    # the chain ended.
    page.wait_for_url(lambda url: url != consent_url)
    header = page.locator("#site-name")
    return Landing(
        sent_to=sent_to,
        url=page.url,
        header=header.inner_text() if header.count() else "",
        apps_links=page.locator(f'a[href="{APPS_PATH}"]').count(),
    )


def provider_user(oidc) -> User:
    return User.objects.get(oidc_issuer=oidc.provider.issuer)


def test_admin_group_opens_admin(oidc, live_server, settings):
    base = serve_live(oidc, live_server, settings)
    oidc.provider.set_user("alice", groups=["acme-admins"])
    alice = oidc.provider.users["alice"]

    with browser_page(oidc.provider) as page:
        landing = sign_in(page, base, alice)

    assert landing.sent_to.startswith(f"{oidc.provider.base_url}/")
    assert landing.url == f"{base}/admin/"
    assert landing.header == ADMIN_HEADER
    assert landing.apps_links > 0
    user = provider_user(oidc)
    # NOTE: the provider does not expose alice's subject, so only its presence
    # is checked here.
    assert user.oidc_subject != ""
    assert user.email == alice.email
    membership = Membership.objects.get(user=user)
    assert membership.workspace.slug == "acme"
    assert membership.role == "admin"
    assert membership.source == "identity_claim"
    logins = AuditEvent.objects.filter(event_name="auth.login", target_id=str(user.pk))
    assert logins.count() == 1


def test_no_group_no_admin(oidc, live_server, settings):
    base = serve_live(oidc, live_server, settings)
    alice = oidc.provider.users["alice"]

    with browser_page(oidc.provider) as page:
        landing = sign_in(page, base, alice)

    assert landing.url != f"{base}/admin/"
    assert landing.header != ADMIN_HEADER
    assert landing.apps_links == 0
    user = provider_user(oidc)
    assert user.email == alice.email
    assert not Membership.objects.filter(user=user).exists()
    logins = AuditEvent.objects.filter(event_name="auth.login", target_id=str(user.pk))
    assert logins.count() == 1


def test_no_group_stays_on_product(oidc, live_server, settings):
    base = serve_live(oidc, live_server, settings)

    with browser_page(oidc.provider) as page:
        landing = sign_in(page, base, oidc.provider.users["alice"])

    assert landing.url.startswith(f"{base}/")
