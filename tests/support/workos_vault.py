"""A loopback stand-in for the WorkOS Vault key-value API, and its pytest fixtures.

`VaultStandIn` serves the KV routes the adapter uses on 127.0.0.1 and builds
every response body from the SDK's own models, so a field the SDK cannot parse fails
here as it would against WorkOS. It checks the Bearer API key, records each
request's method, path, query and sorted body keys (never body values), and has
fault switches: `fail_with(status)`, `stall()` and `stop()`.

Values are kept in memory, as a real vault keeps them. Tests may look at
`objects`, which is no surface the product exposes.
"""

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from workos import WorkOSError
from workos.common.models.actor import Actor
from workos.vault.models import (
    CreateObjectRequest,
    DeleteObjectResponse,
    ObjectMetadata,
    ObjectWithoutValue,
    UpdateObjectRequest,
    VaultObject,
)

LOOPBACK = "127.0.0.1"
API_KEY = "sk_test_vault_standin"
ENVIRONMENT_ID = "environment_standin"
# Longer than the adapter's 5 s client timeout, so a stalled response times out.
STALL_SECONDS = 6.0
MAX_BODY_BYTES = 1024 * 1024
SOCKET_TIMEOUT_SECONDS = 10.0
# The text of every error body, which the adapter must never repeat.
ERROR_MESSAGE = "stand-in vault error message"


@dataclass(frozen=True)
class VaultRequest:
    """One request as the stand-in received it, with its body keys sorted."""

    method: str
    path: str
    query: dict[str, list[str]]
    body_keys: tuple[str, ...]
    authorization: str


@dataclass
class StoredObject:
    """One key-value object: its value, key context and current version id."""

    id: str
    name: str
    value: str
    context: dict[str, str]
    version_id: str
    updated_at: datetime

    def metadata(self) -> ObjectMetadata:
        return ObjectMetadata(
            context=dict(self.context),
            environment_id=ENVIRONMENT_ID,
            id=self.id,
            key_id=f"key_{self.context.get('workspace_id', 'default')}",
            updated_at=self.updated_at,
            updated_by=Actor(id="api_key_standin", name="stand-in API key"),
            version_id=self.version_id,
        )


@dataclass
class _State:
    api_key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: dict[str, StoredObject] = field(default_factory=dict)
    requests: list[VaultRequest] = field(default_factory=list)
    failure_status: int | None = None
    redirect_location: str | None = None
    stalling: bool = False
    released: threading.Event = field(default_factory=threading.Event)


