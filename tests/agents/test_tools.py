"""Tests of approved-tool lookup, spec matching and the security review lists."""

import copy
from pathlib import Path

import pytest

from apps.agents.hashing import drop_empty, parse_json_text
from apps.agents.tools import (
    SecurityChange,
    ToolSpec,
    agent_config,
    find_agent_tool,
    find_app_tool,
    normalize_auth,
    normalize_key_slug,
    security_diff,
    security_summary,
    spec_fingerprint,
    tool_spec_matches,
)

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def payload(name: str) -> dict:
    document = parse_json_text((EXAMPLES / f"{name}.agents.json").read_text())
    return drop_empty(document)


def raw_tool(document: dict) -> dict:
    return copy.deepcopy(document["agents"][0]["tools"][0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "default"),
        ("", "default"),
        ("default", "default"),
        ("Prod_Key", "prod-key"),
        ("  Team A  ", "team-a"),
        ("a - b", "a-b"),
        ("--x--", "x"),
        ("!!!", "default"),
        ("ключ1", "1"),
        (3, "default"),
    ],
)
def test_normalize_key_slug(value, expected):
    assert normalize_key_slug(value) == expected


def test_find_agent_tool_static():
    spec = find_agent_tool(
        payload("slack-notifier"), "release-notifier", "send_slack_message"
    )

    assert isinstance(spec, ToolSpec)
    assert spec.agent_id == "release-notifier"
    assert spec.kind == "static"
    assert spec.enabled is True
    assert spec.integration == {
        "name": "Slack",
        "domain": "slack.com",
        "keySlug": "default",
    }
    assert spec.endpoint["url"] == "https://slack.com/api/chat.postMessage"
    assert len(spec.mock_data) == 3


def test_find_agent_tool_normalises_integration():
    spec = find_agent_tool(
        payload("google-calendar"), "scheduler", "list_calendar_events"
    )

    assert spec is not None
    assert spec.kind == "oauth2"
    assert spec.integration["domain"] == "googleapis.com"
    assert spec.integration["keySlug"] == "default"
    assert spec.integration["auth"]["tokenAuthMethod"] == "client_secret_post"
    assert spec.integration["auth"]["tokenParams"] == {}


def test_find_agent_tool_endpoint_unchanged():
    document = payload("github-triage")

    spec = find_agent_tool(document, "triager", "create_github_issue")

    assert spec is not None
    assert spec.endpoint == document["agents"][0]["tools"][1]["endpoint"]


@pytest.mark.parametrize(
    ("agent_id", "tool_name"),
    [
        ("release-notifier", "missing_tool"),
        ("other-agent", "send_slack_message"),
        ("release-notifier", "Send_Slack_Message"),
    ],
)
def test_find_agent_tool_not_found(agent_id, tool_name):
    assert find_agent_tool(payload("slack-notifier"), agent_id, tool_name) is None


def test_find_agent_tool_skips_disabled():
    document = payload("slack-notifier")
    document["agents"][0]["tools"][0]["enabled"] = False

    assert find_agent_tool(document, "release-notifier", "send_slack_message") is None


def test_find_agent_tool_skips_builtin():
    document = {
        "agents": [
            {
                "id": "a",
                "tools": [{"type": "builtin", "name": "WebSearch", "enabled": True}],
            }
        ]
    }

    assert find_agent_tool(document, "a", "WebSearch") is None


@pytest.mark.parametrize("document", [None, [], {"agents": "x"}, {"agents": [1]}])
def test_find_agent_tool_tolerates_bad_payload(document):
    assert find_agent_tool(document, "a", "t") is None


def test_find_app_tool():
    spec = find_app_tool(payload("posthog-report"), "fetch_recent_events")

    assert spec is not None
    assert spec.agent_id is None
    assert spec.kind == "static"
    assert spec.integration["domain"] == "us.posthog.com"


def test_find_app_tool_does_not_find_agent_tools():
    assert find_app_tool(payload("slack-notifier"), "send_slack_message") is None


def test_agent_config_returns_copy():
    document = payload("slack-notifier")

    config = agent_config(document, "release-notifier")
    config["name"] = "changed"

    assert document["agents"][0]["name"] == "Release notifier"
    assert agent_config(document, "nobody") is None


def test_tool_spec_matches_own_copy():
    document = payload("slack-notifier")
    spec = find_agent_tool(document, "release-notifier", "send_slack_message")

    assert tool_spec_matches(spec, raw_tool(document))


def test_tool_spec_matches_after_normalisation():
    document = payload("hubspot-lookup")
    spec = find_agent_tool(document, "account-researcher", "search_hubspot_companies")
    sent = raw_tool(document)
    sent["integration"]["domain"] = "https://www.API.hubapi.com/"
    sent["integration"]["keySlug"] = "DEFAULT"
    sent["integration"]["name"] = " HubSpot "
    sent["integration"]["auth"].pop("tokenAuthMethod")
    sent["description"] = "descriptions are not compared"

    assert tool_spec_matches(spec, sent)


@pytest.mark.parametrize(
    "change",
    [
        lambda tool: tool["endpoint"].update(url="https://slack.com/api/chat.delete"),
        lambda tool: tool["endpoint"].update(method="PUT"),
        lambda tool: tool["endpoint"]["headers"].update({"X-Extra": "1"}),
        lambda tool: tool["endpoint"]["body"].update(channel="C999"),
        lambda tool: tool["integration"].update(domain="api.slack.com"),
        lambda tool: tool["integration"].update(keySlug="other"),
        lambda tool: tool["integration"].update(name="Slack 2"),
        lambda tool: tool.pop("endpoint"),
    ],
    ids=["url", "method", "header", "body", "domain", "keySlug", "name", "no endpoint"],
)
def test_tool_spec_mismatch(change):
    document = payload("slack-notifier")
    spec = find_agent_tool(document, "release-notifier", "send_slack_message")
    sent = raw_tool(document)
    change(sent)

    assert not tool_spec_matches(spec, sent)


