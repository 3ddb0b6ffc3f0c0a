"""The README's commands, run as a new user would run them.

The test copies the repository to a fresh folder, runs the README's run command
there with the base Python interpreter (so it builds its own virtual
environment), and runs the try-it blocks with bash against the server it
serves. The two admin steps are done over HTTP with the owner's password. The
copied Slack example points at a plain-HTTP stand-in on 127.0.0.1 instead of
slack.com, which local mode's loopback rule allows; nothing leaves the machine.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.support.upstream import UpstreamServer

pytestmark = pytest.mark.readme

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PASSWORD = "readme-owner-password-31"
BOT_TOKEN = "xoxb-readme-test-token-7f3a9c"
START_TIMEOUT_SECONDS = 600


def readme_block(marker: str) -> str:
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```sh\n(.*?)```", README, re.S)
    assert match, f"README.md has no block marked {marker}"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def copy_repository(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for name in filter(None, listed):
        source = ROOT / name
        if name.startswith((".second/", ".venv/")) or not source.is_file():
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())


def point_example_at(repo: Path, stand_in: UpstreamServer) -> None:
    """Rewrite the copied Slack example to reach the loopback stand-in."""
    agents_path = repo / "examples" / "slack-notifier.agents.json"
    agents = json.loads(agents_path.read_text())
    tool = agents["agents"][0]["tools"][0]
    tool["integration"]["domain"] = "127.0.0.1"
    tool["endpoint"]["url"] = stand_in.direct_url("/api/chat.postMessage")
    agents_path.write_text(json.dumps(agents))

    setup_path = repo / "examples" / "slack-notifier.integration-setup.json"
    setup = json.loads(setup_path.read_text())
    setup["integrations"][0]["domain"] = "127.0.0.1"
    setup_path.write_text(json.dumps(setup))


def user_environment(repo: Path, port: int) -> dict[str, str]:
    """An environment with only the base Python on PATH and no service URLs."""
    base_bin = Path(sys.base_prefix) / "bin"
    return {
        "PATH": f"{base_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(repo)),
        "LANG": "C.UTF-8",
        "SECOND_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SECOND": f"http://127.0.0.1:{port}",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


class Shell:
    """Runs README blocks with bash, carrying exported variables from block to block."""

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo = repo
        self.env = env
        self.state = repo / ".try-it-env.sh"
        self.state.write_text("")

    def run(self, block: str) -> str:
        script = "\n".join(
            [
                "set -euo pipefail",
                f"source {self.state}",
                block,
                f"export -p > {self.state}",
            ]
        )
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"block failed:\n{block}\n{result.stderr}"
        return result.stdout

    def variable(self, name: str) -> str:
        match = re.search(rf'declare -x {name}="([^"]*)"', self.state.read_text())
        assert match, f"the try-it blocks did not export {name}"
        return match.group(1)


class AdminBrowser:
    """Django admin over HTTP with a session cookie and the CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def post_form(self, path: str, page: str, fields: dict[str, str]) -> str:
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, **fields}).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.read().decode()

    def sign_in(self) -> None:
        page = self.get("/admin/login/")
        landed = self.post_form(
            "/admin/login/?next=/admin/",
            page,
            {"username": "owner", "password": PASSWORD, "next": "/admin/"},
        )
        assert "Log out" in landed or "logout" in landed, "the owner could not sign in"


def wait_for_health(base: str, server: subprocess.Popen, log: Path) -> None:
    # A hang guard only; the run command installs packages before serving.
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the run command exited:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the run command did not serve in time:\n{log.read_text()[-4000:]}")


@pytest.fixture
def served_copy(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    port = free_port()
    env = user_environment(repo, port)
    run_command = readme_block("run-command").strip()
    log = tmp_path / "run.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            ["bash", "-c", run_command],
            cwd=repo,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(base, server, log)
        yield repo, env, base, log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_readme_try_it_flow(served_copy):
    repo, env, base, log = served_copy
    with UpstreamServer(tls_ca=None) as stand_in:
        point_example_at(repo, stand_in)
        shell = Shell(repo, env)
        admin = AdminBrowser(base)

        shell.run(readme_block("try-it:token"))
        shell.run(readme_block("try-it:app"))
        refused = shell.run(readme_block("try-it:run"))
        assert json.loads(refused)["error"] == "draft_agents_config_unapproved"

        admin.sign_in()
        app_path = f"/admin/applications/app/{shell.variable('APP')}/change/"
        page = admin.get(app_path)
        shown_hash = re.search(r'name="hash" value="([^"]+)"', page).group(1)
        approve_path = app_path.replace("/change/", "/approve-agents/")
        approved = admin.post_form(approve_path, page, {"hash": shown_hash})
        assert 'id="agents-state">approved<' in approved

        mocked = json.loads(shell.run(readme_block("try-it:mock")))
        assert mocked["mock"] is True
        assert stand_in.requests == []

        grant_path = _grant_change_path(env, shell)
        grant_page = admin.get(grant_path)
        assert 'type="password" name="secret__SLACK_BOT_TOKEN"' in grant_page
        admin.post_form(
            grant_path,
            grant_page,
            {"secret__SLACK_BOT_TOKEN": BOT_TOKEN, "_save": "Save"},
        )

        live_output = shell.run(readme_block("try-it:live")).strip().split("\n")
        live = json.loads(live_output[0])
        run_detail = json.loads(live_output[-1])

    assert live["mock"] is False
    assert live["data"]["ok"] is True
    assert len(stand_in.requests) == 1
    assert stand_in.requests[0].headers["authorization"] == f"Bearer {BOT_TOKEN}"
    outcomes = [call["outcome"] for call in run_detail["toolCalls"]]
    assert outcomes == ["denied", "mocked", "executed"]
    assert BOT_TOKEN not in "\n".join(live_output)
    assert BOT_TOKEN not in log.read_text()


def _grant_change_path(env: dict[str, str], shell: Shell) -> str:
    request = urllib.request.Request(
        f"{env['SECOND']}/api/workspaces/{shell.variable('WS')}/integrations",
        headers={"Authorization": f"Bearer {shell.variable('TOKEN')}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        grants = json.loads(response.read())
    return f"/admin/integrations/integrationgrant/{grants[0]['id']}/change/"
