"""Tests of placeholder parsing in endpoint templates."""

import pytest

from apps.agents.placeholders import (
    PlaceholderUse,
    child_path,
    endpoint_placeholders,
    endpoint_split,
    exact_placeholder,
    is_secret_placeholder,
    malformed_placeholders,
    names_in_text,
    secret_name,
    split_placeholders,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer {{secrets.SLACK_BOT_TOKEN}}", ["secrets.SLACK_BOT_TOKEN"]),
        ("/repos/{{owner}}/{{repo}}/issues", ["owner", "repo"]),
        ("{{company.ticker}}", ["company.ticker"]),
        ("{{a-b_c.0}}", ["a-b_c.0"]),
        ("{{ spaced }}", []),
        ("{single}", []),
        ("{{}}", []),
        ("{{a b}}", []),
        ("no placeholders", []),
    ],
)
def test_names_in_text(text, expected):
    assert names_in_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{labels}}", "labels"),
        ("{{secrets.KEY}}", "secrets.KEY"),
        (" {{labels}}", None),
        ("{{a}}{{b}}", None),
        ("x{{a}}", None),
    ],
)
def test_exact_placeholder(text, expected):
    assert exact_placeholder(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ api_key }}", ["{{ api_key }}"]),
        ("{{a}} and {{b c}}", ["{{b c}}"]),
        ("{{ok}}", []),
        ("{{}}", ["{{}}"]),
    ],
)
def test_malformed_placeholders(text, expected):
    assert malformed_placeholders(text) == expected


@pytest.mark.parametrize(
    ("name", "secret", "expected_name"),
    [
        ("secrets.GITHUB_TOKEN", True, "GITHUB_TOKEN"),
        ("secrets.a-b", True, "a-b"),
        ("secrets", True, None),
        ("secrets.", True, None),
        ("secrets.a.b", True, None),
        ("secretsauce", False, None),
        ("company.ticker", False, None),
    ],
)
def test_secret_namespace(name, secret, expected_name):
    assert is_secret_placeholder(name) is secret
    assert secret_name(name) == expected_name


def test_split_placeholders_sorts_and_deduplicates():
    split = split_placeholders(
        ["repo", "secrets.B", "owner", "secrets.A", "repo", "secrets.a.b"]
    )

    assert split.secret_names == ("A", "B")
    assert split.input_paths == ("owner", "repo")


def test_endpoint_placeholders_cover_all_template_fields():
    endpoint = {
        "method": "POST",
        "url": "https://api.example.com/{{id}}",
        "headers": {"X-Org": "{{org}}", "Authorization": "Bearer {{secrets.KEY}}"},
        "queryParams": {"q": "{{query}}", "many": ["{{first}}", "fixed"]},
        "body": {"nested": {"list": [{"v": "{{deep.value}}"}]}, "n": 1},
    }

    uses = endpoint_placeholders(endpoint)

    assert PlaceholderUse("$.url", "id") in uses
    assert PlaceholderUse('$.headers["X-Org"]', "org") in uses
    assert PlaceholderUse("$.headers.Authorization", "secrets.KEY") in uses
    assert PlaceholderUse("$.queryParams.q", "query") in uses
    assert PlaceholderUse("$.queryParams.many[0]", "first") in uses
    assert PlaceholderUse("$.body.nested.list[0].v", "deep.value") in uses
    assert len(uses) == 6


def test_endpoint_placeholders_ignore_keys_and_method():
    endpoint = {"method": "{{m}}", "url": "https://x.example", "body": {"{{k}}": 1}}

    assert endpoint_placeholders(endpoint) == []


def test_endpoint_split():
    endpoint = {
        "url": "https://api.github.com/repos/{{owner}}/{{repo}}",
        "headers": {"Authorization": "Bearer {{secrets.GITHUB_TOKEN}}"},
    }

    split = endpoint_split(endpoint)

    assert split.secret_names == ("GITHUB_TOKEN",)
    assert split.input_paths == ("owner", "repo")


@pytest.mark.parametrize(
    ("parent", "key", "expected"),
    [
        ("$", "agents", "$.agents"),
        ("$.agents", 0, "$.agents[0]"),
        ("$.headers", "X-Api-Version", '$.headers["X-Api-Version"]'),
        ("$.body", "has space", '$.body["has space"]'),
        ("$.body", "é", '$.body["é"]'),
    ],
)
def test_child_path(parent, key, expected):
    assert child_path(parent, key) == expected
