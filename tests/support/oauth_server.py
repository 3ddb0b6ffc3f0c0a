"""A real OAuth 2.0 and OpenID Connect provider on loopback, and its fixtures.

`oauth_provider` (one per session) starts tests/oauth_provider/serve.py, a
django-oauth-toolkit project, as a subprocess serving https://HOST_NAME on a
127.0.0.1 port with a certificate from the session test CA. `oauth_routes`
points SECOND_EGRESS_RESOLVE and SECOND_EGRESS_EXTRA_CA at it for one test, so
the product's egress client reaches it by its host name.

Tests in this process talk to it with `OAuthProvider.request`, which dials the
port and verifies the certificate for the host name. `OAuthProvider.authorize`
acts as the user's browser: it signs in and submits the consent form.
"""

import importlib.util
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import urllib3

from tests.oauth_provider import accounts
from tests.oauth_provider.accounts import ProviderClient, ProviderUser
from tests.support.tls import TestCA

ROOT = Path(__file__).resolve().parent.parent.parent
LOOPBACK = "127.0.0.1"
HOST_NAME = accounts.DEFAULT_HOST_NAME
SETTINGS_MODULE = "tests.oauth_provider.settings"
CALLBACK_PATH = "/api/oauth/callback"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
REQUEST_TIMEOUT_SECONDS = 10
# A sign-in and a consent take four or five requests, so more means a loop.
MAX_BROWSER_STEPS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class ProviderFlowError(AssertionError):
    """The provider's pages did not lead where a browser expects them to."""


class ProviderStartError(RuntimeError):
    """The provider process exited or never printed LISTENING."""


