"""Tests of `manage.py egress_check`: its verdict lines and exit codes."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.support.egress_fixtures import assert_no_dials

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_check(*args: str) -> tuple[list[str], int]:
    """Run the command in-process; return its output lines and exit code."""
    stdout = StringIO()
    try:
        call_command("egress_check", *args, stdout=stdout, stderr=StringIO())
    except CommandError as error:
        return stdout.getvalue().splitlines(), error.returncode
    return stdout.getvalue().splitlines(), 0


def test_allowed_public_answer():
    lines, code = run_check(
        "https://api.allowed.example/v1",
        "--domain",
        "api.allowed.example",
        "--resolve",
        "api.allowed.example=93.184.215.14",
    )

    assert code == 0
    assert lines[0] == "allowed api.allowed.example 93.184.215.14"
    assert_no_dials()


def test_rejected_private_answer():
    lines, code = run_check(
        "https://api.allowed.example/v1",
        "--domain",
        "api.allowed.example",
        "--resolve",
        "api.allowed.example=10.0.0.5",
    )

    assert code == 1
    assert lines[0] == "rejected private_ip_blocked private"


def test_repeated_resolve_gives_several_answers():
    lines, code = run_check(
        "https://api.allowed.example/v1",
        "--domain",
        "api.allowed.example",
        "--resolve",
        "api.allowed.example=93.184.215.14",
        "--resolve",
        "API.allowed.example.=169.254.169.254",
    )

    assert code == 1
    assert lines[0] == "rejected private_ip_blocked metadata"


def test_repeated_resolve_all_public_lists_each():
    lines, code = run_check(
        "https://eu.api.allowed.example/v1",
        "--domain",
        "api.allowed.example",
        "--resolve",
        "eu.api.allowed.example=93.184.215.14",
        "--resolve",
        "eu.api.allowed.example=2606:4700:4700::1111",
    )

    assert code == 0
    assert lines[0] == "allowed eu.api.allowed.example 93.184.215.14"
    assert lines[1] == "addresses: 93.184.215.14 2606:4700:4700::1111"


@pytest.mark.parametrize(
    ("url", "first_line"),
    [
        ("https://api.allowed.example:443abc/", "rejected url_invalid port"),
        ("https://user@api.allowed.example/", "rejected url_invalid userinfo"),
        ("http://api.allowed.example/", "rejected https_required scheme"),
        ("https://evil.example/", "rejected domain_lock_failed outside_domain"),
        ("https://127.0.0.1/", "rejected domain_lock_failed outside_domain"),
    ],
)
def test_rejected_urls(url, first_line):
    lines, code = run_check(url, "--domain", "api.allowed.example")

    assert code == 1
    assert lines[0] == first_line


def test_unknown_name_is_dns_failure():
    lines, code = run_check(
        "https://api.allowed.example/", "--domain", "allowed.example"
    )

    assert code == 1
    assert lines[0] == "rejected dns_failure nxdomain"


@pytest.mark.parametrize("domain", ["example", "*.allowed.example", "10.0.0.5"])
def test_invalid_domain_rejected(domain):
    lines, code = run_check("https://api.allowed.example/", "--domain", domain)

    assert code == 1
    assert lines[0] == "rejected domain_lock_failed invalid_domain"
    assert len(lines) > 1


@pytest.mark.parametrize(
    "resolve",
    ["api.allowed.example", "api.allowed.example=not-an-ip", "=1.2.3.4", "a b=1.2.3.4"],
)
def test_malformed_resolve_is_bad_argument(resolve):
    _lines, code = run_check(
        "https://api.allowed.example/",
        "--domain",
        "api.allowed.example",
        "--resolve",
        resolve,
    )

    assert code == 2


def _manage(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "manage.py"), "egress_check", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_command_line_exit_codes():
    allowed = _manage(
        "https://api.allowed.example/",
        "--domain",
        "api.allowed.example",
        "--resolve",
        "api.allowed.example=93.184.215.14",
    )
    rejected = _manage(
        "https://api.allowed.example/",
        "--domain",
        "api.allowed.example",
        "--resolve",
        "api.allowed.example=127.0.0.1",
    )
    missing_domain = _manage("https://api.allowed.example/")

    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines()[0] == "allowed api.allowed.example 93.184.215.14"
    assert rejected.returncode == 1, rejected.stderr
    assert rejected.stdout.splitlines()[0] == "rejected private_ip_blocked loopback"
    assert missing_domain.returncode == 2
