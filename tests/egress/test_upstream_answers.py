"""Hostile upstream responses: redirects, endless or inflated bodies, stalls, bad TLS.

Each case runs against a loopback server that the test starts, and checks the
code, the coarse reason and how far the client went. Timeout cases use a 2 s
deadline and assert the phase only, never the wall-clock time. A hang guard
fails a case that does not end at all.
"""

import datetime
import gzip
import json
import ssl
import threading
import tracemalloc
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.execution.egress import (
    EgressError,
    EgressPolicy,
    OutboundRequest,
    dialer,
    send,
)
from tests.support.upstream import (
    LOOPBACK,
    MAX_STALL_SECONDS,
    TcpRecorder,
    UpstreamServer,
    gzip_bomb,
)

TOOL = EgressPolicy(allowed_domain="api.allowed.example")
HANG_GUARD_SECONDS = 20
MEMORY_BOUND_BYTES = 8 * 1024 * 1024


def get(url: str) -> OutboundRequest:
    return OutboundRequest("GET", url, headers={})


def refused(request: OutboundRequest, policy: EgressPolicy = TOOL) -> EgressError:
    """Send `request` in a thread and return its EgressError, or fail.

    The thread is a hang guard: a call that does not end within
    HANG_GUARD_SECONDS fails the test instead of blocking the run.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["response"] = send(request, policy=policy)
        except EgressError as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_SECONDS)
    assert not thread.is_alive(), "the egress call did not end"
    assert "error" in outcome, f"expected a refusal, got {outcome}"
    return outcome["error"]  # type: ignore[return-value]


@pytest.fixture
def short_deadline(settings):
    settings.SECOND_EGRESS_DEADLINE_SECONDS = 2


class TestRedirects:
    @pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
    def test_redirect_to_allowed_host_not_followed(
        self, status, make_upstream, dial_recorder
    ):
        server = make_upstream(names=("api.allowed.example", "eu.api.allowed.example"))

        def redirect(handler, _request):
            location = "https://eu.api.allowed.example/json"
            handler.send_body(status, b"", headers={"Location": location})

        server.server.set_route("/moved", redirect)

        error = refused(get(server.url("/moved")))

        assert error.code == "provider_redirect"
        assert error.public_reason == "redirect"
        assert error.redirect_host == "eu.api.allowed.example"
        assert [dial.host for dial in dial_recorder.dials] == ["api.allowed.example"]
        assert [request.path for request in server.requests] == ["/moved"]

    def test_downgrade_redirect_not_followed(self, upstream, dial_recorder):
        upstream.server.set_redirect_location("http://api.allowed.example/json")

        error = refused(get(upstream.url("/redirect")))

        assert error.code == "provider_redirect"
        assert len(dial_recorder.dials) == 1

    def test_compressed_redirect_body_not_inflated(self, upstream, dial_recorder):
        def bomb_redirect(handler, _request):
            headers = {"Location": "https://evil.example/", "Content-Encoding": "gzip"}
            handler.send_body(302, gzip_bomb(), headers=headers)

        upstream.server.set_route("/bomb-redirect", bomb_redirect)
        gzip_bomb()  # Built before tracing, so only the client's memory counts.
        tracemalloc.start()
        try:
            error = refused(get(upstream.url("/bomb-redirect")))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert error.code == "provider_redirect"
        assert error.redirect_host == "evil.example"
        assert peak < MEMORY_BOUND_BYTES
        assert len(dial_recorder.dials) == 1


def _endless_chunked(handler, _request):
    # Bounded by the stop event and by 64 MiB, so the loop always ends.
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"y" * 65536
    for _ in range(1024):
        if handler.state.stopping.is_set():
            return
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def _huge_declared_length(handler, _request):
    # Declares 10 GiB and then sends nothing: a client that waited for the body
    # would hit the deadline instead of the size limit.
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(10 * 1024**3))
    handler.end_headers()
    handler.wfile.flush()
    handler.state.stopping.wait(MAX_STALL_SECONDS)
    handler.close_connection = True


def _double_gzip(payload: bytes):
    body = gzip.compress(gzip.compress(payload))

    def route(handler, _request):
        handler.send_body(200, body, headers={"Content-Encoding": "gzip, gzip"})

    return route


class TestBodyLimits:
    def test_endless_chunked_body_cut(self, upstream, short_deadline):
        upstream.server.set_route("/endless", _endless_chunked)

        error = refused(get(upstream.url("/endless")))

        assert error.code == "response_too_large"
        assert error.public_reason == "size"

    def test_declared_length_over_cap_cut_before_body(self, upstream, short_deadline):
        upstream.server.set_route("/huge", _huge_declared_length)

        error = refused(get(upstream.url("/huge")))

        assert error.code == "response_too_large"
        assert error.public_reason == "size"

    def test_stacked_gzip_bomb_cut(self, upstream):
        upstream.server.set_route("/double-bomb", _double_gzip(b"\0" * 64 * 1024**2))
        tracemalloc.start()
        try:
            error = refused(get(upstream.url("/double-bomb")))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert error.code == "response_too_large"
        assert error.public_reason == "size"
        assert peak < MEMORY_BOUND_BYTES

    def test_stacked_gzip_small_body_decoded(self, upstream):
        payload = json.dumps({"ok": True}).encode()
        upstream.server.set_route("/double", _double_gzip(payload))

        response = send(get(upstream.url("/double")), policy=TOOL)

        assert response.body == payload

    def test_gzip_bomb_reason_is_size(self, upstream):
        error = refused(get(upstream.url("/gzip-bomb")))

        assert error.code == "response_too_large"
        assert error.public_reason == "size"

    def test_long_encoding_chain_reason_is_size(self, upstream):
        def stacked(handler, _request):
            encoding = ", ".join(["gzip"] * 100)
            handler.send_body(200, b"\x1f\x8b", headers={"Content-Encoding": encoding})

        upstream.server.set_route("/stacked-100", stacked)

        error = refused(get(upstream.url("/stacked-100")))

        assert error.public_reason == "size"


class TestTimeoutPhases:
    def test_dns_phase(self, test_resolver, short_deadline):
        test_resolver.set_answers("api.allowed.example", ["93.184.215.14"])
        test_resolver.set_delay("api.allowed.example", 5)

        error = refused(get("https://api.allowed.example/"))

        assert error.code == "egress_timeout"
        assert error.public_reason == "timeout:dns"

    def test_connect_phase(self, upstream, short_deadline, monkeypatch):
        # A dial to an address that never completes the TCP handshake. The stand-in
        # for urllib3's connect waits out its timeout and connects nowhere.
        released = threading.Event()

        def never_connects(address, timeout=None, *args, **kwargs):
            released.wait(min(timeout or 1, MAX_STALL_SECONDS))
            raise TimeoutError("timed out")

        monkeypatch.setattr("urllib3.util.connection.create_connection", never_connects)
        try:
            error = refused(get(upstream.url("/json")))
        finally:
            released.set()

        assert error.code == "egress_timeout"
        assert error.public_reason == "timeout:connect"
        assert upstream.requests == []

    def test_tls_phase(self, settings, short_deadline):
        with TcpRecorder() as stall:
            settings.SECOND_EGRESS_RESOLVE = {
                "api.allowed.example": (LOOPBACK, stall.port)
            }
            error = refused(get("https://api.allowed.example/"))
            connections = stall.connections

        assert error.code == "egress_timeout"
        assert error.public_reason == "timeout:tls"
        assert connections == 1

    def test_headers_phase_one_byte_a_second(self, make_upstream, short_deadline):
        server = make_upstream(drip_interval=1.0)

        error = refused(get(server.url("/drip-headers")))

        assert error.code == "egress_timeout"
        assert error.public_reason == "timeout:headers"

    def test_headers_phase_no_status_line(self, upstream, short_deadline):
        error = refused(get(upstream.url("/hang")))

        assert error.code == "egress_timeout"
        assert error.public_reason == "timeout:headers"

    def test_body_phase_slow_drip(self, make_upstream, short_deadline):
        server = make_upstream(drip_interval=0.5)

        error = refused(get(server.url("/drip")))

        assert error.code == "egress_timeout"
        assert error.public_reason == "timeout:body"


def _self_signed_context(host: str, directory: Path) -> ssl.SSLContext:
    """Return a server context with a self-signed certificate for `host`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "self-signed.pem"
    key_path = directory / "self-signed.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


