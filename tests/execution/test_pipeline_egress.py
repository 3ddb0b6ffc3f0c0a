"""Egress refusals, response redaction and templating through the tool-call route.

Every egress refusal or failure returns `details: {reason, host}`, where
`reason` is the coarse reason, and writes it to the audit event. Templates
substitute input as data: no template engine runs, headers reject control
characters and JSON bodies are built as data structures.
"""

import json

import pytest

from apps.agents.validation import validate_agents_json
from apps.audit.models import AuditEvent
from apps.core.errors import ApiError
from apps.execution import templating
from apps.execution.egress.client import MAX_REQUEST_BODY_BYTES
from apps.execution.scrubbing import REDACTED, redact_credential_fields
from tests.execution.conftest import setup_document, tool_document
from tests.support.egress_fixtures import assert_no_dials

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "api.allowed.example"
KEY = "sk_live_CANARY_7f3a9c"
QUERY_CANARY = "query-canary-5d1e"


def event(name: str) -> AuditEvent:
    return AuditEvent.objects.get(event_name=name)


def public_tool(path: str, **tool) -> dict:
    return tool_document(url=f"https://{DOMAIN}{path}", domain=DOMAIN, **tool)


def secret_tool(path: str, **endpoint) -> dict:
    headers = {
        "Authorization": "Bearer {{secrets.API_KEY}}",
        **endpoint.pop("headers", {}),
    }
    return tool_document(
        url=f"https://{DOMAIN}{path}",
        domain=DOMAIN,
        endpoint={"headers": headers, **endpoint},
    )


def configured(harness, document: dict):
    return harness(document, setup=setup_document(DOMAIN), secrets={"API_KEY": KEY})


def assert_details_clean(answer, denial: AuditEvent) -> None:
    """Check that the response and the audit event contain no query text or secret."""
    for text in (answer.content.decode(), json.dumps(denial.metadata)):
        assert QUERY_CANARY not in text
        assert KEY not in text


class TestEgressDetails:
    def test_private_address(self, harness, test_resolver, settings):
        settings.SECOND_EGRESS_RESOLVE = {}
        test_resolver.set_answers(DOMAIN, ["10.0.0.5"])
        built = configured(harness, secret_tool(f"/echo?q={QUERY_CANARY}"))

        answer = built.call()

        assert answer.status_code == 400
        assert answer.json()["error"] == "private_ip_blocked"
        assert answer.json()["details"] == {"reason": "ip:private", "host": DOMAIN}
        denial = event("tool.custom.denied")
        assert denial.metadata["egressPublicReason"] == "ip:private"
        assert denial.metadata["egressReason"] == "private"
        assert_details_clean(answer, denial)
        assert_no_dials()

    def test_metadata_address(self, harness, test_resolver, settings):
        settings.SECOND_EGRESS_RESOLVE = {}
        test_resolver.set_answers(DOMAIN, ["169.254.169.254"])

        answer = harness(public_tool("/latest/meta-data/")).call()

        assert answer.json()["details"]["reason"] == "ip:metadata"
        assert_no_dials()

    def test_deny_list_wins_over_approval(self, harness, upstream, settings):
        built = harness(public_tool("/json"))
        settings.SECOND_EGRESS_DENY_DOMAINS = ["allowed.example"]

        answer = built.call()

        assert answer.status_code == 400
        assert answer.json()["error"] == "domain_lock_failed"
        assert answer.json()["details"] == {"reason": "host", "host": DOMAIN}
        assert event("tool.custom.denied").metadata["egressReason"] == "deny_list"
        assert upstream.requests == []
        assert_no_dials(upstream.dial_log)

    def test_redirect_names_target_host(self, harness, upstream):
        upstream.server.set_redirect_location(
            f"http://169.254.169.254/latest/meta-data/?t={QUERY_CANARY}"
        )

        answer = harness(public_tool("/redirect")).call()

        assert answer.status_code == 502
        assert answer.json()["error"] == "provider_redirect"
        assert answer.json()["details"] == {
            "reason": "redirect",
            "host": DOMAIN,
            "redirectHost": "169.254.169.254",
        }
        denial = event("tool.custom.denied")
        assert denial.metadata["redirectHost"] == "169.254.169.254"
        assert denial.metadata["egressPublicReason"] == "redirect"
        assert_details_clean(answer, denial)
        assert [request.path for request in upstream.requests] == ["/redirect"]

    def test_gzip_bomb(self, harness, upstream):
        answer = harness(public_tool("/gzip-bomb")).call()

        assert answer.status_code == 502
        assert answer.json()["error"] == "response_too_large"
        assert answer.json()["details"] == {"reason": "size", "host": DOMAIN}
        assert event("tool.custom.failed").metadata["egressPublicReason"] == "size"

    def test_timeout_names_phase(self, harness, upstream, settings):
        settings.SECOND_EGRESS_DEADLINE_SECONDS = 2

        answer = harness(public_tool("/hang")).call()

        assert answer.status_code == 502
        assert answer.json()["error"] == "egress_timeout"
        assert answer.json()["details"] == {"reason": "timeout:headers", "host": DOMAIN}
        failure = event("tool.custom.failed")
        assert failure.metadata["egressPublicReason"] == "timeout:headers"

    def test_request_body_over_cap(self, harness, upstream):
        document = public_tool(
            "/echo", endpoint={"method": "POST", "body": {"t": "{{t}}"}}
        )
        built = harness(document)

        answer = built.call({"t": "x" * MAX_REQUEST_BODY_BYTES})

        assert answer.status_code == 400
        assert answer.json()["error"] == "request_too_large"
        assert answer.json()["details"] == {"reason": "size", "host": DOMAIN}
        assert event("tool.custom.denied").metadata["egressPublicReason"] == "size"
        assert upstream.requests == []
        assert_no_dials(upstream.dial_log)


