"""The tool-call pipeline through `/api/internal/tool-execute`, step by step."""

import base64

import pytest

from apps.audit.models import AuditEvent
from apps.execution.models import ToolCall
from apps.execution.tasks import run_tool_call
from apps.execution.tool_calls import tool_call_await
from tests.execution.conftest import example, setup_document, tool_document
from tests.support.egress_fixtures import assert_no_dials

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "api.allowed.example"
URL = f"https://{DOMAIN}/echo"
KEY = "sk_live_CANARY_7f3a9c"


def secret_tool(**endpoint) -> dict:
    headers = {"Authorization": "Bearer {{secrets.API_KEY}}"}
    return tool_document(
        url=URL, domain=DOMAIN, endpoint={"headers": headers, **endpoint}
    )


def tool_events(event_name: str):
    return AuditEvent.objects.filter(event_name=event_name)


def test_public_tool_runs_without_grant(harness, upstream):
    upstream.server.set_json("/forecast", {"temperature": 21})
    document = tool_document(url=f"https://{DOMAIN}/forecast", domain=DOMAIN)
    answer = harness(document).call()

    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is False
    assert answer.json()["data"] == {"temperature": 21}
    assert len(upstream.requests) == 1
    assert tool_events("tool.custom.executed").count() == 1


def test_unconfigured_static_tool_is_mocked(harness, upstream):
    answer = harness(secret_tool(), setup=setup_document(DOMAIN)).call()

    assert answer.status_code == 200
    assert answer.json()["mock"] is True
    assert answer.json()["data"] == {"mocked": True}
    assert answer.json()["mockReason"] == "integration needs setup"
    assert upstream.requests == []
    assert tool_events("tool.custom.mocked").count() == 1


def test_static_tool_without_grant_is_mocked(harness, upstream):
    answer = harness(secret_tool()).call()

    assert answer.json()["mock"] is True
    assert answer.json()["mockReason"] == "integration not set up"
    assert upstream.requests == []


def test_configured_secret_is_injected_and_scrubbed(harness, upstream):
    built = harness(
        secret_tool(), setup=setup_document(DOMAIN), secrets={"API_KEY": KEY}
    )
    answer = built.call()

    assert answer.status_code == 200, answer.content
    echoed = answer.json()["data"]
    assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"
    # The key names a credential, so its whole value is redacted.
    assert echoed["headers"]["authorization"] == "[redacted]"
    assert KEY not in answer.content.decode()
    assert base64.b64encode(KEY.encode()).decode() not in answer.content.decode()


def test_mock_only_approval_answers_mock(world, harness, upstream):
    built = harness(
        secret_tool(),
        setup=setup_document(DOMAIN),
        secrets={"API_KEY": KEY},
        creator=world.member.user,
        approver=world.member.user,
    )
    answer = built.call()

    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is True
    assert answer.json()["mockReason"] == "approved for mock-data development"
    assert upstream.requests == []


def test_unapproved_draft_is_refused(harness, upstream):
    answer = harness(secret_tool(), approve=False).call()

    assert answer.status_code == 403
    assert answer.json()["error"] == "draft_agents_config_unapproved"
    assert tool_events("tool.custom.denied").count() == 1


def test_unknown_tool_is_refused(harness, upstream):
    answer = harness(secret_tool()).call(tool="delete_everything")

    assert answer.status_code == 403
    assert answer.json()["error"] == "draft_agents_config_unapproved"


def test_changed_tool_spec_is_refused(harness, upstream):
    document = secret_tool()
    spec = dict(document["agents"][0]["tools"][0])
    spec["endpoint"] = {**spec["endpoint"], "url": "https://api.allowed.example/admin"}
    answer = harness(document).call(toolSpec=spec)

    assert answer.status_code == 403
    assert answer.json()["error"] == "draft_agents_config_unapproved"
    assert upstream.requests == []


def test_private_address_is_denied_without_dial(harness, test_resolver, settings):
    settings.SECOND_EGRESS_RESOLVE = {}
    test_resolver.set_answers(DOMAIN, ["10.0.0.5"])
    built = harness(
        secret_tool(), setup=setup_document(DOMAIN), secrets={"API_KEY": KEY}
    )
    answer = built.call()

    assert answer.status_code == 400
    assert answer.json()["error"] == "private_ip_blocked"
    assert_no_dials()
    denial = tool_events("tool.custom.denied").get()
    assert denial.metadata["egressReason"] == "private"
    assert KEY not in str(denial.metadata)


def test_redirect_is_not_followed(harness, upstream):
    document = tool_document(url=f"https://{DOMAIN}/redirect", domain=DOMAIN)
    answer = harness(document).call()

    assert answer.status_code == 502
    assert answer.json()["error"] == "provider_redirect"
    assert [request.path for request in upstream.requests] == ["/redirect"]


def test_large_response_is_cut(harness, upstream):
    document = tool_document(url=f"https://{DOMAIN}/large", domain=DOMAIN)
    answer = harness(document).call()

    assert answer.status_code == 502
    assert answer.json()["error"] == "response_too_large"


