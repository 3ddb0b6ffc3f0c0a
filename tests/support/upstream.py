"""Loopback stand-ins for upstream APIs, for egress and end-to-end tests.

`UpstreamServer` is a threaded HTTPS (or plain HTTP) server on 127.0.0.1 that
records every request and serves fixed routes. Hostile routes include a
redirect, an oversized body, a compression bomb, slow drips of the body or the
headers, and a hang.
`TcpRecorder` accepts TCP connections, records them and never responds. Every
loop is bounded and ends when the server stops.
"""

import gzip
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.tls import TestCA

LOOPBACK = "127.0.0.1"
DEFAULT_NAMES = ("api.allowed.example", "slack.com")
LARGE_BODY_BYTES = 5 * 1024 * 1024
GZIP_BOMB_BYTES = 64 * 1024 * 1024
MAX_REQUEST_BODY_BYTES = 8 * 1024 * 1024
# Upper bound for drips and hangs, so a test that never stops its server cannot
# keep a thread alive for long.
MAX_STALL_SECONDS = 30.0
SOCKET_TIMEOUT_SECONDS = 10.0
DEFAULT_REDIRECT_LOCATION = "http://169.254.169.254/latest/meta-data/"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it. Header names are lower case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


Route = Callable[["_Handler", RecordedRequest], None]


@dataclass
class _State:
    names: tuple[str, ...]
    drip_interval: float
    redirect_location: str
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)


