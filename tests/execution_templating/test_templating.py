"""Tests of endpoint rendering: typed values, encoding, guards and injection."""

import json
from pathlib import Path

import pytest

from apps.agents.hashing import parse_json_text
from apps.execution.templating import (
    MissingInputPlaceholders,
    MissingSecret,
    RenderedRequest,
    TemplateError,
    render_request,
)

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"

SLACK_TOKEN = "xoxb-test-token-123"
GITHUB_TOKEN = "ghp_test_token_456"


def endpoint(example: str, index: int = 0) -> dict:
    document = parse_json_text((EXAMPLES / f"{example}.agents.json").read_text())
    return document["agents"][index // 10]["tools"][index % 10]["endpoint"]


def body_json(request: RenderedRequest):
    assert request.body is not None
    return json.loads(request.body)


def test_slack_message_renders():
    request = render_request(
        endpoint("slack-notifier"),
        {"channel": "C0123456789", "text": "Deployed v2"},
        {"SLACK_BOT_TOKEN": SLACK_TOKEN},
    )

    assert request.method == "POST"
    assert request.url == "https://slack.com/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert body_json(request) == {"channel": "C0123456789", "text": "Deployed v2"}
    assert request.injected_values == (SLACK_TOKEN,)


def test_secret_reference_in_input_stays_literal():
    request = render_request(
        endpoint("slack-notifier"),
        {"channel": "C1", "text": "{{secrets.SLACK_BOT_TOKEN}}"},
        {"SLACK_BOT_TOKEN": SLACK_TOKEN},
    )

    assert body_json(request)["text"] == "{{secrets.SLACK_BOT_TOKEN}}"
    assert SLACK_TOKEN.encode() not in request.body


def test_input_reference_in_input_stays_literal():
    template = {
        "method": "POST",
        "url": "https://api.example.com/notes/{{id}}",
        "headers": {"X-Title": "{{title}}"},
        "body": {"text": "note: {{text}}", "title": "{{title}}"},
    }

    request = render_request(
        template, {"id": "{{title}}", "title": "{{text}}", "text": "{{id}}"}, {}
    )

    assert request.url == "https://api.example.com/notes/%7B%7Btitle%7D%7D"
    assert request.headers["X-Title"] == "{{text}}"
    assert body_json(request) == {"text": "note: {{id}}", "title": "{{text}}"}


def test_typed_values_keep_their_type():
    request = render_request(
        endpoint("github-triage", 1),
        {
            "owner": "acme",
            "repo": "widgets",
            "title": "Crash",
            "body": "Steps",
            "labels": ["bug", "p1"],
        },
        {"GITHUB_TOKEN": GITHUB_TOKEN},
    )

    assert body_json(request) == {
        "title": "Crash",
        "body": "Steps",
        "labels": ["bug", "p1"],
    }
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "value", [42, 3.5, True, False, {"nested": [1, "two"]}, ["a", 1, None]]
)
def test_exact_placeholder_keeps_json_value(value):
    template = {
        "method": "POST",
        "url": "https://api.example.com/x",
        "body": {"v": "{{v}}"},
    }

    request = render_request(template, {"v": value}, {})

    assert body_json(request) == {"v": value}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(42, "n=42"), (3.5, "n=3.5"), (True, "n=true"), ({"a": 1}, 'n={"a":1}')],
)
def test_embedded_placeholder_writes_text(value, expected):
    template = {
        "method": "POST",
        "url": "https://api.example.com/x",
        "body": {"v": "n={{v}}"},
    }

    request = render_request(template, {"v": value}, {})

    assert body_json(request) == {"v": expected}


def test_nested_input_path():
    template = {
        "method": "GET",
        "url": "https://api.example.com/quote/{{company.ticker}}",
        "queryParams": {"first": "{{items.0.id}}"},
    }

    request = render_request(
        template, {"company": {"ticker": "ACME"}, "items": [{"id": 7}]}, {}
    )

    assert request.url == "https://api.example.com/quote/ACME?first=7"


def test_path_values_are_percent_encoded():
    request = render_request(
        endpoint("github-triage"),
        {"owner": "a/b?c#d", "repo": "x y%", "limit": 5},
        {"GITHUB_TOKEN": GITHUB_TOKEN},
    )

    assert request.url == (
        "https://api.github.com/repos/a%2Fb%3Fc%23d/x%20y%25/issues?state=open&per_page=5"
    )


