"""A credential written into an OAuth URL or parameter map is rejected wherever a
builder or admin can write one: agents.json, integration-setup.json and the
provider config. Such values would be stored and shown as plain text."""

import copy
import json
from pathlib import Path

import pytest

from apps.agents.credentials import (
    credential_name,
    oauth_auth_problems,
    url_carries_credential,
)
from apps.agents.validation import validate_agents_json
from apps.integrations.services import setup_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CANARY = "CANARY-client-secret-5e2b"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.mark.parametrize(
    "url",
    [
        f"https://auth.example/token?client_secret={CANARY}",
        f"https://auth.example/token?a=1;client_secret={CANARY}",
        f"https://auth.example/token#access_token={CANARY}",
        f"https://auth.example/token;token={CANARY}",
        f"https://auth.example/token?key={CANARY}",
        f"https://auth.example/token?pwd={CANARY}",
        f"https://auth.example/token?auth={CANARY}",
        f"https://auth.example/token?client%5Fsecret={CANARY}",
        f"https://user:{CANARY}@auth.example/token",
    ],
)
def test_credential_url_detected(url):
    assert url_carries_credential(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://auth.example/authorize?audience=api&resource=https://api.example",
        "https://auth.example/authorize?prompt=consent&access_type=offline",
        "https://auth.example/keys/token-endpoint",
    ],
)
def test_plain_url_accepted(url):
    assert not url_carries_credential(url)


@pytest.mark.parametrize("name", ["prompt", "access_type", "scope", "monkey"])
def test_oauth_parameter_not_credential(name):
    assert not credential_name(name)


def test_messages_never_repeat_value():
    auth = {
        "tokenUrl": f"https://auth.example/token?client_secret={CANARY}",
        "tokenParams": {f"client_secret_{CANARY}": "x"},
    }

    problems = list(oauth_auth_problems(auth))

    assert [field for field, _message in problems] == ["tokenUrl", "tokenParams"]
    assert all(CANARY not in message for _field, message in problems)


def oauth_tool_auth(document: dict) -> dict:
    return document["agents"][0]["tools"][0]["integration"]["auth"]


def test_agents_json_rejects_secret_url():
    document = example("google-calendar.agents.json")
    oauth_tool_auth(document)["tokenUrl"] += f"?client_secret={CANARY}"

    paths = [problem.path for problem in validate_agents_json(document)]

    assert any(path.endswith("auth.tokenUrl") for path in paths)


def test_agents_json_rejects_secret_params():
    document = example("google-calendar.agents.json")
    oauth_tool_auth(document)["authorizationParams"]["client_secret"] = CANARY

    paths = [problem.path for problem in validate_agents_json(document)]

    assert any(path.endswith("auth.authorizationParams") for path in paths)


def test_agents_json_example_accepted():
    assert validate_agents_json(example("google-calendar.agents.json")) == []


def setup_with_auth(**auth) -> dict:
    setup = copy.deepcopy(example("hubspot-lookup.integration-setup.json"))
    setup["integrations"][0]["auth"].update(auth)
    return setup


def test_setup_rejects_secret_url():
    setup = setup_with_auth(tokenUrl=f"https://api.hubapi.com/token?key={CANARY}")

    problems = setup_problems(setup)

    assert "$.integrations[0].auth.tokenUrl" in problems
    assert CANARY not in json.dumps(problems)


def test_setup_rejects_secret_params():
    setup = setup_with_auth(tokenParams={"client_secret": CANARY})

    assert "$.integrations[0].auth.tokenParams" in setup_problems(setup)


def test_setup_example_accepted():
    assert setup_problems(example("hubspot-lookup.integration-setup.json")) == {}
