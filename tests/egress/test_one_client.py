"""One outbound client: only apps/execution/egress opens connections.

A static scan fails if any other module of apps/ or config/ imports an HTTP
client library or opens sockets itself. A runtime guard patches
`socket.socket.connect`, rejects every non-loopback address, and records which
module opened each connection. A tool call under the guard may connect only
from the egress package.
"""

import ast
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest

from apps.audit.models import AuditEvent
from tests.execution.conftest import build_app, tool_document
from tests.support.upstream import LOOPBACK, TcpRecorder

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCANNED_PACKAGES = ("apps", "config")

# Modules that may import HTTP clients or open sockets, each with its reason.
ALLOWED_MODULE_PREFIXES = (
    # The one outbound client: its parser, resolver, pinned dialer and client.
    "apps/execution/egress/",
)
# mozilla_django_oidc and workos also import requests and httpx, but they are
# third-party packages outside apps/ and config/, so the scan does not see them.

BANNED_IMPORTS = frozenset(
    {"requests", "httpx", "urllib3", "aiohttp", "http.client", "urllib.request"}
)
BANNED_SOCKET_CALLS = frozenset({"create_connection", "socket"})

# Modules from which a connection may be opened while a test runs.
EGRESS_PACKAGE = "apps.execution.egress"
TEST_SERVER_PACKAGE = "tests.support"


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        # `from http import client` imports http.client too.
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def _is_banned_module(name: str) -> bool:
    return any(
        name == banned or name.startswith(banned + ".") for banned in BANNED_IMPORTS
    )


def _socket_call(node: ast.AST, socket_names: set[str]) -> str | None:
    """Return `socket.X` when `node` calls one of BANNED_SOCKET_CALLS."""
    if not isinstance(node, ast.Call):
        return None
    function = node.func
    if (
        isinstance(function, ast.Attribute)
        and isinstance(function.value, ast.Name)
        and function.value.id == "socket"
        and function.attr in BANNED_SOCKET_CALLS
    ):
        return f"socket.{function.attr}"
    if isinstance(function, ast.Name) and function.id in socket_names:
        return f"socket.{function.id}"
    return None


def _module_problems(path: Path, root: Path = PROJECT_ROOT) -> list[str]:
    relative = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
    problems: list[str] = []
    socket_names: set[str] = set()
    for node in ast.walk(tree):
        for name in _imported_modules(node):
            if _is_banned_module(name):
                problems.append(f"{relative}:{node.lineno} imports {name}")
        if isinstance(node, ast.ImportFrom) and node.module == "socket":
            socket_names |= {
                alias.asname or alias.name
                for alias in node.names
                if alias.name in BANNED_SOCKET_CALLS
            }
    for node in ast.walk(tree):
        call = _socket_call(node, socket_names)
        if call:
            problems.append(f"{relative}:{node.lineno} calls {call}")
    return problems


def _scanned_files() -> list[Path]:
    files: list[Path] = []
    for package in SCANNED_PACKAGES:
        files.extend(sorted((PROJECT_ROOT / package).rglob("*.py")))
    return files


def _is_allowed(path: Path) -> bool:
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    return relative.startswith(ALLOWED_MODULE_PREFIXES)


def test_no_module_outside_egress_opens_connections():
    problems = []
    for path in _scanned_files():
        if not _is_allowed(path):
            problems.extend(_module_problems(path))

    assert problems == [], "\n".join(problems)


def test_scan_sees_the_egress_client():
    # A scan that found nothing anywhere would pass vacuously.
    egress = PROJECT_ROOT / "apps" / "execution" / "egress"
    found = [
        problem for path in egress.glob("*.py") for problem in _module_problems(path)
    ]

    assert any("imports urllib3" in problem for problem in found)


@pytest.mark.parametrize(
    "source",
    [
        "import requests",
        "import http.client as hc",
        "from http import client",
        "from urllib import request",
        "from urllib.request import urlopen",
        "import httpx.transports",
        "import socket\nsocket.create_connection(('a', 1))",
        "import socket\nsocket.socket()",
        "from socket import create_connection as cc\ncc(('a', 1))",
    ],
)
def test_scan_flags_each_banned_form(source, tmp_path):
    probe = tmp_path / "apps" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(source + "\n")

    assert _module_problems(probe, root=tmp_path), f"not flagged: {source!r}"


