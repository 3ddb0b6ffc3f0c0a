"""Start-up checks of the production and local settings, run as `manage.py check`.

Each run gets a minimal environment (PATH, HOME and the variables under test), so
nothing from the shell or the CI job leaks into the settings. Every URL points at
the loopback address, and `check` opens no connection.
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

COMPLETE_PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DEBUG": "off",
    "DJANGO_SECRET_KEY": "production-test-secret-key-0123456789-abcdefghijklmnop",
    "SECOND_PUBLIC_URL": "https://second.example.test",
    "DATABASE_URL": "postgres://second@127.0.0.1:5432/second",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECOND_AUTH_MODE": "external",
    "OIDC_OP_ISSUER": "https://login.example.test",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://login.example.test/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "https://login.example.test/token",
    "OIDC_OP_USER_ENDPOINT": "https://login.example.test/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "https://login.example.test/jwks",
    "OIDC_RP_CLIENT_ID": "second",
    "OIDC_RP_CLIENT_SECRET": "oidc-client-secret-for-tests",
    "INTERNAL_API_TOKEN": "internal-token-0123456789abcdefghijkl",
    "SECOND_TOKEN_ENCRYPTION_KEY": "00112233445566778899aabbccddeeff" * 2,
}

UNSAFE_PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DEBUG": "on",
    "SECOND_PUBLIC_URL": "http://second.example.test",
    "DATABASE_URL": "sqlite:///second.sqlite3",
    "SECOND_AUTH_MODE": "local",
    "INTERNAL_API_TOKEN": "too-short",
    "SECOND_EGRESS_RESOLVE": "api.example.test:443=127.0.0.1:8443",
    "SECOND_EGRESS_EXTRA_CA": "/tmp/test-ca.pem",
    "SECOND_EGRESS_DIAL_LOG": "/tmp/dial.log",
    "WORKOS_BASE_URL": "https://127.0.0.1:9443",
}

UNSAFE_VARIABLES = [
    "DEBUG",
    "DJANGO_SECRET_KEY",
    "SECOND_PUBLIC_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "SECOND_AUTH_MODE",
    "INTERNAL_API_TOKEN",
    "SECOND_TOKEN_ENCRYPTION_KEY",
    "SECOND_EGRESS_RESOLVE",
    "SECOND_EGRESS_EXTRA_CA",
    "SECOND_EGRESS_DIAL_LOG",
    "WORKOS_BASE_URL",
]


def manage_check(environment: dict[str, str], home: Path):
    """Run `manage.py check` with only PATH, HOME and `environment` set."""
    minimal = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**minimal, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def problem_lines(output: str, variable: str) -> list[str]:
    """Return the lines of the problem list that name `variable`."""
    return [line for line in output.splitlines() if line.startswith(f"  - {variable}:")]


# Production.


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    return manage_check(COMPLETE_PRODUCTION, tmp_path_factory.mktemp("home"))


def test_production_complete_starts(complete):
    assert complete.returncode == 0, complete.stderr


@pytest.fixture(scope="module")
def unsafe(tmp_path_factory):
    return manage_check(UNSAFE_PRODUCTION, tmp_path_factory.mktemp("home"))


def test_production_unsafe_exits_nonzero(unsafe):
    assert unsafe.returncode != 0


def test_production_unsafe_improperly_configured(unsafe):
    assert "ImproperlyConfigured" in unsafe.stderr


@pytest.mark.parametrize("variable", UNSAFE_VARIABLES)
def test_production_unsafe_names(unsafe, variable):
    assert problem_lines(unsafe.stderr, variable) != []


def test_production_problems_listed_once(unsafe):
    lines = [line for line in unsafe.stderr.splitlines() if line.startswith("  - ")]
    repeated = sorted({line for line in lines if lines.count(line) > 1})
    assert repeated == []


# One unsafe value at a time, on top of the complete environment.

SINGLE_CHANGES = [
    ("DEBUG", {"DEBUG": "on"}),
    ("DJANGO_SECRET_KEY", {"DJANGO_SECRET_KEY": None}),
    ("SECOND_PUBLIC_URL", {"SECOND_PUBLIC_URL": None}),
    ("SECOND_PUBLIC_URL", {"SECOND_PUBLIC_URL": "http://second.example.test"}),
    ("DATABASE_URL", {"DATABASE_URL": None}),
    ("DATABASE_URL", {"DATABASE_URL": "sqlite:///second.sqlite3"}),
    ("REDIS_URL", {"REDIS_URL": None}),
    ("SECOND_AUTH_MODE", {"SECOND_AUTH_MODE": "local"}),
    ("OIDC_OP_ISSUER", {"OIDC_OP_ISSUER": None}),
    ("OIDC_RP_CLIENT_SECRET", {"OIDC_RP_CLIENT_SECRET": None}),
    ("INTERNAL_API_TOKEN", {"INTERNAL_API_TOKEN": None}),
    ("INTERNAL_API_TOKEN", {"INTERNAL_API_TOKEN": "x" * 31}),
    ("SECOND_TOKEN_ENCRYPTION_KEY", {"SECOND_TOKEN_ENCRYPTION_KEY": None}),
    ("SECOND_EGRESS_RESOLVE", {"SECOND_EGRESS_RESOLVE": "a.test:443=127.0.0.1:1"}),
    ("SECOND_EGRESS_EXTRA_CA", {"SECOND_EGRESS_EXTRA_CA": "/tmp/ca.pem"}),
    ("SECOND_EGRESS_DIAL_LOG", {"SECOND_EGRESS_DIAL_LOG": "/tmp/dial.log"}),
    ("WORKOS_BASE_URL", {"WORKOS_BASE_URL": "https://127.0.0.1:9443"}),
]
SINGLE_IDS = [
    "debug on",
    "no secret key",
    "no public url",
    "http public url",
    "no database",
    "sqlite database",
    "no redis",
    "local auth",
    "no oidc issuer",
    "no oidc client secret",
    "no internal token",
    "short internal token",
    "no encryption key",
    "egress resolve",
    "egress extra ca",
    "egress dial log",
    "workos base url",
]


def changed(base: dict, change: dict) -> dict:
    result = dict(base)
    for name, value in change.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


@pytest.fixture(scope="module")
def single_results(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return {
        case_id: manage_check(changed(COMPLETE_PRODUCTION, change), home)
        for case_id, (_, change) in zip(SINGLE_IDS, SINGLE_CHANGES, strict=True)
    }


@pytest.mark.parametrize("variable, change", SINGLE_CHANGES, ids=SINGLE_IDS)
def test_production_single_refused(single_results, request, variable, change):
    case_id = request.node.callspec.id
    assert single_results[case_id].returncode != 0


@pytest.mark.parametrize("variable, change", SINGLE_CHANGES, ids=SINGLE_IDS)
def test_production_single_named(single_results, request, variable, change):
    case_id = request.node.callspec.id
    assert problem_lines(single_results[case_id].stderr, variable) != []


def test_production_vault_replaces_key(tmp_path):
    environment = changed(
        COMPLETE_PRODUCTION,
        {"SECOND_TOKEN_ENCRYPTION_KEY": None, "WORKOS_API_KEY": "sk_test_unused"},
    )
    assert manage_check(environment, tmp_path).returncode == 0


# Local settings.


def local_environment(state_dir: Path, **extra: str) -> dict[str, str]:
    return {"SECOND_LOCAL_STATE_DIR": str(state_dir), **extra}


@pytest.mark.parametrize("variable", UNSAFE_VARIABLES[-4:])
def test_local_refuses_test_variable(tmp_path, variable):
    value = "a.test:443=127.0.0.1:1" if variable == "SECOND_EGRESS_RESOLVE" else "x"
    environment = local_environment(tmp_path / "state", **{variable: value})
    result = manage_check(environment, tmp_path)
    assert result.returncode != 0
    assert problem_lines(result.stderr, variable) != []


def test_local_default_starts(tmp_path):
    result = manage_check(local_environment(tmp_path / "state"), tmp_path)
    assert result.returncode == 0, result.stderr


STATE_FILES = ["django_secret_key", "internal_api_token", "encryption_key"]


@pytest.fixture
def started_twice(tmp_path):
    """Run `check` twice on one state folder. Return the folder and the contents
    of its files after each run."""
    state = tmp_path / "state"
    contents = []
    for _ in range(2):
        result = manage_check(local_environment(state), tmp_path)
        assert result.returncode == 0, result.stderr
        contents.append({name: (state / name).read_text() for name in STATE_FILES})
    return state, contents


def test_local_state_dir_0700(started_twice):
    state, _ = started_twice
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


@pytest.mark.parametrize("name", STATE_FILES)
def test_local_state_file_private(started_twice, name):
    state, _ = started_twice
    assert stat.S_IMODE((state / name).stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize("name", STATE_FILES)
def test_local_state_file_filled(started_twice, name):
    _, contents = started_twice
    assert len(contents[0][name].strip()) >= 32


@pytest.mark.parametrize("name", STATE_FILES)
def test_local_state_kept(started_twice, name):
    _, contents = started_twice
    assert contents[1][name] == contents[0][name]


def test_local_state_no_leftovers(started_twice):
    state, _ = started_twice
    assert sorted(path.name for path in state.iterdir()) == sorted(STATE_FILES)


def test_local_state_dir_tightened(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    manage_check(local_environment(state), tmp_path)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_local_existing_key_kept(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    key = "ffeeddccbbaa99887766554433221100" * 2
    (state / "encryption_key").write_text(key)
    manage_check(local_environment(state), tmp_path)
    assert (state / "encryption_key").read_text() == key


def test_local_environment_key_wins(tmp_path):
    """A key set in the environment is used, so no key file is generated."""
    state = tmp_path / "state"
    key = "0f" * 32
    environment = local_environment(state, SECOND_TOKEN_ENCRYPTION_KEY=key)
    manage_check(environment, tmp_path)
    assert not (state / "encryption_key").exists()


OIDC_VARIABLES = [
    "OIDC_OP_ISSUER",
    "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "OIDC_OP_TOKEN_ENDPOINT",
    "OIDC_OP_USER_ENDPOINT",
    "OIDC_OP_JWKS_ENDPOINT",
    "OIDC_RP_CLIENT_ID",
    "OIDC_RP_CLIENT_SECRET",
]


@pytest.fixture(scope="module")
def external_without_oidc(tmp_path_factory):
    home = tmp_path_factory.mktemp("external")
    environment = local_environment(home / "state", SECOND_AUTH_MODE="external")
    return manage_check(environment, home)


def test_external_without_oidc_refused(external_without_oidc):
    assert external_without_oidc.returncode != 0


@pytest.mark.parametrize("variable", OIDC_VARIABLES)
def test_external_names_each_variable(external_without_oidc, variable):
    assert len(problem_lines(external_without_oidc.stderr, variable)) == 1
