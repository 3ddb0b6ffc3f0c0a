"""Pytest fixtures for code that sends requests through the egress client.

`upstream` starts a loopback HTTPS server for api.allowed.example and slack.com
and points SECOND_EGRESS_RESOLVE and SECOND_EGRESS_EXTRA_CA at it. Its `env`
contains the same settings as environment variables, for a Celery worker started
as a subprocess, together with SECOND_EGRESS_DIAL_LOG, the file in which that
worker records its dials.
"""

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.execution.egress import testing
from tests.support.tls import TestCA, make_test_ca
from tests.support.upstream import (
    DEFAULT_NAMES,
    LOOPBACK,
    RecordedRequest,
    UpstreamServer,
)


@dataclass
class UpstreamFixture:
    """A started upstream server and the settings that route its names to it."""

    server: UpstreamServer
    dial_log: Path
    env: dict[str, str]

    def url(self, path: str = "/", host: str | None = None) -> str:
        """Return https://HOST/PATH, which the egress client dials at this server."""
        return self.server.url(path, host)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.requests

    def logged_dials(self) -> list[testing.Dial]:
        """Return the dials every process recorded in the dial log file."""
        return testing.read_dial_log(self.dial_log)


def assert_no_dials(dial_log: Path | str | None = None) -> None:
    """Fail if this process, or any process writing `dial_log`, dialled anything."""
    dials = testing.dial_recorder.dials
    assert dials == [], f"expected no dials, got {dials}"
    if dial_log is not None:
        logged = testing.read_dial_log(dial_log)
        assert logged == [], f"expected no dials in {dial_log}, got {logged}"


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A test CA for the whole session; its PEM file is `tls_ca.pem_path`."""
    return make_test_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture(autouse=True)
def _reset_egress_test_hooks() -> Iterator[None]:
    testing.test_resolver.reset()
    testing.dial_recorder.reset()
    yield
    testing.test_resolver.reset()
    testing.dial_recorder.reset()


@pytest.fixture
def test_resolver() -> testing.TestResolver:
    """The programmable resolver used for names outside SECOND_EGRESS_RESOLVE."""
    return testing.test_resolver


@pytest.fixture
def dial_recorder() -> testing.DialRecorder:
    """The in-process record of dial attempts; read `.dials`."""
    return testing.dial_recorder


@pytest.fixture
def make_upstream(
    tls_ca: TestCA, settings, tmp_path: Path
) -> Iterator[Callable[..., UpstreamFixture]]:
    """Return a factory that starts an upstream server for the given names."""
    started: list[UpstreamServer] = []
    dial_log = tmp_path / "egress-dials.jsonl"

    def start(
        names: tuple[str, ...] = DEFAULT_NAMES, **options: object
    ) -> UpstreamFixture:
        server = UpstreamServer(names=names, tls_ca=tls_ca, **options).start()
        started.append(server)
        mapping = dict(settings.SECOND_EGRESS_RESOLVE)
        mapping.update({name: (LOOPBACK, server.port) for name in names})
        settings.SECOND_EGRESS_RESOLVE = mapping
        settings.SECOND_EGRESS_EXTRA_CA = str(tls_ca.pem_path)
        settings.SECOND_EGRESS_DIAL_LOG = str(dial_log)
        env = {
            "SECOND_EGRESS_RESOLVE": ",".join(
                f"{name}:443={address}:{port}"
                for name, (address, port) in mapping.items()
            ),
            "SECOND_EGRESS_EXTRA_CA": str(tls_ca.pem_path),
            "SECOND_EGRESS_DIAL_LOG": str(dial_log),
        }
        return UpstreamFixture(server=server, dial_log=dial_log, env=env)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def upstream(make_upstream: Callable[..., UpstreamFixture]) -> UpstreamFixture:
    """An HTTPS upstream for api.allowed.example and slack.com, wired into settings."""
    return make_upstream()


@pytest.fixture
def plain_upstream() -> Iterator[UpstreamServer]:
    """A plain-HTTP upstream on 127.0.0.1, for local-mode loopback tests."""
    with UpstreamServer(tls_ca=None) as server:
        yield server


@pytest.fixture
def block_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make socket.getaddrinfo fail for anything but an IP literal.

    Tests must reach names through SECOND_EGRESS_RESOLVE or the test resolver;
    this turns a lookup that slipped through into a failure, not a DNS query.
    """
    real_getaddrinfo = socket.getaddrinfo

    def numeric_only(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        text = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise AssertionError(f"real DNS lookup of {text!r} in a test") from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