@dataclass
class ConnectGuard:
    """Records each socket connect with the modules on the stack that opened it."""

    connections: list[tuple[object, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def check(self, address: object, caller: FrameType | None) -> None:
        """Record a connect to `address` made from frame `caller`, or reject it."""
        modules = _calling_modules(caller)
        origin = _origin(modules)
        self.connections.append((address, origin))
        if not _is_loopback(address):
            self.violations.append(f"non-loopback connect to {address!r} from {origin}")
            raise ConnectionRefusedError(f"test guard: {address!r} is not loopback")
        if not origin.startswith((EGRESS_PACKAGE, TEST_SERVER_PACKAGE)):
            self.violations.append(f"connect to {address!r} from {origin}")


def _calling_modules(frame: FrameType | None) -> list[str]:
    modules = []
    while frame is not None:
        modules.append(frame.f_globals.get("__name__", "?"))
        frame = frame.f_back
    return modules


def _origin(modules: list[str]) -> str:
    """Return the innermost project module on the stack, or the innermost module."""
    for name in modules:
        if name.startswith((EGRESS_PACKAGE, TEST_SERVER_PACKAGE)):
            return name
        if name.startswith(("apps.", "config.", "tests.")):
            return name
    return modules[0] if modules else "?"


def _is_loopback(address: object) -> bool:
    if isinstance(address, str | bytes):
        return True  # A Unix socket path never leaves the machine.
    host = str(address[0])  # type: ignore[index]
    return host.startswith("127.") or host == "::1"


@pytest.fixture
def connect_guard(monkeypatch):
    guard = ConnectGuard()
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        # The stack starts at the caller of connect, not at this wrapper.
        guard.check(address, sys._getframe(1))
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield guard
    assert guard.violations == [], "\n".join(guard.violations)


def test_guard_flags_connection_from_other_module(connect_guard, upstream):
    probe = socket.socket()
    try:
        probe.connect((LOOPBACK, upstream.server.port))
    finally:
        probe.close()

    assert connect_guard.violations == [
        f"connect to {(LOOPBACK, upstream.server.port)!r} from {__name__}"
    ]
    connect_guard.violations.clear()


def test_guard_refuses_non_loopback(connect_guard):
    probe = socket.socket()
    try:
        with pytest.raises(ConnectionRefusedError):
            probe.connect(("192.0.2.1", 443))
    finally:
        probe.close()

    assert len(connect_guard.violations) == 1
    connect_guard.violations.clear()


DOMAIN = "api.allowed.example"


@pytest.fixture
def tool(world):
    document = tool_document(url=f"https://{DOMAIN}/echo", domain=DOMAIN)
    return build_app(world, document)


@pytest.mark.django_db(transaction=True)
def test_tool_call_connects_only_through_egress(connect_guard, tool, upstream):
    answer = tool.call()

    assert answer.status_code == 200, answer.content
    assert AuditEvent.objects.filter(event_name="tool.custom.executed").count() == 1
    origins = {origin for _address, origin in connect_guard.connections}
    assert origins and all(origin.startswith(EGRESS_PACKAGE) for origin in origins)
    addresses = {address for address, _origin in connect_guard.connections}
    assert addresses == {(LOOPBACK, upstream.server.port)}


@pytest.mark.django_db(transaction=True)
def test_proxy_variables_and_netrc_ignored(
    connect_guard, tool, upstream, monkeypatch, tmp_path
):
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine {DOMAIN} login user password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    with TcpRecorder() as proxy:
        proxy_url = f"http://{LOOPBACK}:{proxy.port}"
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy_url)
        monkeypatch.setenv("ALL_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "")

        answer = tool.call()
        proxy_connections = proxy.connections

    assert answer.status_code == 200, answer.content
    assert proxy_connections == 0
    assert "authorization" not in upstream.requests[0].headers
    addresses = {address for address, _origin in connect_guard.connections}
    assert addresses == {(LOOPBACK, upstream.server.port)}
