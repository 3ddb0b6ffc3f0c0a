import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "examples"


def load(name: str):
    return json.loads((EXAMPLES / name).read_text())


@pytest.mark.django_db(transaction=True)
def test_flow_smoke(world):
    owner = world.owner
    response = owner.post(f"{world.base}/apps", {"name": "Notifier"})
    assert response.status_code == 201, response.content
    app_id = response.json()["id"]
    app = f"{world.base}/apps/{app_id}"
    response = owner.patch(f"{app}/agents", load("slack-notifier.agents.json"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["approval"]["state"] == "unapproved"
    response = owner.put(
        f"{app}/integration-setup", load("slack-notifier.integration-setup.json")
    )
    assert response.status_code == 200, response.content
    response = owner.post(
        f"{app}/agent-runs", {"agentId": "release-notifier", "sourceVersion": "draft"}
    )
    assert response.status_code == 201, response.content
    run = response.json()
    from rest_framework.test import APIClient

    runtime = APIClient()
    runtime.credentials(HTTP_AUTHORIZATION=f"Bearer {run['runToken']}")
    call = {
        "runId": run["runId"],
        "toolName": "send_slack_message",
        "toolInput": {"channel": "C1", "text": "hi"},
    }
    response = runtime.post(
        "/api/internal/tool-execute",
        data=json.dumps(call),
        content_type="application/json",
    )
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "draft_agents_config_unapproved"
    response = owner.post(f"{app}/agents/approval", {"hash": body["hash"]})
    assert response.status_code == 200, response.content
    response = runtime.post(
        "/api/internal/tool-execute",
        data=json.dumps(call),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["mock"] is True, response.content
