"""Hostile URLs and DNS answers: each is refused with its code and dials nothing.

Names resolve through the test resolver only. A case that the guard let through
would reach the dial layer, which records it, so every case also asserts that
the dial recorder stayed empty.
"""

from dataclasses import dataclass, field

import pytest

from apps.execution.egress import EgressError, EgressPolicy, OutboundRequest, send
from tests.support.egress_fixtures import assert_no_dials

DOMAIN = "api.allowed.example"
ANY_HOST = None  # The policy of OAuth and OIDC provider URLs.


@dataclass(frozen=True)
class Case:
    id: str
    url: str
    code: str
    reason: str
    domain: str | None = DOMAIN
    answers: dict[str, list[str]] = field(default_factory=dict)
    # Refusals on the URL alone must happen before any lookup.
    before_dns: bool = True


def resolving(name: str, *addresses: str) -> dict[str, list[str]]:
    return {name: list(addresses)}


CASES = [
    # Plain http and other schemes.
    Case("http", "http://api.allowed.example/v1/items", "https_required", "scheme"),
    Case("http-upper", "HTTP://api.allowed.example/v1", "https_required", "scheme"),
    Case("http-mixed", "hTTp://api.allowed.example/", "https_required", "scheme"),
    Case("file", "file:///etc/passwd", "https_required", "scheme"),
    Case("gopher", "gopher://127.0.0.1:6379/_INFO", "https_required", "scheme"),
    Case("dict", "dict://127.0.0.1:11211/", "https_required", "scheme"),
    Case("ftp", "ftp://api.allowed.example/", "https_required", "scheme"),
    Case("data", "data:text/plain,x", "https_required", "scheme"),
    Case("wss", "wss://api.allowed.example/", "https_required", "scheme"),
    Case("jar", "jar:https://api.allowed.example/a.jar!/", "https_required", "scheme"),
    # White space, control characters and NUL are rejected, not stripped.
    Case("leading-space", " https://evil.example/", "url_invalid", "whitespace"),
    Case("leading-tab", "\thttps://api.allowed.example/", "url_invalid", "whitespace"),
    Case(
        "tab-in-scheme", "ht\ttps://api.allowed.example/", "url_invalid", "whitespace"
    ),
    Case(
        "crlf-header",
        "https://api.allowed.example/\r\nX-A: b",
        "url_invalid",
        "whitespace",
    ),
    Case(
        "trailing-space", "https://api.allowed.example/ ", "url_invalid", "whitespace"
    ),
    Case(
        "nul-in-host",
        "https://evil.example\x00.api.allowed.example/",
        "url_invalid",
        "control_character",
    ),
    Case(
        "escaped-nul-in-host",
        "https://api.allowed.example%00.evil.example/",
        "url_invalid",
        "percent_encoding",
    ),
    Case("del", "https://api.allowed.example/\x7f", "url_invalid", "control_character"),
    Case(
        "zero-width-space",
        "https://api.allowed.example\u200b/",
        "url_invalid",
        "control_character",
    ),
    # Userinfo.
    Case(
        "at-host",
        "https://api.allowed.example@evil.example/",
        "url_invalid",
        "userinfo",
    ),
    Case(
        "at-host-port",
        "https://api.allowed.example:443@evil.example/",
        "url_invalid",
        "userinfo",
    ),
    Case(
        "user-password",
        "https://user:pw@api.allowed.example/",
        "url_invalid",
        "userinfo",
    ),
    Case(
        "escaped-slash-at",
        "https://api.allowed.example%2F@evil.example/",
        "url_invalid",
        "userinfo",
    ),
    # Parser differentials: the host is the one the client would dial.
    Case(
        "fragment-at",
        "https://evil.example#@api.allowed.example/",
        "domain_lock_failed",
        "outside_domain",
    ),
    Case(
        "query-at",
        "https://evil.example?@api.allowed.example/",
        "domain_lock_failed",
        "outside_domain",
    ),
    Case(
        "bracketed-name",
        "https://[api.allowed.example]/",
        "url_invalid",
        "bracketed_host",
    ),
    Case("backslash-slash", "https:/\\evil.example/", "url_invalid", "backslash"),
    Case(
        "backslash-at",
        "https://api.allowed.example\\@evil.example/",
        "url_invalid",
        "backslash",
    ),
    Case("triple-slash", "https:///evil.example/", "url_invalid", "empty_host"),
    Case("no-slashes", "https:evil.example/", "url_invalid", "authority"),
    Case("unclosed-bracket", "https://[::1/", "url_invalid", "bracketed_host"),
    Case("fullwidth-host", "https://ａｐｉ.allowed.example/", "url_invalid", "idna"),
    Case("ideographic-dot", "https://api。allowed.example/", "url_invalid", "idna"),
    # Ports.
    Case("port-8443", "https://api.allowed.example:8443/", "https_required", "port"),
    Case("port-22", "https://api.allowed.example:22/", "https_required", "port"),
    Case("port-6379", "https://api.allowed.example:6379/", "https_required", "port"),
    Case("port-0", "https://api.allowed.example:0/", "https_required", "port"),
    Case("port-65536", "https://api.allowed.example:65536/", "url_invalid", "port"),
    Case("port-negative", "https://api.allowed.example:-1/", "url_invalid", "port"),
    Case("port-suffix", "https://api.allowed.example:443abc/", "url_invalid", "port"),
    # Case and trailing dots do not slip past the deny list (see DENIED below).
    Case(
        "deny-dot",
        "https://evil.example./",
        "domain_lock_failed",
        "deny_list",
        ANY_HOST,
    ),
    Case(
        "deny-upper",
        "https://EVIL.example/",
        "domain_lock_failed",
        "deny_list",
        ANY_HOST,
    ),
    Case(
        "deny-subdomain",
        "https://Sub.EVIL.example./x",
        "domain_lock_failed",
        "deny_list",
        ANY_HOST,
    ),
    # The domain lock compares whole labels.
    Case(
        "suffix-trick",
        "https://api.allowed.example.evil.example/",
        "domain_lock_failed",
        "outside_domain",
    ),
    Case(
        "label-trick",
        "https://evilapi.allowed.example/",
        "domain_lock_failed",
        "outside_domain",
    ),
    # Loopback, by name and literal.
    Case(
        "name-127.0.0.1",
        "https://api.allowed.example/",
        "private_ip_blocked",
        "loopback",
        answers=resolving(DOMAIN, "127.0.0.1"),
        before_dns=False,
    ),
    Case(
        "name-127.255.255.254",
        "https://api.allowed.example/",
        "private_ip_blocked",
        "loopback",
        answers=resolving(DOMAIN, "127.255.255.254"),
        before_dns=False,
    ),
    Case(
        "name-::1",
        "https://api.allowed.example/",
        "private_ip_blocked",
        "loopback",
        answers=resolving(DOMAIN, "::1"),
        before_dns=False,
    ),
    Case(
        "literal-127", "https://127.0.0.1/", "private_ip_blocked", "loopback", ANY_HOST
    ),
    Case("literal-::1", "https://[::1]/", "private_ip_blocked", "loopback", ANY_HOST),
    Case(
        "literal-locked", "https://127.0.0.1/", "domain_lock_failed", "outside_domain"
    ),
    # Unspecified.
    Case("literal-0", "https://0/", "private_ip_blocked", "unspecified", ANY_HOST),
    Case(
        "literal-0.0.0.0",
        "https://0.0.0.0/",
        "private_ip_blocked",
        "unspecified",
        ANY_HOST,
    ),
    Case("literal-::", "https://[::]/", "private_ip_blocked", "unspecified", ANY_HOST),
    Case(
        "name-0.1.2.3",
        "https://api.allowed.example/",
        "private_ip_blocked",
        "unspecified",
        answers=resolving(DOMAIN, "0.1.2.3"),
        before_dns=False,
    ),
    # Private ranges.
    *[
        Case(
            f"name-{address}",
            "https://api.allowed.example/",
            "private_ip_blocked",
            "private",
            answers=resolving(DOMAIN, address),
            before_dns=False,
        )
        for address in (
            "10.0.0.1",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
        )
    ],
    # Link-local and metadata.
    *[
        Case(
            f"name-{address}",
            "https://api.allowed.example/",
            "private_ip_blocked",
            reason,
            answers=resolving(DOMAIN, address),
            before_dns=False,
        )
        for address, reason in (
            ("169.254.169.254", "metadata"),
            ("169.254.170.2", "metadata"),
            ("169.254.169.253", "metadata"),
            ("fd00:ec2::254", "metadata"),
            ("100.100.100.200", "metadata"),
            ("169.254.1.1", "link_local"),
            ("fe80::1", "link_local"),
            ("100.64.0.1", "cgnat"),
            ("100.127.255.254", "cgnat"),
            ("192.0.0.170", "reserved"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("192.88.99.1", "reserved"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("ff02::2", "multicast"),
            ("::ffff:10.0.0.1", "private"),
        )
    ],
    Case(
        "metadata-name-locked",
        "https://metadata.google.internal/computeMetadata/v1/",
        "domain_lock_failed",
        "outside_domain",
    ),
    Case(
        "metadata-name-any-host",
        "https://metadata.google.internal/computeMetadata/v1/",
        "private_ip_blocked",
        "metadata",
        ANY_HOST,
        answers=resolving("metadata.google.internal", "169.254.169.254"),
        before_dns=False,
    ),
    # The product's own origin (SECOND_PUBLIC_URL is http://testserver in tests).
    Case(
        "own-origin",
        "https://testserver/api/health",
        "domain_lock_failed",
        "own_origin",
        ANY_HOST,
    ),
    Case(
        "own-origin-dot",
        "https://TestServer./api/health",
        "domain_lock_failed",
        "own_origin",
        ANY_HOST,
    ),
    # Mixed answers are refused whole.
    Case(
        "mixed-v4",
        "https://api.allowed.example/",
        "private_ip_blocked",
        "private",
        answers=resolving(DOMAIN, "93.184.215.14", "10.0.0.5"),
        before_dns=False,
    ),
    Case(
        "mixed-v4-v6",
        "https://api.allowed.example/",
        "private_ip_blocked",
        "private",
        answers=resolving(DOMAIN, "93.184.215.14", "fd00::1"),
        before_dns=False,
    ),
    # Wildcard DNS services and *.localhost.
    *[
        Case(
            f"wildcard-{host}",
            f"https://{host}/",
            "domain_lock_failed",
            "outside_domain",
        )
        for host in (
            "127.0.0.1.nip.io",
            "7f000001.nip.io",
            "foo.localhost",
            "localtest.me",
        )
    ],
    Case(
        "wildcard-allowed-alias",
        "https://127.0.0.1.nip.io/",
        "private_ip_blocked",
        "loopback",
        "nip.io",
        answers=resolving("127.0.0.1.nip.io", "127.0.0.1"),
        before_dns=False,
    ),
    Case(
        "localhost-allowed-alias",
        "https://foo.localhost/",
        "private_ip_blocked",
        "loopback",
        "localhost",
        answers=resolving("foo.localhost", "127.0.0.1"),
        before_dns=False,
    ),
    # DNS failure is a failure, not a block.
    Case(
        "nxdomain",
        "https://missing.allowed.example/",
        "dns_failure",
        "nxdomain",
        "allowed.example",
        before_dns=False,
    ),
    # Hosts an agent might choose: numeric forms resolvers read as IPv4.
    *[
        Case(
            f"numeric-{host}",
            f"https://{host}/",
            "private_ip_blocked",
            reason,
            ANY_HOST,
        )
        for host, reason in (
            ("127.1", "loopback"),
            ("2130706433", "loopback"),
            ("0x7f.0.0.1", "loopback"),
            ("0177.0.0.1", "loopback"),
            ("017700000001", "loopback"),
            ("0x7f000001", "loopback"),
            ("0.0.0.0.", "unspecified"),
        )
    ],
    Case(
        "localhost-dot",
        "https://localhost./",
        "private_ip_blocked",
        "loopback",
        ANY_HOST,
        answers=resolving("localhost", "127.0.0.1"),
        before_dns=False,
    ),
    # IPv6 transition forms.
    *[
        Case(f"v6-{host}", f"https://[{host}]/", "private_ip_blocked", reason, ANY_HOST)
        for host, reason in (
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:7f00:1", "loopback"),
            ("::169.254.169.254", "metadata"),
            ("2002:a9fe:a9fe::", "metadata"),
            ("64:ff9b::a9fe:a9fe", "metadata"),
            ("64:ff9b::10.0.0.1", "private"),
            ("::ffff:93.184.215.14", "embedded_ipv4"),
        )
    ],
    Case(
        "literal-alibaba",
        "https://100.100.100.200/latest/meta-data/",
        "private_ip_blocked",
        "metadata",
        ANY_HOST,
    ),
    Case(
        "literal-imds",
        "https://169.254.169.254/latest/meta-data/",
        "private_ip_blocked",
        "metadata",
        ANY_HOST,
    ),
    Case(
        "aaaa-mapped-private",
        "https://api.allowed.example/",
        "private_ip_blocked",
        "private",
        answers=resolving(DOMAIN, "::ffff:10.0.0.1"),
        before_dns=False,
    ),
]

DENIED = ["evil.example"]


@pytest.fixture
def deny_evil(settings):
    settings.SECOND_EGRESS_DENY_DOMAINS = DENIED
    settings.SECOND_LOCAL_MODE = False


def _resolver_lookups(test_resolver, case: Case) -> int:
    hosts = [DOMAIN, "evil.example", "missing.allowed.example", *case.answers]
    return sum(test_resolver.lookups(host) for host in hosts)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_url_refused(case, deny_evil, test_resolver, dial_recorder):
    for name, addresses in case.answers.items():
        test_resolver.set_answers(name, addresses)
    request = OutboundRequest("GET", case.url, headers={})

    with pytest.raises(EgressError) as caught:
        send(request, policy=EgressPolicy(allowed_domain=case.domain))

    assert caught.value.code == case.code
    assert caught.value.reason == case.reason
    assert_no_dials()
    if case.before_dns:
        assert _resolver_lookups(test_resolver, case) == 0


def test_hostile_corpus_size():
    # The corpus is meant to cover the whole kind of fault, not a sample.
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_error_leaks_no_url_detail(case, deny_evil, test_resolver):
    for name, addresses in case.answers.items():
        test_resolver.set_answers(name, addresses)
    canary = "sk_live_CANARY_7f3a9c"
    url = case.url.rstrip("/ ") + f"/?token={canary}"
    request = OutboundRequest("GET", url, headers={"Authorization": f"Bearer {canary}"})

    with pytest.raises(EgressError) as caught:
        send(request, policy=EgressPolicy(allowed_domain=case.domain))

    assert canary not in str(caught.value)
    assert canary not in repr(caught.value.as_details())