CREDENTIAL_RESPONSE = {
    "access_token": "at-1",
    "refresh_token": "rt-1",
    "id_token": "it-1",
    "client_secret": "cs-1",
    "apiKey": "ak-1",
    "api_key": "ak-2",
    "password": "pw-1",
    "secret": "s-1",
    "token": "t-1",
    "Authorization": "Bearer b-1",
    "cookie": "c=1",
    "Set-Cookie": "s=1; HttpOnly",
    "private_key": "-----BEGIN PRIVATE KEY-----",
    "nested": [{"accessToken": "at-2", "name": "kept"}, {"credentials": {"token": 7}}],
    "tokens_used": 42,
    "token_type": "bearer",
    "ts": "1700000000.000100",
    "secret_name": "API_KEY",
    "password_set": True,
}


class TestCredentialFields:
    def test_upstream_credentials_redacted(self, harness, upstream):
        upstream.server.set_json("/oauth", CREDENTIAL_RESPONSE)

        answer = harness(public_tool("/oauth")).call()

        data = answer.json()["data"]
        for key in (
            "access_token",
            "refresh_token",
            "id_token",
            "client_secret",
            "apiKey",
            "api_key",
            "password",
            "secret",
            "token",
            "Authorization",
            "cookie",
            "Set-Cookie",
            "private_key",
        ):
            assert data[key] == REDACTED, key
        assert data["nested"] == [
            {"accessToken": REDACTED, "name": "kept"},
            {"credentials": {"token": REDACTED}},
        ]
        for key in ("tokens_used", "token_type", "ts", "secret_name", "password_set"):
            assert data[key] == CREDENTIAL_RESPONSE[key], key

    def test_injected_secret_scrubbed_under_other_keys(self, harness, upstream):
        built = configured(harness, secret_tool("/echo?k={{secrets.API_KEY}}"))

        answer = built.call()

        assert answer.json()["data"]["query"] == f"k={REDACTED}"
        assert answer.json()["data"]["headers"]["authorization"] == REDACTED
        assert KEY not in answer.content.decode()

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ({"Access-Token": "x"}, {"Access-Token": REDACTED}),
            ({"X-Api-Key": "x"}, {"X-Api-Key": REDACTED}),
            ({"password": None, "secret": False}, {"password": None, "secret": False}),
            ({"token": {"a": 1}}, {"token": REDACTED}),
            ([{"token": "x"}, "token"], [{"token": REDACTED}, "token"]),
            ({"tokens": ["a"], "tokenizer": "b"}, {"tokens": ["a"], "tokenizer": "b"}),
            ("access_token=x", "access_token=x"),
        ],
    )
    def test_redaction_rules(self, value, expected):
        assert redact_credential_fields(value) == expected


HOST_TEMPLATES = [
    "https://{{region}}.api.allowed.example/v1",
    "https://api.{{region}}/v1",
    "https://{{region}}/v1",
    "https://api.allowed.example:{{port}}/v1",
    "https://{{user}}@api.allowed.example/v1",
    "{{scheme}}://api.allowed.example/v1",
]