class UpstreamServer:
    """A threaded HTTPS server on 127.0.0.1 with a certificate for `names`.

    With `tls_ca=None` it serves plain HTTP, for local-mode loopback tests. Use
    it as a context manager, or call `start` and `stop`.
    """

    def __init__(
        self,
        *,
        names: tuple[str, ...] = DEFAULT_NAMES,
        tls_ca: TestCA | None = None,
        drip_interval: float = 1.0,
        redirect_location: str = DEFAULT_REDIRECT_LOCATION,
    ) -> None:
        self.scheme = "https" if tls_ca is not None else "http"
        self._state = _State(tuple(names), drip_interval, redirect_location)
        self._state.routes.update(_default_routes())
        context = tls_ca.server_context(*names, LOOPBACK) if tls_ca else None
        self._httpd = _Server((LOOPBACK, 0), _Handler, self._state, context)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def names(self) -> tuple[str, ...]:
        return self._state.names

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every recorded request, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    def url(self, path: str = "/", host: str | None = None) -> str:
        """Return https://HOST/PATH, which SECOND_EGRESS_RESOLVE maps to this server."""
        return f"https://{host or self.names[0]}{path}"

    def direct_url(self, path: str = "/") -> str:
        """Return a URL on 127.0.0.1 and this server's port."""
        return f"{self.scheme}://{LOOPBACK}:{self.port}{path}"

    def set_json(
        self,
        path: str,
        payload: object,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve `payload` as JSON with `status` at `path`, for every method."""

        def route(handler: "_Handler", _request: RecordedRequest) -> None:
            handler.send_body(status, json.dumps(payload).encode(), headers=headers)

        self.set_route(path, route)

    def set_route(self, path: str, route: Route) -> None:
        """Serve `path` with `route(handler, request)`."""
        with self._state.lock:
            self._state.routes[path] = route

    def set_redirect_location(self, location: str) -> None:
        self._state.redirect_location = location

    def start(self) -> "UpstreamServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"upstream-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "UpstreamServer":
        return self.start()

    def __exit__(self, *_exc_info: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        state: _State,
        context: ssl.SSLContext | None,
    ) -> None:
        self.state = state
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        # The TLS handshake runs in the connection's own thread, so a client that
        # stalls it cannot block the accept loop.
        if self.context is not None:
            request.settimeout(SOCKET_TIMEOUT_SECONDS)
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        # Clients in these tests drop connections on purpose (deadlines, size
        # limits, rejected certificates), so those errors are expected.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS
    # Headers and body go out in separate writes; with Nagle's algorithm on,
    # each answer waits for the client's delayed ACK, about 40 ms on loopback.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def state(self) -> _State:
        return self.server.state

    def send_body(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response with a Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        request = self._record()
        with self.state.lock:
            route = self.state.routes.get(request.path)
        if route is None:
            self.send_body(404, b'{"error": "not_found"}')
            return
        try:
            route(self, request)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_REQUEST_BODY_BYTES)) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        with self.state.lock:
            self.state.requests.append(request)
        return request


def _default_routes() -> dict[str, Route]:
    return {
        "/json": _json_ok,
        "/echo": _echo,
        "/api/chat.postMessage": _slack_post_message,
        "/redirect": _redirect,
        "/large": _large,
        "/large-chunked": _large_chunked,
        "/gzip-bomb": _gzip_bomb,
        "/drip": _drip,
        "/drip-headers": _drip_headers,
        "/hang": _hang,
    }


def _json_ok(handler: _Handler, _request: RecordedRequest) -> None:
    handler.send_body(200, b'{"ok": true}')


def _echo(handler: _Handler, request: RecordedRequest) -> None:
    payload = {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": request.headers,
        "body": request.body.decode("utf-8", "replace"),
    }
    handler.send_body(200, json.dumps(payload).encode())


def _slack_post_message(handler: _Handler, request: RecordedRequest) -> None:
    # Slack returns 200 for most errors and reports them in the "ok" field.
    authorization = request.headers.get("authorization", "")
    if request.method != "POST" or not authorization.startswith("Bearer xoxb-"):
        handler.send_body(200, b'{"ok": false, "error": "not_authed"}')
        return

    try:
        channel = json.loads(request.body or b"{}").get("channel", "")
    except (ValueError, AttributeError):
        channel = ""
    payload = {"ok": True, "channel": channel, "ts": "1700000000.000100"}
    handler.send_body(200, json.dumps(payload).encode())


def _redirect(handler: _Handler, _request: RecordedRequest) -> None:
    handler.send_body(302, b"", headers={"Location": handler.state.redirect_location})


def _large(handler: _Handler, _request: RecordedRequest) -> None:
    handler.send_body(200, b"x" * LARGE_BODY_BYTES, content_type="text/plain")


def _large_chunked(handler: _Handler, _request: RecordedRequest) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"x" * 65536
    for _ in range(LARGE_BODY_BYTES // len(chunk)):
        if handler.state.stopping.is_set():
            return
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    handler.wfile.write(b"0\r\n\r\n")


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """Return gzip data of 64 MiB of zeros (about 64 KiB compressed)."""
    return gzip.compress(b"\0" * GZIP_BOMB_BYTES, compresslevel=9)


def _gzip_bomb(handler: _Handler, _request: RecordedRequest) -> None:
    handler.send_body(200, gzip_bomb(), headers={"Content-Encoding": "gzip"})


def _drip(handler: _Handler, _request: RecordedRequest) -> None:
    state = handler.state
    total = int(MAX_STALL_SECONDS / state.drip_interval) + 1
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(total))
    handler.end_headers()
    handler.wfile.flush()
    for _ in range(total):
        if state.stopping.wait(state.drip_interval):
            return
        handler.wfile.write(b"x")
        handler.wfile.flush()


def _drip_headers(handler: _Handler, _request: RecordedRequest) -> None:
    # Each byte arrives well within any per-read timeout, so only a deadline on
    # the whole call ends this response.
    state = handler.state
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    handler.wfile.flush()
    for _ in range(int(MAX_STALL_SECONDS / state.drip_interval) + 1):
        if state.stopping.wait(state.drip_interval):
            return
        handler.wfile.write(b"x")
        handler.wfile.flush()
    handler.close_connection = True


def _hang(handler: _Handler, _request: RecordedRequest) -> None:
    handler.state.stopping.wait(MAX_STALL_SECONDS)
    handler.close_connection = True


class TcpRecorder:
    """A TCP listener on 127.0.0.1 that records connections and never responds.

    It stands in for a proxy that must never be used, and for a server that
    accepts TCP but never completes a TLS handshake.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._accepted: list[socket.socket] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def start(self) -> "TcpRecorder":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        with self._lock:
            for connection in self._accepted:
                connection.close()
            self._accepted.clear()
        self._listener.close()

    def __enter__(self) -> "TcpRecorder":
        return self.start()

    def __exit__(self, *_exc_info: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._accepted.append(connection)
                self.connections += 1