def test_tool_spec_mismatch_on_added_scope():
    document = payload("hubspot-lookup")
    spec = find_agent_tool(document, "account-researcher", "search_hubspot_companies")
    sent = raw_tool(document)
    sent["integration"]["auth"]["scopes"].append("crm.objects.companies.write")

    assert not tool_spec_matches(spec, sent)


@pytest.mark.parametrize("sent", [None, "tool", [], {"endpoint": {"x": float("nan")}}])
def test_tool_spec_matches_rejects_malformed(sent):
    document = payload("slack-notifier")
    spec = find_agent_tool(document, "release-notifier", "send_slack_message")

    assert not tool_spec_matches(spec, sent)


def test_spec_fingerprint_is_stable_json():
    tool = {
        "integration": {"domain": "Slack.com", "name": "Slack"},
        "endpoint": {"url": "https://slack.com/api", "method": "GET"},
    }

    assert spec_fingerprint(tool) == (
        '{"endpoint":{"method":"GET","url":"https://slack.com/api"},'
        '"integration":{"domain":"slack.com","keySlug":"default","name":"Slack"}}'
    )


def test_normalize_auth_sorts_scopes_and_fills_defaults():
    auth = {"type": "oauth2", "scopes": ["b", "a", "b"]}

    assert normalize_auth(auth) == {
        "type": "oauth2",
        "scopes": ["a", "b"],
        "tokenAuthMethod": "client_secret_post",
        "authorizationParams": {},
        "tokenParams": {},
    }
    assert normalize_auth(None) is None


def test_security_summary_of_github_triage():
    summary = security_summary(payload("github-triage"))

    assert summary["domains"] == ["api.github.com"]
    assert summary["endpoints"] == [
        "GET https://api.github.com/repos/{{owner}}/{{repo}}/issues",
        "POST https://api.github.com/repos/{{owner}}/{{repo}}/issues",
    ]
    assert summary["secretNames"] == ["GITHUB_TOKEN"]
    assert summary["scopes"] == []
    assert summary["tokenUrls"] == []


def test_security_summary_of_oauth_tool():
    summary = security_summary(payload("hubspot-lookup"))

    assert summary["scopes"] == ["crm.objects.companies.read"]
    assert summary["tokenUrls"] == ["https://api.hubapi.com/oauth/v1/token"]
    assert summary["authorizationUrls"] == ["https://app.hubspot.com/oauth/authorize"]


def test_security_summary_lists_data_collections():
    document = payload("slack-notifier")
    document["agents"][0]["dataCollections"] = ["releases", "changelog"]

    assert security_summary(document)["dataCollections"] == ["changelog", "releases"]


def test_security_diff_empty_when_unchanged():
    assert security_diff(payload("hubspot-lookup"), payload("hubspot-lookup")) == []


def test_security_diff_of_new_tool():
    changes = security_diff({}, payload("slack-notifier"))
    subject = "agent release-notifier, tool send_slack_message"

    assert SecurityChange("domain", subject, None, "slack.com") in changes
    assert SecurityChange("method", subject, None, "POST") in changes
    assert SecurityChange("secretName", subject, None, "SLACK_BOT_TOKEN") in changes


def test_security_diff_of_changed_values():
    old = payload("hubspot-lookup")
    new = copy.deepcopy(old)
    tool = new["agents"][0]["tools"][0]
    tool["endpoint"]["method"] = "DELETE"
    tool["integration"]["auth"]["scopes"].append("crm.objects.companies.write")
    tool["integration"]["auth"]["tokenUrl"] = "https://evil.example/token"
    tool["endpoint"]["headers"] = {"X-Key": "{{secrets.EXTRA_KEY}}"}
    new["agents"][0]["dataCollections"] = ["accounts"]
    subject = "agent account-researcher, tool search_hubspot_companies"

    changes = security_diff(old, new)

    assert SecurityChange("method", subject, "POST", "DELETE") in changes
    assert (
        SecurityChange("scope", subject, None, "crm.objects.companies.write") in changes
    )
    assert (
        SecurityChange(
            "tokenUrl",
            subject,
            "https://api.hubapi.com/oauth/v1/token",
            "https://evil.example/token",
        )
        in changes
    )
    assert SecurityChange("secretName", subject, None, "EXTRA_KEY") in changes
    assert (
        SecurityChange("dataCollection", "agent account-researcher", None, "accounts")
        in changes
    )
    assert len(changes) == 5


def test_security_diff_ignores_removals():
    old = payload("github-triage")
    new = copy.deepcopy(old)
    new["agents"][0]["tools"].pop()

    assert security_diff(old, new) == []


def test_security_diff_of_domain_change():
    old = payload("slack-notifier")
    new = copy.deepcopy(old)
    new["agents"][0]["tools"][0]["integration"]["domain"] = "api.slack.com"
    new["agents"][0]["tools"][0]["endpoint"]["url"] = "https://api.slack.com/x"
    subject = "agent release-notifier, tool send_slack_message"

    changes = security_diff(old, new)

    assert SecurityChange("domain", subject, "slack.com", "api.slack.com") in changes
    assert (
        SecurityChange(
            "url",
            subject,
            "https://slack.com/api/chat.postMessage",
            "https://api.slack.com/x",
        )
        in changes
    )