class _SelfSignedServer(UpstreamServer):
    def __init__(self, directory: Path) -> None:
        super().__init__(tls_ca=None)
        self.scheme = "https"
        self._httpd.context = _self_signed_context("api.allowed.example", directory)


@pytest.fixture
def self_signed(upstream, settings, tmp_path):
    """A server with a self-signed certificate for api.allowed.example.

    The session's test CA stays trusted, so only this certificate is untrusted.
    """
    dialer._ssl_context.cache_clear()
    server = _SelfSignedServer(tmp_path).start()
    settings.SECOND_EGRESS_RESOLVE = {"api.allowed.example": (LOOPBACK, server.port)}
    yield server
    server.stop()
    dialer._ssl_context.cache_clear()


class TestTlsVerification:
    def test_self_signed_certificate_refused(self, self_signed):
        error = refused(get("https://api.allowed.example/json"))

        assert error.code == "tls_failed"
        assert error.public_reason == "tls"
        assert self_signed.requests == []

    @pytest.mark.parametrize(
        "name",
        [
            "SECOND_EGRESS_VERIFY",
            "SECOND_EGRESS_TLS_VERIFY",
            "SECOND_EGRESS_SSL_VERIFY",
            "SECOND_EGRESS_VERIFY_TLS",
        ],
    )
    def test_no_setting_turns_verification_off(self, self_signed, settings, name):
        setattr(settings, name, False)
        settings.SECOND_EGRESS_INSECURE = True

        error = refused(get("https://api.allowed.example/json"))

        assert error.code == "tls_failed"
        assert self_signed.requests == []

    def test_ca_environment_variables_ignored(self, self_signed, monkeypatch):
        for variable in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
            monkeypatch.setenv(variable, "")
        monkeypatch.setenv("PYTHONHTTPSVERIFY", "0")

        error = refused(get("https://api.allowed.example/json"))

        assert error.code == "tls_failed"

    def test_context_requires_verified_tls_1_2(self):
        context = dialer._ssl_context("")

        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
        assert context.hostname_checks_common_name is False

    def test_source_has_no_switch_to_disable_verification(self):
        apps = Path(__file__).resolve().parents[2] / "apps"
        forbidden = ("CERT_NONE", "verify=False", "_create_unverified_context")
        for path in apps.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for word in forbidden:
                assert word not in text, f"{path} contains {word}"
