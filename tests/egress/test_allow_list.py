"""The domain lock compares whole labels, and the deny list wins over approval.

A tool's domain matches itself and every subdomain, at any depth. Look-alike
hosts (a suffix glued to the label, the domain used as a subdomain elsewhere)
are refused before any lookup, with the coarse reason `host`.
"""

import pytest

from apps.execution.egress import (
    EgressError,
    EgressPolicy,
    OutboundRequest,
    check_destination,
    send,
)
from tests.support.egress_fixtures import assert_no_dials

SLACK = EgressPolicy(allowed_domain="slack.com")
PUBLIC_ADDRESS = "93.184.215.14"

LOOK_ALIKES = [
    "evil-slack.com",
    "xslack.com",
    "slack.com.evil.example",
    "slack.comevil.example",
    "slack.co",
    "lack.com",
    "com",
    "slack-com.evil.example",
    "api.slack.com.evil.example",
]


@pytest.mark.parametrize("host", LOOK_ALIKES)
def test_look_alike_host_refused_before_dns(host, test_resolver):
    test_resolver.set_answers(host, [PUBLIC_ADDRESS])

    with pytest.raises(EgressError) as caught:
        send(OutboundRequest("GET", f"https://{host}/api", {}), policy=SLACK)

    assert caught.value.code == "domain_lock_failed"
    assert caught.value.public_reason == "host"
    assert test_resolver.lookups(host) == 0
    assert_no_dials()


@pytest.mark.parametrize(
    "host", ["slack.com", "api.slack.com", "a.b.slack.com", "SLACK.com."]
)
def test_domain_and_subdomains_at_any_depth_allowed(host, test_resolver):
    test_resolver.set_answers(host.lower().rstrip("."), [PUBLIC_ADDRESS])

    destination = check_destination(f"https://{host}/api", policy=SLACK)

    assert destination.address_to_dial == PUBLIC_ADDRESS


def test_other_workspace_domain_refused(test_resolver):
    # Workspace B's tool is locked to its own approved domain; a URL on
    # workspace A's domain is outside it, whatever A approved.
    test_resolver.set_answers("api.a-only.example", [PUBLIC_ADDRESS])
    policy = EgressPolicy(allowed_domain="b-only.example")

    with pytest.raises(EgressError) as caught:
        send(OutboundRequest("GET", "https://api.a-only.example/", {}), policy=policy)

    assert caught.value.code == "domain_lock_failed"
    assert_no_dials()


@pytest.mark.parametrize(
    ("denied", "host"),
    [
        ("slack.com", "slack.com"),
        ("slack.com", "files.slack.com"),
        ("files.slack.com", "files.slack.com"),
        ("SLACK.COM.", "api.slack.com"),
    ],
)
def test_deny_list_wins_over_allowed_domain(denied, host, settings, test_resolver):
    settings.SECOND_EGRESS_DENY_DOMAINS = [denied]
    test_resolver.set_answers(host, [PUBLIC_ADDRESS])

    with pytest.raises(EgressError) as caught:
        send(OutboundRequest("GET", f"https://{host}/", {}), policy=SLACK)

    assert caught.value.code == "domain_lock_failed"
    assert caught.value.reason == "deny_list"
    assert caught.value.public_reason == "host"
    assert test_resolver.lookups(host) == 0
    assert_no_dials()


def test_deny_list_does_not_block_sibling(settings, test_resolver):
    settings.SECOND_EGRESS_DENY_DOMAINS = ["files.slack.com"]
    test_resolver.set_answers("api.slack.com", [PUBLIC_ADDRESS])

    destination = check_destination("https://api.slack.com/", policy=SLACK)

    assert destination.parsed.host == "api.slack.com"
