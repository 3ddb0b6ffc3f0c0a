"""The coarse reason vocabulary of egress errors, and the request body cap.

Every refusal or failure carries a coarse `public_reason` (`scheme`, `host`,
`port`, `userinfo`, `ip:<range>`, `dns`, `redirect`, `timeout:<phase>`,
`size`, `tls`) next to its finer `reason`.
"""

import pytest

from apps.execution.egress import EgressError, EgressPolicy, OutboundRequest, send
from apps.execution.egress.addresses import special_purpose_table
from apps.execution.egress.client import MAX_REQUEST_BODY_BYTES
from apps.execution.egress.errors import (
    EGRESS_CODES,
    TIMEOUT_PHASES,
    is_public_reason,
    public_reason,
)
from tests.egress.test_hostile_urls import CASES, DENIED
from tests.support.egress_fixtures import assert_no_dials

TOOL = EgressPolicy(allowed_domain="api.allowed.example")

# (code, fine reason, coarse reason) for every fine reason the client raises.
MAPPING = [
    ("https_required", "scheme", "scheme"),
    ("https_required", "port", "port"),
    ("url_invalid", "scheme", "scheme"),
    ("url_invalid", "port", "port"),
    ("url_invalid", "userinfo", "userinfo"),
    ("url_invalid", "whitespace", "host"),
    ("url_invalid", "bracketed_host", "host"),
    ("url_invalid", "idna", "host"),
    ("url_invalid", "reserved_header", "host"),
    ("url_invalid", "header_value", "host"),
    ("url_invalid", "method", "host"),
    ("domain_lock_failed", "outside_domain", "host"),
    ("domain_lock_failed", "deny_list", "host"),
    ("domain_lock_failed", "own_origin", "host"),
    ("private_ip_blocked", "private", "ip:private"),
    ("private_ip_blocked", "metadata", "ip:metadata"),
    ("private_ip_blocked", "embedded_ipv4", "ip:embedded_ipv4"),
    ("dns_failure", "nxdomain", "dns"),
    ("dns_failure", "no_addresses", "dns"),
    ("provider_redirect", "status_302", "redirect"),
    ("response_too_large", "body", "size"),
    ("request_too_large", "body", "size"),
    ("tls_failed", "certificate", "tls"),
    ("tls_failed", "handshake", "tls"),
    ("connection_failed", "decode", "size"),
    ("connection_failed", "connect", "host"),
    ("connection_failed", "test_dial_refused", "host"),
    *[("egress_timeout", phase, f"timeout:{phase}") for phase in TIMEOUT_PHASES],
]


@pytest.mark.parametrize(("code", "reason", "coarse"), MAPPING)
def test_public_reason_of_each_fine_reason(code, reason, coarse):
    error = EgressError(code, reason=reason, host="api.allowed.example")

    assert error.public_reason == coarse
    assert is_public_reason(coarse)


def test_every_code_has_a_public_reason():
    for code in EGRESS_CODES:
        assert is_public_reason(public_reason(code, None)), code


def test_every_address_range_is_an_ip_reason():
    for _network, reason in special_purpose_table():
        assert public_reason("private_ip_blocked", reason) == f"ip:{reason}"


@pytest.mark.parametrize("value", ["ip:", "timeout:read", "connect", "private", ""])
def test_values_outside_the_vocabulary(value):
    assert not is_public_reason(value)


def test_public_details_hold_reason_and_hosts_only():
    error = EgressError(
        "provider_redirect",
        reason="status_302",
        host="api.allowed.example",
        redirect_host="169.254.169.254",
    )

    assert error.public_details() == {
        "reason": "redirect",
        "host": "api.allowed.example",
        "redirectHost": "169.254.169.254",
    }


@pytest.fixture
def deny_evil(settings):
    settings.SECOND_EGRESS_DENY_DOMAINS = DENIED
    settings.SECOND_LOCAL_MODE = False


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_case_has_public_reason(case, deny_evil, test_resolver):
    for name, addresses in case.answers.items():
        test_resolver.set_answers(name, addresses)

    with pytest.raises(EgressError) as caught:
        send(
            OutboundRequest("GET", case.url, headers={}),
            policy=EgressPolicy(allowed_domain=case.domain),
        )

    assert is_public_reason(caught.value.public_reason)
    if case.code == "private_ip_blocked":
        assert caught.value.public_reason == f"ip:{case.reason}"


class TestRequestBodyCap:
    def test_body_over_cap_refused_before_dns(self, test_resolver):
        test_resolver.set_answers("api.allowed.example", ["93.184.215.14"])
        body = b"x" * (MAX_REQUEST_BODY_BYTES + 1)
        request = OutboundRequest("POST", "https://api.allowed.example/v1", {}, body)

        with pytest.raises(EgressError) as caught:
            send(request, policy=TOOL)

        assert caught.value.code == "request_too_large"
        assert caught.value.public_reason == "size"
        assert caught.value.host == "api.allowed.example"
        assert test_resolver.lookups("api.allowed.example") == 0
        assert_no_dials()

    def test_body_at_cap_is_sent(self, upstream):
        body = b"x" * MAX_REQUEST_BODY_BYTES
        request = OutboundRequest("POST", upstream.url("/json"), {}, body)

        response = send(request, policy=TOOL)

        assert response.status == 200
        assert response.request_bytes == MAX_REQUEST_BODY_BYTES
        assert len(upstream.requests[0].body) == MAX_REQUEST_BODY_BYTES

    def test_cap_message_names_host_only(self, test_resolver):
        canary = "sk_live_CANARY_7f3a9c"
        body = canary.encode() * (MAX_REQUEST_BODY_BYTES // len(canary) + 1)
        url = f"https://api.allowed.example/v1?key={canary}"

        with pytest.raises(EgressError) as caught:
            send(OutboundRequest("POST", url, {}, body), policy=TOOL)

        assert canary not in str(caught.value)
        assert "api.allowed.example" in str(caught.value)
