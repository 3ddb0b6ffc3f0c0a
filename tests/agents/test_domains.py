"""Tests of integration domain normalisation, approval rules and host matching."""

import pytest

from apps.agents.domains import (
    DomainError,
    describe_domain,
    domain_problems,
    host_matches_domain,
    is_loopback_literal,
    is_product_origin,
    normalize_domain,
)


@pytest.fixture
def public_origin(settings):
    settings.SECOND_LOCAL_MODE = False
    settings.SECOND_PUBLIC = {
        "host": "second.acme.example",
        "origin": "https://second.acme.example",
        "scheme": "https",
        "port": 443,
    }
    return settings


@pytest.fixture
def local_origin(settings):
    settings.SECOND_LOCAL_MODE = True
    settings.SECOND_PUBLIC = {
        "host": "127.0.0.1",
        "origin": "http://127.0.0.1:8000",
        "scheme": "http",
        "port": 8000,
    }
    return settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://www.Slack.com:443/path", "slack.com"),
        ("  Slack.COM  ", "slack.com"),
        ("slack.com.", "slack.com"),
        ("www.slack.com", "slack.com"),
        ("api.slack.com/v1?x=1#f", "api.slack.com"),
        ("wwwslack.com", "wwwslack.com"),
        ("www.www.slack.com", "www.slack.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("XN--BCHER-KVA.de", "xn--bcher-kva.de"),
        ("ＥＸＡＭＰＬＥ.com", "example.com"),
        ("127.0.0.1:9000", "127.0.0.1"),
        ("[::1]:8080", "::1"),
        ("::1", "::1"),
    ],
)
def test_normalize_domain(value, expected):
    assert normalize_domain(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "https://",
        "user@slack.com",
        "slack.com:99999",
        "slack.com:abc",
        "ex_ample.com",
    ],
)
def test_normalize_domain_rejects(value):
    with pytest.raises(DomainError):
        normalize_domain(value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("com", "single label"),
        ("co.uk", "public suffix"),
        ("*.slack.com", "wildcard"),
        ("slack.*", "wildcard"),
        ("1.2.3.4", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("127.0.0.1", "IP address"),
        ("::1", "IP address"),
        ("127.1", "non-standard form"),
        ("2130706433", "non-standard form"),
        ("slack.com:8443", "port 8443"),
        ("user@slack.com", "userinfo"),
        ("ex_ample.com", "not a valid host name"),
        ("localhost", "single label"),
        ("", "empty"),
        ("second.acme.example", "own address"),
        ("https://www.second.acme.example/", "own address"),
    ],
)
def test_domain_problems_outside_local_mode(public_origin, value, fragment):
    problems = domain_problems(value)

    assert problems, value
    assert any(fragment in problem for problem in problems), problems


@pytest.mark.parametrize(
    "value",
    [
        "slack.com",
        "https://www.Slack.com:443/path",
        "api.hubapi.com",
        "www.googleapis.com",
        "bank.example",
        "acme.github.io",
        "bücher.de",
        # Private suffixes of the list are accepted, see _public_suffix_list.
        "github.io",
        # A domain that covers the product's host is accepted: egress rejects the
        # product's own host at call time.
        "acme.example",
    ],
)
def test_domain_problems_accepts(public_origin, value):
    assert domain_problems(value) == []


def test_problem_message_names_value(public_origin):
    (problem,) = domain_problems("co.uk")

    assert "'co.uk'" in problem


@pytest.mark.parametrize("value", ["127.0.0.1", "127.0.0.1:9000", "127.8.9.10", "::1"])
def test_loopback_accepted_in_local_mode(local_origin, value):
    assert domain_problems(value) == []


@pytest.mark.parametrize("value", ["1.2.3.4", "10.0.0.1", "::ffff:127.0.0.1"])
def test_other_ips_rejected_in_local_mode(local_origin, value):
    assert domain_problems(value) != []


def test_local_mode_rejects_product_port(local_origin):
    problems = domain_problems("127.0.0.1:8000")

    assert any("own address" in problem for problem in problems)


def test_local_mode_still_requires_443_for_names(local_origin):
    problems = domain_problems("api.example.com:8443")

    assert any("port 8443" in problem for problem in problems)


def test_loopback_rejected_when_not_local(settings):
    settings.SECOND_LOCAL_MODE = False

    assert domain_problems("127.0.0.1") != []
    assert domain_problems("::1") != []


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("second.acme.example", None, True),
        ("second.acme.example", 8443, True),
        ("SECOND.acme.example.", 443, True),
        ("other.acme.example", 443, False),
    ],
)
def test_is_product_origin_any_port_outside_local(public_origin, host, port, expected):
    assert is_product_origin(host, port) is expected


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [("127.0.0.1", 8000, True), ("127.0.0.1", 9000, False), ("127.0.0.1", None, False)],
)
def test_is_product_origin_port_in_local(local_origin, host, port, expected):
    assert is_product_origin(host, port) is expected


@pytest.mark.parametrize(
    ("host", "domain", "expected"),
    [
        ("slack.com", "slack.com", True),
        ("api.slack.com", "slack.com", True),
        ("a.b.slack.com", "slack.com", True),
        ("API.Slack.com.", "slack.com", True),
        ("www.slack.com", "slack.com", True),
        ("evil-slack.com", "slack.com", False),
        ("slack.com.evil.com", "slack.com", False),
        ("notslack.com", "slack.com", False),
        ("slack.com", "api.slack.com", False),
        ("www.googleapis.com", "www.googleapis.com", True),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.2", "127.0.0.1", False),
        ("x.127.0.0.1", "127.0.0.1", False),
        ("", "slack.com", False),
        ("bad_host.slack.com", "slack.com", False),
    ],
)
def test_host_matches_domain(host, domain, expected):
    assert host_matches_domain(host, domain) is expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("bank.example", "bank.example and every subdomain"),
        ("https://www.Slack.com/", "slack.com and every subdomain"),
        ("127.0.0.1", "127.0.0.1 only"),
    ],
)
def test_describe_domain(domain, expected):
    assert describe_domain(domain) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", False),
        ("128.0.0.1", False),
        ("localhost", False),
    ],
)
def test_is_loopback_literal(host, expected):
    assert is_loopback_literal(host) is expected