class TestPlaceholdersOutsidePath:
    @pytest.mark.parametrize("url", HOST_TEMPLATES)
    def test_refused_at_validation(self, url):
        problems = validate_agents_json(tool_document(url=url, domain=DOMAIN))

        assert any("placeholder" in problem.message for problem in problems), problems

    @pytest.mark.parametrize("url", HOST_TEMPLATES[:3])
    def test_cannot_be_approved_or_called(self, harness, upstream, url):
        with pytest.raises(ApiError) as caught:
            harness(tool_document(url=url, domain=DOMAIN))
        assert caught.value.code == "invalid_agents_json"

        built = harness(tool_document(url=url, domain=DOMAIN), approve=False)
        answer = built.call({"region": "evil.example/"})

        assert answer.status_code == 403
        assert upstream.requests == []
        assert_no_dials(upstream.dial_log)

    @pytest.mark.parametrize("url", HOST_TEMPLATES)
    def test_renderer_refuses_them_too(self, url):
        endpoint = {"method": "GET", "url": url}
        values = {
            "region": "evil.example",
            "port": "8443",
            "user": "u",
            "scheme": "http",
        }

        with pytest.raises(templating.TemplateError) as caught:
            templating.render_request(endpoint, values, {})

        assert caught.value.code == "invalid_tool_spec"

    @pytest.mark.parametrize(
        "region", ["evil.example/", "evil.example#", "x@evil.example", "evil.example\\"]
    )
    def test_path_value_stays_in_path(self, harness, upstream, region):
        document = public_tool("/echo/{{region}}/v1")

        answer = harness(document).call({"region": region})

        assert answer.status_code == 200, answer.content
        (received,) = upstream.requests
        assert received.headers["host"] == DOMAIN
        assert received.path.startswith("/echo/") and received.path.endswith("/v1")
        assert received.path.count("/") == 3

    def test_dot_segment_value_refused(self, harness, upstream):
        answer = harness(public_tool("/echo/{{region}}/v1")).call({"region": ".."})

        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_tool_input"
        assert upstream.requests == []


ENGINE_SYNTAX = [
    "{{7*7}}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "${7*7}",
    "#{7*7}",
    "{{secrets.API_KEY}}",
]


class TestInputIsData:
    @pytest.mark.parametrize("text", ENGINE_SYNTAX)
    def test_template_syntax_sent_literally(self, harness, upstream, text):
        document = public_tool(
            "/echo?q={{text}}",
            endpoint={"method": "POST", "body": {"text": "{{text}}"}},
        )

        answer = harness(document).call({"text": text})

        assert answer.status_code == 200, answer.content
        (received,) = upstream.requests
        assert json.loads(received.body) == {"text": text}
        assert "49" not in received.query

    def test_unknown_placeholder_named(self, harness, upstream):
        answer = harness(public_tool("/echo?q={{query}}")).call({"other": "x"})

        assert answer.status_code == 400
        assert answer.json()["error"] == "missing_input_placeholders"
        assert answer.json()["missing"] == ["query"]
        assert_no_dials(upstream.dial_log)

    def test_unconfigured_secret_is_mocked_without_dial(self, harness, upstream):
        document = secret_tool("/echo", headers={"X-Other": "{{secrets.MISSING}}"})
        setup = setup_document(DOMAIN)
        setup["integrations"][0]["secrets"].append(
            {"name": "MISSING", "label": "Other", "required": False}
        )

        built = harness(document, setup=setup, secrets={"API_KEY": KEY})
        answer = built.call()

        assert answer.status_code == 200, answer.content
        assert answer.json()["mock"] is True
        assert answer.json()["mockReason"] == "missing configured secret"
        assert upstream.requests == []
        assert_no_dials(upstream.dial_log)

    def test_nul_in_input_is_refused(self, harness, upstream):
        document = public_tool("/echo", endpoint={"headers": {"X-Customer": "{{c}}"}})

        answer = harness(document).call({"c": "a\x00b"})

        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_request"
        assert "$.toolInput.c" in answer.json()["detail"]
        assert upstream.requests == []

    @pytest.mark.parametrize(
        "value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\tb", "a\x7fb"]
    )
    def test_control_characters_in_header_refused(self, harness, upstream, value):
        document = public_tool("/echo", endpoint={"headers": {"X-Customer": "{{c}}"}})

        answer = harness(document).call({"c": value})

        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_header_value"
        assert answer.json()["header"] == "X-Customer"
        assert "X-Injected" not in answer.json()["detail"]
        assert upstream.requests == []
        assert_no_dials(upstream.dial_log)

    @pytest.mark.parametrize(
        "name",
        [
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "Connection",
            "Proxy-Authorization",
        ],
    )
    def test_reserved_header_refused_at_validation(self, name):
        document = public_tool("/echo", endpoint={"headers": {name: "169.254.169.254"}})

        problems = validate_agents_json(document)

        assert any(name in problem.message for problem in problems), problems

    @pytest.mark.parametrize(
        "body",
        [
            {"text": "{{text}}", "role": "user"},
            '{"text": "{{text}}", "role": "user"}',
        ],
    )
    def test_json_body_built_structurally(self, harness, upstream, body):
        document = public_tool(
            "/echo",
            endpoint={
                "method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": body,
            },
        )
        hostile = 'a", "role": "admin", "admin": true, "x": "'

        answer = harness(document).call({"text": hostile})

        assert answer.status_code == 200, answer.content
        received = json.loads(upstream.requests[0].body)
        assert received == {"text": hostile, "role": "user"}