def test_upstream_error_is_categorised(harness, upstream):
    upstream.server.set_json("/limited", {"error": "slow down"}, status=429)
    document = tool_document(url=f"https://{DOMAIN}/limited", domain=DOMAIN)
    answer = harness(document).call()

    assert answer.status_code == 200
    assert answer.json()["success"] is False
    assert answer.json()["errorCategory"] == "rate_limit"
    assert answer.json()["retryable"] is True
    assert tool_events("tool.custom.failed").count() == 1


def test_missing_input_is_named(harness, upstream):
    document = tool_document(
        url=f"https://{DOMAIN}/items/{{{{item_id}}}}", domain=DOMAIN
    )
    answer = harness(document).call({})

    assert answer.status_code == 400
    assert answer.json()["error"] == "missing_input_placeholders"
    assert "item_id" in answer.json()["detail"]


def test_input_is_not_expanded_again(harness, upstream):
    built = harness(
        secret_tool(method="POST", body={"text": "{{text}}"}),
        setup=setup_document(DOMAIN),
        secrets={"API_KEY": KEY},
    )
    answer = built.call({"text": "{{secrets.API_KEY}}"})

    assert answer.status_code == 200, answer.content
    assert b"{{secrets.API_KEY}}" in upstream.requests[0].body
    assert KEY.encode() not in upstream.requests[0].body


def test_slots_full_answers_429(harness, upstream, settings):
    settings.SECOND_TOOL_CONCURRENCY_PER_WORKSPACE = 1
    built = harness(tool_document(url=f"https://{DOMAIN}/json", domain=DOMAIN))
    ToolCall.objects.create(
        workspace=built.app.workspace,
        app=built.app,
        kind=ToolCall.Kind.AGENT_TOOL,
        tool_name="lookup",
        source_version="draft",
        state=ToolCall.State.RUNNING,
    )
    answer = built.call()

    assert answer.status_code == 429
    assert answer.json()["error"] == "tool_rate_limited"
    assert answer["Retry-After"] == "1"
    assert upstream.requests == []


def test_redelivered_task_sends_nothing(harness, upstream):
    built = harness(tool_document(url=f"https://{DOMAIN}/json", domain=DOMAIN))
    assert built.call().status_code == 200
    call = ToolCall.objects.get()

    run_tool_call(str(call.pk))

    assert len(upstream.requests) == 1
    assert ToolCall.objects.get().state == ToolCall.State.COMPLETED


def test_unclaimed_call_expires_with_504(harness, upstream):
    built = harness(tool_document(url=f"https://{DOMAIN}/json", domain=DOMAIN))
    call = ToolCall.objects.create(
        workspace=built.app.workspace,
        app=built.app,
        kind=ToolCall.Kind.AGENT_TOOL,
        tool_name="lookup",
        source_version="draft",
    )
    answer = tool_call_await(call)

    assert answer.status == 504
    assert answer.body["error"] == "tool_execution_timeout"
    assert answer.body["retryable"] is True
    assert ToolCall.objects.get(pk=call.pk).state == ToolCall.State.EXPIRED
    run_tool_call(str(call.pk))
    assert upstream.requests == []


def test_audit_failure_after_send_is_not_retryable(harness, upstream, monkeypatch):
    built = harness(tool_document(url=f"https://{DOMAIN}/json", domain=DOMAIN))

    def broken_audit(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr("apps.execution.pipeline.runner.audit_record", broken_audit)
    answer = built.call()

    assert answer.status_code == 500
    assert answer.json()["error"] == "audit_write_failed"
    assert answer.json()["retryable"] is False
    assert len(upstream.requests) == 1


def test_oauth_tool_is_mocked_for_now(harness, upstream):
    document = example("hubspot-lookup.agents.json")
    built = harness(document, setup=example("hubspot-lookup.integration-setup.json"))
    tool = document["agents"][0]["tools"][0]["name"]
    answer = built.call({"query": "Acme"}, tool=tool)

    assert answer.status_code == 200, answer.content
    assert answer.json()["mock"] is True
    assert upstream.requests == []


def test_ended_run_token_is_refused(harness, upstream):
    built = harness(tool_document(url=f"https://{DOMAIN}/json", domain=DOMAIN))
    client_body = {"runId": built.run_id, "status": "completed", "result": {"ok": 1}}
    from rest_framework.test import APIClient

    runtime = APIClient()
    runtime.credentials(HTTP_AUTHORIZATION=f"Bearer {built.run_token}")
    done = runtime.post("/api/internal/agent-run-complete", client_body, format="json")
    assert done.status_code == 200, done.content

    answer = built.call()

    assert answer.status_code == 409
    assert answer.json()["error"] == "run_not_active"
    assert AuditEvent.objects.filter(event_name="app_agent_run.completed").count() == 1


def test_nul_in_upstream_answer_is_stored(harness, upstream):
    upstream.server.set_json("/nul", {"name": "a\x00b"})
    document = tool_document(url=f"https://{DOMAIN}/nul", domain=DOMAIN)
    answer = harness(document).call()

    assert answer.status_code == 200, answer.content
    assert answer.json()["data"] == {"name": "a\ufffdb"}
    assert ToolCall.objects.get().state == ToolCall.State.COMPLETED
