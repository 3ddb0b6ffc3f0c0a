"""`manage.py check`, gunicorn and a Celery worker each exit non-zero on a key
that cannot read the stored secrets, and start with the right one.

Each process runs as a subprocess on a SQLite file that the first `migrate`
creates, with one secret stored under key 1. Gunicorn binds to a free loopback
port, and the worker uses the in-memory broker.
"""

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY_1 = "a1" * 32
KEY_2 = "b2" * 32
KEY_3 = "c3" * 32
CANARY = "sk_live_CANARY_startup_41f0"

BAD_KEYS = {
    "wrong key": KEY_2,
    "truncated key": KEY_1[:-2],
    "list without key in use": f"{KEY_2},{KEY_3}",
}


def environment(state: Path, key: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECOND_", "DJANGO_", "WORKOS_", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"sqlite:///{state / 'db.sqlite3'}",
        SECOND_TOKEN_ENCRYPTION_KEY=key,
        REDIS_URL="",
        CELERY_BROKER_URL="memory://",
    )
    return env


def manage(state: Path, key: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment(state, key),
        capture_output=True,
        text=True,
        timeout=120,
    )


COMMANDS = {
    "check": [sys.executable, "manage.py", "check"],
    "gunicorn": [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "1",
    ],
    "celery worker": [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
    ],
}

# What each long-running process prints once it listens or is ready for work.
READY = {"gunicorn": "Listening at: ", "celery worker": "ready."}


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> Path:
    """A migrated SQLite file holding one secret under key 1."""
    folder = tmp_path_factory.mktemp("startup")
    migrated = manage(folder, KEY_1, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr

    stored = manage(
        folder,
        KEY_1,
        "shell",
        "-c",
        "from apps.secret_store.store import secret_store; "
        "secret_store().put(workspace_id='00000000-0000-0000-0000-000000000001', "
        f"purpose='startup:test', value='{CANARY}')",
    )
    assert stored.returncode == 0, stored.stderr
    return folder


def run_to_exit(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run a command that must stop by itself; a process still up is killed."""
    try:
        finished = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
        )
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode() + (expired.stderr or b"").decode()
        pytest.fail(f"{command[2]} kept running on a bad key:\n{output[-2000:]}")
    return finished.returncode, finished.stdout + finished.stderr


def test_first_migrate_of_empty_database(tmp_path):
    migrated = manage(tmp_path, KEY_2, "migrate", "--no-input")

    assert migrated.returncode == 0, migrated.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_bad_key_stops_process(state, command, case):
    key = BAD_KEYS[case]

    returncode, output = run_to_exit(COMMANDS[command], environment(state, key))

    assert returncode != 0, output[-3000:]
    assert "secret_store.E00" in output, output[-3000:]
    assert KEY_1 not in output
    assert key.split(",")[0] not in output
    assert CANARY not in output


def health_status(url: str) -> int:
    """Return the status of the server's health route, polling a bounded time."""
    for _ in range(60):
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=5) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            time.sleep(0.5)
    return 0


def start_and_stop(command: list[str], env: dict[str, str], ready: str) -> str:
    """Start a server or worker, wait for its ready line, then stop it.

    For gunicorn the health route is requested too, because the worker loads
    the application, and with it the checks, only after the master listens.
    """
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if ready in line:
                break
        listening = re.search(
            r"Listening at: (http://127\.0\.0\.1:\d+)", "".join(lines)
        )
        if listening:
            lines.append(f"health {health_status(listening.group(1))}\n")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return "".join(lines)


def test_right_key_starts_gunicorn(state):
    command = COMMANDS["gunicorn"]
    env = environment(state, f"{KEY_2},{KEY_1}")

    output = start_and_stop(command, env, READY["gunicorn"])

    assert "health 200" in output
    assert CANARY not in output


def test_right_key_starts_worker(state):
    command = COMMANDS["celery worker"]
    env = environment(state, f"{KEY_2},{KEY_1}")

    output = start_and_stop(command, env, READY["celery worker"])

    assert READY["celery worker"] in output
    assert CANARY not in output


def test_right_key_passes_check(state):
    checked = manage(state, f"{KEY_2},{KEY_1}", "check")

    assert checked.returncode == 0, checked.stderr