@pytest.mark.parametrize("value", [".", ".."])
def test_dot_segments_rejected_in_path(value):
    with pytest.raises(TemplateError) as raised:
        render_request(
            endpoint("github-triage"),
            {"owner": "acme", "repo": value, "limit": 5},
            {"GITHUB_TOKEN": GITHUB_TOKEN},
        )

    assert raised.value.code == "invalid_tool_input"


def test_query_values_are_urlencoded():
    request = render_request(
        endpoint("open-meteo-public"),
        {"latitude": 52.52, "longitude": "13.4&admin=true"},
        {},
    )

    assert request.url == (
        "https://api.open-meteo.com/v1/forecast?latitude=52.52"
        "&longitude=13.4%26admin%3Dtrue&hourly=temperature_2m"
    )
    assert request.body is None
    assert request.injected_values == ()


def test_query_list_repeats_key():
    template = {
        "method": "GET",
        "url": "https://api.example.com/search?fixed=1",
        "queryParams": {"tag": "{{tags}}"},
    }

    request = render_request(template, {"tags": ["a b", "c"]}, {})

    assert request.url == "https://api.example.com/search?fixed=1&tag=a+b&tag=c"


def test_host_cannot_change_through_input():
    template = {"method": "GET", "url": "https://api.example.com/{{path}}"}

    request = render_request(template, {"path": "/@evil.example:8443/x"}, {})

    assert request.url == "https://api.example.com/%2F%40evil.example%3A8443%2Fx"


def test_placeholder_next_to_host_is_invalid_spec():
    template = {"method": "GET", "url": "https://api.example.com{{path}}"}

    with pytest.raises(TemplateError) as raised:
        render_request(template, {"path": "@evil.example/x"}, {})

    assert raised.value.code == "invalid_tool_spec"


@pytest.mark.parametrize(
    "url",
    [
        "https://{{host}}/x",
        "https://api.example.com:{{port}}/x",
        "{{scheme}}://api.example.com/x",
        "https://{{user}}@api.example.com/x",
        "api.example.com/{{x}}",
    ],
)
def test_placeholder_in_authority_is_invalid_spec(url):
    with pytest.raises(TemplateError) as raised:
        render_request({"method": "GET", "url": url}, {"host": "x"}, {})

    assert raised.value.code == "invalid_tool_spec"


def test_static_bulk_endpoint_guard():
    template = {"method": "GET", "url": "https://api.example.com/all"}

    with pytest.raises(TemplateError) as raised:
        render_request(template, {"filter": "x"}, {})

    assert raised.value.code == "static_bulk_endpoint_guard"
    assert raised.value.status_code == 400


@pytest.mark.parametrize("tool_input", [None, {}])
def test_static_endpoint_accepts_empty_input(tool_input):
    template = {"method": "GET", "url": "https://api.example.com/all"}

    request = render_request(template, tool_input, {})

    assert request.url == "https://api.example.com/all"


def test_missing_inputs_are_named_sorted():
    with pytest.raises(MissingInputPlaceholders) as raised:
        render_request(
            endpoint("github-triage"), {"owner": "acme"}, {"GITHUB_TOKEN": GITHUB_TOKEN}
        )

    assert raised.value.code == "missing_input_placeholders"
    assert raised.value.names == ["limit", "repo"]
    assert raised.value.body()["missing"] == ["limit", "repo"]


def test_null_input_counts_as_missing():
    with pytest.raises(MissingInputPlaceholders) as raised:
        render_request(
            endpoint("slack-notifier"),
            {"channel": None, "text": "hi"},
            {"SLACK_BOT_TOKEN": SLACK_TOKEN},
        )

    assert raised.value.names == ["channel"]


def test_non_object_input_rejected():
    with pytest.raises(TemplateError) as raised:
        render_request(endpoint("slack-notifier"), ["C1"], {"SLACK_BOT_TOKEN": "x"})

    assert raised.value.code == "invalid_tool_input"


@pytest.mark.parametrize("secrets", [{}, {"SLACK_BOT_TOKEN": ""}, {"OTHER": "x"}])
def test_missing_secret(secrets):
    with pytest.raises(MissingSecret) as raised:
        render_request(
            endpoint("slack-notifier"), {"channel": "C1", "text": "t"}, secrets
        )

    assert raised.value.secret_name == "SLACK_BOT_TOKEN"
    assert raised.value.reason == "missing configured secret"


def test_missing_input_reported_before_missing_secret():
    with pytest.raises(MissingInputPlaceholders):
        render_request(endpoint("slack-notifier"), {"channel": "C1"}, {})


