"""`GET|PUT …/apps/{a}/files`: builders read and write the draft through the one
draft writer; other viewers read only the published files."""

import json

import pytest

from apps.applications.models import AppSnapshot
from apps.integrations.models import IntegrationGrant
from apps.workspaces.models import Team
from tests.execution.conftest import tool_document

pytestmark = pytest.mark.django_db

DOMAIN = "api.allowed.example"


def agents_text() -> str:
    return json.dumps(tool_document(url=f"https://{DOMAIN}/v1", domain=DOMAIN))


@pytest.fixture
def app_url(world) -> str:
    app = world.owner.post(f"{world.base}/apps", {"name": "Files"}).json()
    return f"{world.base}/apps/{app['id']}"


def put_files(persona, app_url: str, files: dict):
    return persona.client.put(f"{app_url}/files", {"files": files}, format="json")


def publish(world, app_url: str) -> None:
    general = Team.objects.get(workspace=world.workspace, is_default=True)
    digest = world.owner.get(f"{app_url}/agents").json()["hash"]
    response = world.owner.post(
        f"{app_url}/publish",
        {"teamIds": [str(general.pk)], "mode": "publish", "hash": digest},
    )
    assert response.status_code == 200, response.content


def test_builder_writes_and_reads_draft(world, app_url):
    written = put_files(world.owner, app_url, {"agents.json": agents_text()})

    body = world.owner.get(f"{app_url}/files").json()

    assert written.status_code == 200
    assert body["version"] == "draft"
    assert body["files"]["agents.json"] == agents_text()
    assert body["agentsHash"].startswith("v1:")


def test_invalid_agents_json_is_stored(world, app_url):
    response = put_files(world.owner, app_url, {"agents.json": '{"agents": []}'})

    assert response.status_code == 200
    assert response.json()["problems"]["agents.json"] != []
    state = world.owner.get(f"{app_url}/agents").json()["approval"]["state"]
    assert state == "invalid"


def test_null_deletes_file(world, app_url):
    put_files(world.owner, app_url, {"notes.md": "hello\n"})

    put_files(world.owner, app_url, {"notes.md": None})

    assert "notes.md" not in world.owner.get(f"{app_url}/files").json()["files"]


@pytest.mark.parametrize(
    "path", ["../escape.py", "/etc/passwd", ".env", "src//main.py", "a/../b", "x" * 300]
)
def test_bad_path_rejected(world, app_url, path):
    response = put_files(world.owner, app_url, {path: "text"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_oversized_file_writes_nothing(world, app_url):
    put_files(world.owner, app_url, {"kept.txt": "kept\n"})

    response = put_files(
        world.owner, app_url, {"big.txt": "x" * (1024 * 1024 + 1), "new.txt": "n"}
    )

    assert response.status_code == 413
    files = AppSnapshot.objects.get(app__name="Files", kind="draft").files
    assert sorted(files) == ["kept.txt"]


def test_setup_file_syncs_grants(world, app_url):
    setup = {"integrations": [{"name": "Demo", "domain": DOMAIN}]}

    put_files(world.owner, app_url, {"integration-setup.json": json.dumps(setup)})

    assert IntegrationGrant.objects.filter(domain=DOMAIN).count() == 1


def test_invalid_setup_file_reported(world, app_url):
    response = put_files(world.owner, app_url, {"integration-setup.json": "{}"})

    assert response.status_code == 200
    assert response.json()["problems"]["integration-setup.json"] != {}
    assert IntegrationGrant.objects.count() == 0


def test_viewer_reads_published_files(world, app_url):
    put_files(world.owner, app_url, {"agents.json": agents_text()})
    publish(world, app_url)
    put_files(world.owner, app_url, {"draft-only.txt": "not live\n"})

    body = world.member.get(f"{app_url}/files").json()

    assert body["version"] == "published"
    assert "draft-only.txt" not in body["files"]


def test_viewer_cannot_read_draft(world, app_url):
    put_files(world.owner, app_url, {"agents.json": agents_text()})
    publish(world, app_url)

    response = world.member.get(f"{app_url}/files?version=draft")

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_viewer_cannot_write(world, app_url):
    put_files(world.owner, app_url, {"agents.json": agents_text()})
    publish(world, app_url)

    response = put_files(world.member, app_url, {"notes.md": "mine\n"})

    assert response.status_code == 403