class _Response(Exception):
    """A response to send: status and JSON body. Raised to stop handling early."""

    def __init__(
        self, status: int, body: dict | None, *, location: str | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.location = location


def _error_response(status: int, code: str) -> _Response:
    # `_raise_error` in the SDK reads `message` and `code` from a JSON body.
    return _Response(status, {"code": code, "message": ERROR_MESSAGE})


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _now() -> datetime:
    return datetime.now(UTC)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        self.state = state
        super().__init__((LOOPBACK, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0 closes each connection after its response, so after `stop()` no
    # kept-alive connection can still reach a handler.
    protocol_version = "HTTP/1.0"
    timeout = SOCKET_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args) -> None:
        """Keep the request log out of test output."""

    def _handle(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        body = self._read_json()
        request = VaultRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            body_keys=tuple(sorted(body)) if isinstance(body, dict) else (),
            authorization=self.headers.get("Authorization", ""),
        )
        with state.lock:
            state.requests.append(request)

        if state.stalling:
            state.released.wait(STALL_SECONDS)
        try:
            response = self._respond(request, body)
        except _Response as raised:
            response = raised
        self._send(response)

    def _read_json(self):
        """Return the parsed JSON body, or None when it is missing or invalid."""
        length_header = self.headers.get("Content-Length") or "0"
        length = int(length_header) if length_header.isdigit() else 0
        if length <= 0 or length > MAX_BODY_BYTES:
            return None
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            return None

    def _respond(self, request: VaultRequest, body) -> _Response:
        state = self.server.state
        if request.authorization != f"Bearer {state.api_key}":
            raise _error_response(401, "unauthorized")
        if state.failure_status is not None:
            raise _error_response(state.failure_status, "stand_in_failure")
        if state.redirect_location is not None:
            raise _Response(307, None, location=state.redirect_location)

        segments = [unquote(part) for part in request.path.split("/") if part]
        if segments[:3] != ["vault", "v1", "kv"]:
            raise _error_response(404, "route_not_found")
        return _route(state, request, segments[3:], body)

    def _send(self, response: _Response) -> None:
        body = response.body
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(response.status)
            if response.location is not None:
                self.send_header("Location", response.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Request-ID", _new_id("req"))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            # The client gave up first, as it does on a stalled response.
            pass


def _route(state: _State, request: VaultRequest, rest: list[str], body) -> _Response:
    method = request.method
    if method == "POST" and rest == []:
        return _create(state, body)
    if method == "GET" and len(rest) == 2 and rest[0] == "name":
        return _read(state, _find_by_name(state, rest[1]))
    if method == "GET" and len(rest) == 1:
        return _read(state, _find_by_id(state, rest[0]))
    if method == "GET" and len(rest) == 2 and rest[1] == "metadata":
        return _describe(state, _find_by_id(state, rest[0]))
    if method == "PUT" and len(rest) == 1:
        return _update(state, _find_by_id(state, rest[0]), body)
    if method == "DELETE" and len(rest) == 1:
        return _delete(state, _find_by_id(state, rest[0]), request.query)
    raise _error_response(404, "route_not_found")


def _parse(model, body):
    if not isinstance(body, dict):
        raise _error_response(400, "invalid_json")
    try:
        return model.from_dict(body)
    except WorkOSError:
        raise _error_response(422, "invalid_request") from None


def _find_by_id(state: _State, object_id: str) -> StoredObject:
    with state.lock:
        found = state.objects.get(object_id)
    if found is None:
        raise _error_response(404, "entity_not_found")
    return found


def _find_by_name(state: _State, name: str) -> StoredObject:
    with state.lock:
        found = next((o for o in state.objects.values() if o.name == name), None)
    if found is None:
        raise _error_response(404, "entity_not_found")
    return found


def _create(state: _State, body) -> _Response:
    parsed = _parse(CreateObjectRequest, body)
    created = StoredObject(
        id=_new_id("secret"),
        name=parsed.name,
        value=parsed.value,
        context=dict(parsed.key_context),
        version_id=_new_id("version"),
        updated_at=_now(),
    )
    with state.lock:
        if any(o.name == parsed.name for o in state.objects.values()):
            raise _error_response(409, "name_conflict")
        state.objects[created.id] = created
    return _Response(201, created.metadata().to_dict())


def _read(state: _State, found: StoredObject) -> _Response:
    with state.lock:
        model = VaultObject(
            id=found.id, metadata=found.metadata(), name=found.name, value=found.value
        )
    return _Response(200, model.to_dict())


def _describe(state: _State, found: StoredObject) -> _Response:
    with state.lock:
        model = ObjectWithoutValue(
            id=found.id, metadata=found.metadata(), name=found.name
        )
    return _Response(200, model.to_dict())


def _update(state: _State, found: StoredObject, body) -> _Response:
    parsed = _parse(UpdateObjectRequest, body)
    with state.lock:
        if found.id not in state.objects:
            raise _error_response(404, "entity_not_found")
        if parsed.version_check not in (None, found.version_id):
            raise _error_response(409, "version_check_failed")
        found.value = parsed.value
        found.version_id = _new_id("version")
        found.updated_at = _now()
    return _describe(state, found)


def _delete(state: _State, found: StoredObject, query: dict) -> _Response:
    expected = query.get("version_check", [None])[0]
    with state.lock:
        if expected is not None and expected != found.version_id:
            raise _error_response(409, "version_check_failed")
        state.objects.pop(found.id, None)
    return _Response(200, DeleteObjectResponse(name=found.name, success=True).to_dict())


class VaultStandIn:
    """The Vault KV API on 127.0.0.1 and a free port, served by a daemon thread."""

    error_message = ERROR_MESSAGE

    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self._state = _State(api_key=api_key)
        self._httpd = _Server(self._state)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def requests(self) -> list[VaultRequest]:
        """A copy of every recorded request, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def objects(self) -> dict[str, StoredObject]:
        """A copy of the stored objects by id."""
        with self._state.lock:
            return dict(self._state.objects)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    def fail_with(self, status: int | None) -> None:
        """Respond to later requests with `status` and an error body, until None."""
        self._state.failure_status = status

    def redirect_to(self, location: str | None) -> None:
        """Respond to later requests with a 307 to `location`, until None."""
        self._state.redirect_location = location

    def stall(self) -> None:
        """Hold every later response for STALL_SECONDS, or until the server stops."""
        self._state.stalling = True

    def start(self) -> "VaultStandIn":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"vault-standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled responses and close the port, so connections are refused."""
        self._state.released.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()


@pytest.fixture
def make_vault_server() -> Iterator[Callable[[], VaultStandIn]]:
    """Return a function that starts a Vault stand-in, stopped after the test."""
    started: list[VaultStandIn] = []

    def start() -> VaultStandIn:
        server = VaultStandIn().start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def vault_server(make_vault_server) -> VaultStandIn:
    """A started Vault stand-in, stopped after the test."""
    return make_vault_server()


@pytest.fixture
def vault_settings(settings, vault_server: VaultStandIn) -> Iterator[VaultStandIn]:
    """Point WORKOS_API_KEY and WORKOS_BASE_URL at the stand-in, with fresh clients."""
    from apps.secret_store.vault import client_cache_clear

    settings.WORKOS_API_KEY = vault_server.api_key
    settings.WORKOS_BASE_URL = vault_server.url
    client_cache_clear()
    yield vault_server
    client_cache_clear()
