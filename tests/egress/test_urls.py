"""Tests of the egress URL parser: what it rejects and the canonical URL it returns."""

import pytest
from urllib3.util import parse_url as urllib3_parse_url

from apps.execution.egress.errors import EgressError
from apps.execution.egress.urls import normalize_host, parse_url

CANONICAL = [
    ("https://api.allowed.example/v1", "https://api.allowed.example/v1"),
    ("HTTPS://API.Allowed.Example./v1", "https://api.allowed.example/v1"),
    ("https://api.allowed.example", "https://api.allowed.example/"),
    ("https://api.allowed.example?x=1", "https://api.allowed.example/?x=1"),
    ("https://api.allowed.example:443/a", "https://api.allowed.example/a"),
    ("https://api.allowed.example:0443/a", "https://api.allowed.example/a"),
    ("https://api.allowed.example/a#frag", "https://api.allowed.example/a"),
    ("https://api.allowed.example/a%2fb", "https://api.allowed.example/a%2Fb"),
    (
        "https://api.allowed.example/ü?q=ä",
        "https://api.allowed.example/%C3%BC?q=%C3%A4",
    ),
    (
        'https://api.allowed.example/?f[a]="b"',
        "https://api.allowed.example/?f%5Ba%5D=%22b%22",
    ),
    ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
    ("https://[::1]:8443/", "https://[::1]:8443/"),
    ("https://[::FFFF:127.0.0.1]/", "https://[::ffff:7f00:1]/"),
    ("https://2130706433/", "https://127.0.0.1/"),
    ("https://127.1/", "https://127.0.0.1/"),
    ("https://0x7f.0.0.1/", "https://127.0.0.1/"),
    ("https://0177.0.0.1/", "https://127.0.0.1/"),
    ("https://017700000001/", "https://127.0.0.1/"),
    ("https://0/", "https://0.0.0.0/"),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/x"),
    ("http://localhost:80/", "http://localhost/"),
]


@pytest.mark.parametrize(("raw", "canonical"), CANONICAL)
def test_parse_url_canonical_form(raw, canonical):
    assert parse_url(raw).canonical == canonical


@pytest.mark.parametrize(("raw", "_canonical"), CANONICAL)
def test_urllib3_reads_canonical_url_alike(raw, _canonical):
    parsed = parse_url(raw)
    theirs = urllib3_parse_url(parsed.canonical)
    assert (theirs.host or "").strip("[]") == parsed.host
    assert theirs.request_uri == parsed.path_and_query
    assert theirs.auth is None


REJECTED = [
    ("", "url_invalid", "empty"),
    ("api.allowed.example/v1", "url_invalid", "scheme"),
    ("https:api.allowed.example", "url_invalid", "authority"),
    ("https:/api.allowed.example", "url_invalid", "authority"),
    ("ftp://api.allowed.example/", "https_required", "scheme"),
    ("https://api.allowed.example:", "url_invalid", "port"),
    ("https://api.allowed.example:+443/", "url_invalid", "port"),
    ("https://api.allowed.example:４４３/", "url_invalid", "port"),
    ("https://api.allowed.example:99999999999999999999/", "url_invalid", "port"),
    ("https://[::1]x/", "url_invalid", "bracketed_host"),
    ("https://[127.0.0.1]/", "url_invalid", "bracketed_host"),
    ("https://[fe80::1%25eth0]/", "url_invalid", "percent_encoding"),
    ("https://::1/", "url_invalid", "host_character"),
    ("https://api]allowed.example/", "url_invalid", "bracketed_host"),
    ("https://api_allowed.example/", "url_invalid", "host_character"),
    ("https://-api.allowed.example/", "url_invalid", "host_character"),
    ("https://api..allowed.example/", "url_invalid", "host_character"),
    ("https://api.allowed.example../", "url_invalid", "host_character"),
    ("https://./", "url_invalid", "empty_host"),
    ("https://" + "a" * 64 + ".example/", "url_invalid", "host_character"),
    ("https://" + "a." * 130 + "example/", "url_invalid", "host_too_long"),
    ("https://ａｐｉ.allowed.example/", "url_invalid", "idna"),
    ("https://api。allowed.example/", "url_invalid", "idna"),
    ("https://BÜCHER.example/", "url_invalid", "idna"),
    ("https://xn--zz.example/", "url_invalid", "idna"),
    ("https://256.0.0.1/", "url_invalid", "ip_literal"),
    ("https://1.2.3.4.5/", "url_invalid", "ip_literal"),
    ("https://api.1/", "url_invalid", "ip_literal"),
    ("https://08.0.0.1/", "url_invalid", "ip_literal"),
    ("https://1_0.0.0.1/", "url_invalid", "ip_literal"),
    ("https://api.allowed.example/%", "url_invalid", "percent_encoding"),
    ("https://api.allowed.example/\u202e", "url_invalid", "control_character"),
    ("https://api.allowed.example/\u00a0", "url_invalid", "whitespace"),
    ("https://api.allowed.example/" + "a" * 9000, "url_invalid", "too_long"),
]


@pytest.mark.parametrize(("raw", "code", "reason"), REJECTED)
def test_parse_url_rejects(raw, code, reason):
    with pytest.raises(EgressError) as caught:
        parse_url(raw)
    assert caught.value.code == code
    assert caught.value.reason == reason


def test_parse_url_rejects_non_string():
    with pytest.raises(EgressError) as caught:
        parse_url(b"https://api.allowed.example/")
    assert caught.value.code == "url_invalid"


def test_parse_url_keeps_http_for_local_mode():
    parsed = parse_url("http://127.0.0.1:8000/")
    assert parsed.scheme == "http"
    assert parsed.port == 8000
    assert not parsed.is_https_443


def test_parse_url_fields():
    parsed = parse_url("https://EU.Api.Allowed.Example:443/v1/items?limit=5")
    assert parsed.scheme == "https"
    assert parsed.host == "eu.api.allowed.example"
    assert parsed.port == 443
    assert parsed.path_and_query == "/v1/items?limit=5"
    assert parsed.address is None
    assert parsed.host_header == "eu.api.allowed.example"


def test_host_header_of_ipv6_with_port():
    assert parse_url("http://[::1]:8080/").host_header == "[::1]:8080"


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("Evil.Example.", "evil.example"),
        ("[::1]", "::1"),
        ("127.1", "127.0.0.1"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_normalize_host(value, host):
    assert normalize_host(value) == host
