"""`manage.py egress_check` and the egress client give the same verdict.

Each case runs three ways: the command with `--resolve` addresses, then
`check_destination` and `send` with the same addresses in the test resolver. The
command's first line, its exit code and the client's code and reason must agree.
"""

from dataclasses import dataclass, field
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.execution.egress import (
    EgressError,
    EgressPolicy,
    OutboundRequest,
    check_destination,
    send,
)
from tests.support.egress_fixtures import assert_no_dials

DOMAIN = "api.allowed.example"
PUBLIC = "93.184.215.14"


@dataclass(frozen=True)
class Case:
    id: str
    url: str
    answers: dict[str, list[str]] = field(default_factory=dict)
    domain: str = DOMAIN


CASES = [
    Case("public", "https://api.allowed.example/v1", {DOMAIN: [PUBLIC]}),
    Case(
        "subdomain",
        "https://eu.api.allowed.example/",
        {"eu.api.allowed.example": [PUBLIC]},
    ),
    Case("http", "http://api.allowed.example/", {DOMAIN: [PUBLIC]}),
    Case("port", "https://api.allowed.example:8443/", {DOMAIN: [PUBLIC]}),
    Case("bad-port", "https://api.allowed.example:443abc/"),
    Case("userinfo", "https://api.allowed.example@evil.example/"),
    Case("backslash", "https:/\\evil.example/"),
    Case("outside", "https://evil.example/", {"evil.example": [PUBLIC]}),
    Case("suffix", "https://api.allowed.example.evil.example/"),
    Case("loopback", "https://api.allowed.example/", {DOMAIN: ["127.0.0.1"]}),
    Case("private", "https://api.allowed.example/", {DOMAIN: ["10.0.0.5"]}),
    Case("metadata", "https://api.allowed.example/", {DOMAIN: ["169.254.169.254"]}),
    Case("alibaba", "https://api.allowed.example/", {DOMAIN: ["100.100.100.200"]}),
    Case("cgnat", "https://api.allowed.example/", {DOMAIN: ["100.64.0.1"]}),
    Case("mapped", "https://api.allowed.example/", {DOMAIN: ["::ffff:10.0.0.1"]}),
    Case("nat64", "https://api.allowed.example/", {DOMAIN: ["64:ff9b::a9fe:a9fe"]}),
    Case("mixed", "https://api.allowed.example/", {DOMAIN: [PUBLIC, "10.0.0.5"]}),
    Case("nxdomain", "https://missing.allowed.example/", domain="allowed.example"),
    Case("literal-in-domain", "https://127.0.0.1/", domain="allowed.example"),
    Case("deny-list", "https://api.denied.example/", domain="denied.example"),
]


def _command_verdict(case: Case) -> tuple[str, int]:
    arguments = [case.url, "--domain", case.domain]
    for host, addresses in case.answers.items():
        for address in addresses:
            arguments += ["--resolve", f"{host}={address}"]
    stdout = StringIO()
    try:
        call_command("egress_check", *arguments, stdout=stdout, stderr=StringIO())
    except CommandError as error:
        return stdout.getvalue().splitlines()[0], error.returncode
    return stdout.getvalue().splitlines()[0], 0


def _client_verdicts(case: Case, test_resolver) -> tuple[str, str]:
    for host, addresses in case.answers.items():
        test_resolver.set_answers(host, addresses)
    policy = EgressPolicy(allowed_domain=case.domain)
    try:
        destination = check_destination(case.url, policy=policy)
        checked = f"allowed {destination.parsed.host} {destination.address_to_dial}"
    except EgressError as error:
        checked = f"rejected {error.code} {error.reason}"

    try:
        send(OutboundRequest("GET", case.url, {}), policy=policy)
        sent = "sent"
    except EgressError as error:
        sent = f"rejected {error.code} {error.reason}"
    return checked, sent


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_command_and_client_agree(case, settings, test_resolver, dial_recorder):
    settings.SECOND_LOCAL_MODE = False
    settings.SECOND_EGRESS_DENY_DOMAINS = ["denied.example"]

    line, exit_code = _command_verdict(case)
    checked, sent = _client_verdicts(case, test_resolver)

    assert line == checked
    assert exit_code == (0 if line.startswith("allowed ") else 1)
    if line.startswith("rejected "):
        assert sent == line
        assert_no_dials()
    else:
        # Test settings refuse to dial a public address after recording it, so
        # an allowed verdict shows up as exactly one recorded dial.
        assert sent == "rejected connection_failed test_dial_refused"
        assert [dial.address for dial in dial_recorder.dials] == [line.split()[-1]]


def test_cases_cover_both_verdicts(settings, test_resolver):
    settings.SECOND_LOCAL_MODE = False
    verdicts = {_command_verdict(case)[0].split()[0] for case in CASES}

    assert verdicts == {"allowed", "rejected"}