def test_secret_found_by_upper_case_name():
    template = {
        "method": "GET",
        "url": "https://api.example.com/x",
        "headers": {"X-Key": "{{secrets.api_key}}"},
    }

    request = render_request(template, {}, {"API_KEY": "k-123456"})

    assert request.headers["X-Key"] == "k-123456"
    assert request.injected_values == ("k-123456",)


@pytest.mark.parametrize(
    "value",
    ["C1\r\nX-Injected: 1", "a\nb", "a\rb", "nul\x00", "tab\there", "del\x7f"],
)
def test_header_control_characters_rejected(value):
    template = {
        "method": "GET",
        "url": "https://api.example.com/x",
        "headers": {"X-Channel": "{{channel}}"},
    }

    with pytest.raises(TemplateError) as raised:
        render_request(template, {"channel": value}, {})

    assert raised.value.code == "invalid_header_value"
    assert "X-Channel" in raised.value.detail
    assert value not in raised.value.detail


def test_header_secret_with_newline_rejected_without_value():
    template = {
        "method": "GET",
        "url": "https://api.example.com/x",
        "headers": {"Authorization": "Bearer {{secrets.TOKEN}}"},
    }

    with pytest.raises(TemplateError) as raised:
        render_request(template, {}, {"TOKEN": "abc\r\nX-Evil: 1"})

    assert raised.value.code == "invalid_header_value"
    assert "abc" not in str(raised.value)


def test_header_non_latin1_rejected():
    template = {
        "method": "GET",
        "url": "https://api.example.com/x",
        "headers": {"X-Title": "{{title}}"},
    }

    with pytest.raises(TemplateError) as raised:
        render_request(template, {"title": "日本"}, {})

    assert raised.value.code == "invalid_header_value"


def test_form_body_is_form_encoded():
    template = {
        "method": "POST",
        "url": "https://api.example.com/form",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "body": {"text": "{{text}}", "ids": "{{ids}}", "fixed": "1"},
    }

    request = render_request(template, {"text": "a&b=c d", "ids": [1, 2]}, {})

    assert request.body == b"text=a%26b%3Dc+d&ids=1&ids=2&fixed=1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_text_form_body_encodes_values():
    template = {
        "method": "POST",
        "url": "https://api.example.com/form",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
        "body": "text={{text}}&mode=safe",
    }

    request = render_request(template, {"text": "x&mode=admin"}, {})

    assert request.body == b"text=x%26mode%3Dadmin&mode=safe"


def test_text_json_body_escapes_values():
    template = {
        "method": "POST",
        "url": "https://api.example.com/json",
        "headers": {"Content-Type": "application/json"},
        "body": '{"text": "{{text}}", "admin": false}',
    }

    request = render_request(template, {"text": '", "admin": true, "x": "'}, {})

    assert body_json(request) == {"text": '", "admin": true, "x": "', "admin": False}


def test_json_body_is_compact_utf8():
    template = {
        "method": "POST",
        "url": "https://api.example.com/x",
        "body": {"t": "{{t}}"},
    }

    request = render_request(template, {"t": "é 日本"}, {})

    assert request.body == '{"t":"é 日本"}'.encode()


def test_literal_body_values_unchanged():
    request = render_request(endpoint("hubspot-lookup"), {"query": "Acme"}, {})

    body = body_json(request)
    assert body["limit"] == 10
    assert body["properties"] == ["name", "domain", "industry"]
    assert body["filterGroups"][0]["filters"][0]["value"] == "Acme"


def test_fragment_is_not_sent():
    template = {"method": "GET", "url": "https://api.example.com/x/{{id}}#frag"}

    request = render_request(template, {"id": "1"}, {})

    assert request.url == "https://api.example.com/x/1"


def test_secret_in_query_is_encoded_and_reported():
    template = {
        "method": "GET",
        "url": "https://api.example.com/x?key={{secrets.KEY}}",
    }

    request = render_request(template, {}, {"KEY": "a b/c"})

    assert request.url == "https://api.example.com/x?key=a%20b%2Fc"
    assert request.injected_values == ("a b/c",)


def test_injected_values_are_unique():
    template = {
        "method": "POST",
        "url": "https://api.example.com/x",
        "headers": {"A": "{{secrets.K}}", "B": "{{secrets.K}}", "C": "{{secrets.L}}"},
    }

    request = render_request(template, {}, {"K": "kkkk", "L": "llll"})

    assert request.injected_values == ("kkkk", "llll")


def test_template_is_not_modified():
    template = endpoint("slack-notifier")
    before = json.dumps(template, sort_keys=True)

    render_request(template, {"channel": "C1", "text": "t"}, {"SLACK_BOT_TOKEN": "x"})

    assert json.dumps(template, sort_keys=True) == before
