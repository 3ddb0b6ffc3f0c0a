"""A real Celery worker in a subprocess, on the test settings and the test database."""

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT_SECONDS = 60


def _database_url() -> str:
    database = connection.settings_dict
    user = database.get("USER") or "postgres"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{database['NAME']}"


class WorkerProcess:
    """`celery -A config worker` with the environment a test hands it."""

    def __init__(self, extra_env: dict[str, str], log_path: Path) -> None:
        self.extra_env = extra_env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "SECOND_EGRESS_DEADLINE_SECONDS": str(
                settings.SECOND_EGRESS_DEADLINE_SECONDS
            ),
            **self.extra_env,
        }
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=threads",
                "--concurrency=4",
                "--loglevel=INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        # A hang guard only: the worker logs "ready" once it consumes the queue.
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.log()}")
            if "ready." in self.log():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the worker did not start in time:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