class OAuthProvider:
    """A running provider: its URLs, registered clients and users, and helpers.

    `clients` and `users` are keyed by name ("connect", "sso"; "alice", "bob").
    """

    def __init__(
        self,
        *,
        process: subprocess.Popen,
        port: int,
        host_name: str,
        ca_path: Path,
        test_token: str,
        log_path: Path,
    ) -> None:
        self.process = process
        self.port = port
        self.host_name = host_name
        self.ca_path = ca_path
        self.log_path = log_path
        self._test_token = test_token
        self.base_url = f"https://{host_name}"
        self.issuer = f"{self.base_url}/o"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.authorization_url = f"{self.issuer}/authorize/"
        self.token_url = f"{self.issuer}/token/"
        self.revocation_url = f"{self.issuer}/revoke_token/"
        self.introspection_url = f"{self.issuer}/introspect/"
        self.userinfo_url = f"{self.issuer}/userinfo/"
        self.jwks_url = f"{self.issuer}/.well-known/jwks.json"
        self.clients: dict[str, ProviderClient] = {c.name: c for c in accounts.CLIENTS}
        self.users: dict[str, ProviderUser] = {u.username: u for u in accounts.USERS}
        self._pool = urllib3.HTTPSConnectionPool(
            LOOPBACK,
            port,
            maxsize=4,
            timeout=REQUEST_TIMEOUT_SECONDS,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(ca_path),
            server_hostname=host_name,
            assert_hostname=host_name,
        )

    def resolve_entry(self) -> str:
        """Return `HOST:443=127.0.0.1:PORT`, a SECOND_EGRESS_RESOLVE entry."""
        return f"{self.host_name}:443={LOOPBACK}:{self.port}"

    def request(
        self,
        method: str,
        url: str,
        *,
        fields: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request to the provider and return the response unfollowed.

        `url` is a path or a URL on `base_url`. `fields` go in the query of a
        GET and as a form body otherwise.
        """
        target = self._path(url)
        all_headers = {"Host": self.host_name, **(headers or {})}
        if fields is not None and method.upper() == "GET":
            separator = "&" if "?" in target else "?"
            target = f"{target}{separator}{urlencode(fields)}"
        elif fields is not None:
            body = urlencode(fields).encode()
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return self._pool.urlopen(
            method.upper(), target, body=body, headers=all_headers, redirect=False
        )

    def stats(self, *, username: str = "", client_id: str = "") -> dict:
        """Return the counts of GET /test/stats.

        Keys: `token_requests` and `token_failures` (by grant_type),
        `revocations`, `revocations_failed`, `userinfo_requests`,
        `userinfo_failed`, and `last_refresh_token` (`id`, `sha256`, `revoked`,
        `username`, `client_id`, or None), narrowed by `username` and
        `client_id` when given. Counts only grow, so compare them before and after.
        """
        query = {
            key: value
            for key, value in (("username", username), ("client_id", client_id))
            if value
        }
        return self._test_call("GET", "/test/stats", query=query)

    def expire_tokens(self, username: str) -> int:
        """Expire every access token of `username` now; return how many."""
        answer = self._test_call("POST", "/test/expire", {"username": username})
        return answer["expired"]

    def add_redirect_uri(self, uri: str, client: str | None = None) -> None:
        """Register `uri` as a redirect URI of client `client`, or of every client."""
        payload = {"redirect_uri": uri}
        if client is not None:
            payload["client_id"] = self.clients[client].client_id
        self._test_call("POST", "/test/redirect-uri", payload)

    def set_user(self, username: str, **changes) -> dict:
        """Change a provider user's `groups`, `email`, `email_verified` or
        `is_active`; the next sign-in's claims carry the change."""
        return self._test_call("POST", "/test/user", {"username": username, **changes})

    def authorize(
        self, url: str, *, username: str = "alice", allow: bool = True
    ) -> str:
        """Open an authorization URL as a fresh browser and return where it ends.

        Signs in as `username`, submits the consent form with Authorize (or
        Cancel when `allow` is false) and returns the first redirect that
        leaves the provider: the client's redirect URI with `code` and `state`,
        or with `error`.
        """
        browser = _Browser(self)
        return browser.authorize(url, self.users[username], allow=allow)

    def log(self) -> str:
        """Return what the provider process wrote to stdout and stderr."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process with SIGTERM, killing it if it does not exit."""
        self._pool.close()
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def _path(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme and (parts.scheme, parts.hostname) != ("https", self.host_name):
            raise ValueError(f"{url!r} is not on {self.base_url}")
        path = parts.path or "/"
        return f"{path}?{parts.query}" if parts.query else path

    def _test_call(
        self, method: str, path: str, payload: dict | None = None, *, query=None
    ) -> dict:
        headers = {"Authorization": f"Bearer {self._test_token}"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        response = self.request(method, path, fields=query, body=body, headers=headers)
        if response.status != 200:
            raise ProviderFlowError(
                f"{method} {path} returned status {response.status}; see log()"
            )
        return response.json()


@dataclass
class _Form:
    """One <form> of a page: its id, action and the fields it would submit."""

    form_id: str
    action: str
    fields: list[tuple[str, str]]


class _FormParser(HTMLParser):
    """Collect each form's id, action and named input values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = _Form(
                attributes.get("id", ""), attributes.get("action", ""), []
            )
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            kind = attributes.get("type", "text").lower()
            if attributes.get("name") and kind not in ("submit", "button"):
                self._current.fields.append(
                    (attributes["name"], attributes.get("value", ""))
                )

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


class _Browser:
    """A cookie-keeping client that follows the provider's pages as a user would."""

    def __init__(self, provider: OAuthProvider) -> None:
        self.provider = provider
        self.cookies: dict[str, str] = {}

    def authorize(self, url: str, user: ProviderUser, *, allow: bool) -> str:
        """Follow `url` through sign-in and consent; return the exit redirect."""
        current = url
        response = self._send("GET", current)
        logins = 0
        for _ in range(MAX_BROWSER_STEPS):
            if response.status in REDIRECT_STATUSES:
                current = urljoin(current, response.headers["Location"])
                if not self._on_provider(current):
                    return current
                response = self._send("GET", current)
                continue

            form = self._only_form(response, current)
            if form.form_id == "login-form":
                logins += 1
            if logins > 1:
                raise ProviderFlowError(
                    f"signing in as {user.username} failed: the login form came back"
                )
            extra = self._user_input(form, user, allow=allow, url=current)
            current, response = self._submit(current, form, extra)
        raise ProviderFlowError(
            f"no redirect away from the provider in {MAX_BROWSER_STEPS} steps"
        )

    @staticmethod
    def _user_input(
        form: _Form, user: ProviderUser, *, allow: bool, url: str
    ) -> list[tuple[str, str]]:
        """Return the fields a user fills in or clicks on the login or consent form."""
        if form.form_id == "login-form":
            return [("username", user.username), ("password", user.password)]
        if form.form_id == "consent-form":
            return [("allow", "Authorize")] if allow else [("cancel", "Cancel")]
        raise ProviderFlowError(f"unexpected form {form.form_id!r} at {url}")

    def _only_form(self, response: urllib3.BaseHTTPResponse, url: str) -> _Form:
        if response.status != 200:
            raise ProviderFlowError(
                f"{url} returned status {response.status}, expected a form"
            )
        parser = _FormParser()
        parser.feed(response.data.decode("utf-8", "replace"))
        if len(parser.forms) != 1:
            raise ProviderFlowError(
                f"{url} shows {len(parser.forms)} forms, expected one"
            )
        return parser.forms[0]

    def _submit(self, page_url: str, form: _Form, extra: Iterable[tuple[str, str]]):
        target = urljoin(page_url, form.action) if form.action else page_url
        body = urlencode([*form.fields, *extra]).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.provider.base_url,
            "Referer": page_url,
        }
        return target, self._send("POST", target, body=body, headers=headers)

    def _send(self, method: str, url: str, *, body=None, headers=None):
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(
                f"{k}={v}" for k, v in self.cookies.items()
            )
        response = self.provider.request(method, url, body=body, headers=all_headers)
        self._keep_cookies(response)
        return response

    def _keep_cookies(self, response: urllib3.BaseHTTPResponse) -> None:
        for header in response.headers.getlist("Set-Cookie"):
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)

    def _on_provider(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname) == ("https", self.provider.host_name)


def default_redirect_uris() -> list[str]:
    """Return the product's callback under the test settings' public URL.

    http://testserver is always in the list, because that is the public URL
    Django's test client uses when SECOND_PUBLIC_URL is not set.
    """
    from django.conf import settings

    uris = [accounts.DEFAULT_REDIRECT_URI]
    public_url = getattr(settings, "SECOND_PUBLIC_URL", "")
    if public_url:
        uris.append(public_url.rstrip("/") + CALLBACK_PATH)
    return list(dict.fromkeys(uris))


def start_oauth_provider(
    tls_ca: TestCA,
    state_dir: Path,
    *,
    redirect_uris: Iterable[str] = (),
    access_token_seconds: int | None = None,
    host_name: str = HOST_NAME,
) -> OAuthProvider:
    """Start serve.py for `host_name` and wait until it listens.

    The caller stops it with `stop()`. `access_token_seconds` sets the access
    token lifetime (3600 when None).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = _write_certificate(tls_ca, state_dir, host_name)
    test_token = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        accounts.ENV_TEST_TOKEN: test_token,
        accounts.ENV_REDIRECT_URIS: " ".join(redirect_uris),
    }
    if access_token_seconds is not None:
        env[accounts.ENV_ACCESS_TOKEN_SECONDS] = str(access_token_seconds)
    log_path = state_dir / "provider.log"
    command = [
        sys.executable,
        "-m",
        "tests.oauth_provider.serve",
        "--port=0",
        f"--host-name={host_name}",
        f"--cert={cert_path}",
        f"--key={key_path}",
        f"--state-dir={state_dir / 'state'}",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    port = _wait_listening(process, log_path)
    return OAuthProvider(
        process=process,
        port=port,
        host_name=host_name,
        ca_path=tls_ca.pem_path,
        test_token=test_token,
        log_path=log_path,
    )


def _write_certificate(tls_ca: TestCA, directory: Path, host_name: str):
    """Write a server certificate chain and key for `host_name`; return paths."""
    leaf = tls_ca.issue(host_name)
    cert_path = directory / "provider-cert.pem"
    key_path = directory / "provider-key.pem"
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key_path.touch(mode=0o600)
    leaf.private_key_pem.write_to_path(str(key_path))
    return cert_path, key_path


def _wait_listening(process: subprocess.Popen, log_path: Path) -> int:
    """Return the port from the LISTENING line, or stop the process and raise."""
    # A hang guard only: the provider took about two seconds to start here.
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        match = re.search(r"^LISTENING (\d+)$", text, re.MULTILINE)
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            raise ProviderStartError(
                f"the OAuth provider exited during start; its log:\n{text}"
            )
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=STOP_TIMEOUT_SECONDS)
    raise ProviderStartError(
        f"the OAuth provider timed out after {START_TIMEOUT_SECONDS} s before"
        f" printing LISTENING; its log:\n{log_path.read_text()}"
    )


@dataclass(frozen=True)
class OAuthRoutes:
    """The provider as one test's egress settings reach it.

    `env` contains the same settings as environment variables, for a worker
    started as a subprocess after this fixture.
    """

    provider: OAuthProvider
    env: dict[str, str]


@pytest.fixture(scope="session")
def oauth_provider(
    tls_ca: TestCA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OAuthProvider]:
    """The session's OAuth and OIDC provider at https://auth.provider.example."""
    if importlib.util.find_spec("oauth2_provider") is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("django-oauth-toolkit is not installed")
    provider = start_oauth_provider(
        tls_ca,
        tmp_path_factory.mktemp("oauth-provider"),
        redirect_uris=default_redirect_uris(),
    )
    yield provider
    provider.stop()


@pytest.fixture
def oauth_routes(
    oauth_provider: OAuthProvider, tls_ca: TestCA, settings
) -> OAuthRoutes:
    """Route the provider's host name to its port for this test's egress client.

    Mappings already in SECOND_EGRESS_RESOLVE stay.
    """
    mapping = dict(settings.SECOND_EGRESS_RESOLVE)
    mapping[oauth_provider.host_name] = (LOOPBACK, oauth_provider.port)
    settings.SECOND_EGRESS_RESOLVE = mapping
    settings.SECOND_EGRESS_EXTRA_CA = str(tls_ca.pem_path)
    env = {
        "SECOND_EGRESS_RESOLVE": ",".join(
            f"{name}:443={address}:{port}" for name, (address, port) in mapping.items()
        ),
        "SECOND_EGRESS_EXTRA_CA": str(tls_ca.pem_path),
    }
    return OAuthRoutes(provider=oauth_provider, env=env)
