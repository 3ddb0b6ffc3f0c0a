"""End-to-end tests of the egress client against loopback upstream servers."""

import json
import socket
import threading
import tracemalloc

import pytest
import urllib3

from apps.execution.egress import (
    EgressError,
    EgressPolicy,
    OutboundRequest,
    check_destination,
    send,
)
from apps.execution.egress.deadline import Deadline
from apps.execution.egress.testing import Dial
from tests.support.egress_fixtures import assert_no_dials
from tests.support.upstream import LOOPBACK, TcpRecorder, gzip_bomb

TOOL = EgressPolicy(allowed_domain="api.allowed.example", purpose="tool")
SLACK = EgressPolicy(allowed_domain="slack.com", purpose="tool")
ANY_HOST = EgressPolicy(allowed_domain=None, purpose="oidc")


def get(url: str, **headers: str) -> OutboundRequest:
    return OutboundRequest("GET", url, headers=headers)


def refused(
    request: OutboundRequest, policy: EgressPolicy = TOOL, **kwargs
) -> EgressError:
    with pytest.raises(EgressError) as caught:
        send(request, policy=policy, **kwargs)
    return caught.value


class TestAcceptedCalls:
    def test_json_call_returns_response(self, upstream, dial_recorder):
        response = send(get(upstream.url("/json")), policy=TOOL)

        assert response.status == 200
        assert json.loads(response.body) == {"ok": True}
        assert response.host == "api.allowed.example"
        assert response.address == LOOPBACK
        assert response.headers["Content-Type"] == "application/json"
        assert dial_recorder.dials == [
            Dial("api.allowed.example", LOOPBACK, upstream.server.port, "https")
        ]

    def test_host_header_is_validated_host(self, upstream):
        send(get(upstream.url("/echo?x=1")), policy=TOOL)

        (request,) = upstream.requests
        assert request.headers["host"] == "api.allowed.example"
        assert request.path == "/echo"
        assert request.query == "x=1"

    def test_slack_post_with_bot_token(self, upstream):
        body = json.dumps({"channel": "C123", "text": "hi"}).encode()
        request = OutboundRequest(
            "POST",
            upstream.url("/api/chat.postMessage", host="slack.com"),
            headers={
                "Authorization": "Bearer xoxb-test-token",
                "Content-Type": "application/json",
            },
            body=body,
        )

        response = send(request, policy=SLACK)

        assert json.loads(response.body)["ok"] is True
        assert json.loads(response.body)["channel"] == "C123"
        assert response.request_bytes == len(body)
        assert upstream.requests[0].body == body

    def test_slack_without_token_not_authed(self, upstream):
        request = OutboundRequest(
            "POST", upstream.url("/api/chat.postMessage", host="slack.com"), {}, b"{}"
        )

        response = send(request, policy=SLACK)

        assert json.loads(response.body) == {"ok": False, "error": "not_authed"}

    def test_subdomain_of_allowed_domain(self, make_upstream):
        server = make_upstream(names=("eu.api.allowed.example",))

        response = send(get(server.url("/json")), policy=TOOL)

        assert response.status == 200
        assert response.host == "eu.api.allowed.example"

    def test_upstream_error_status_returned(self, upstream):
        upstream.server.set_json("/missing", {"error": "nope"}, status=404)

        response = send(get(upstream.url("/missing")), policy=TOOL)

        assert response.status == 404

    def test_dial_log_file_records_dials(self, upstream, dial_recorder):
        send(get(upstream.url("/json")), policy=TOOL)

        assert upstream.logged_dials() == dial_recorder.dials
        assert len(upstream.logged_dials()) == 1

    def test_worker_env_matches_settings(self, upstream, tls_ca):
        port = upstream.server.port
        assert (
            f"api.allowed.example:443=127.0.0.1:{port}"
            in (upstream.env["SECOND_EGRESS_RESOLVE"])
        )
        assert upstream.env["SECOND_EGRESS_EXTRA_CA"] == str(tls_ca.pem_path)
        assert upstream.env["SECOND_EGRESS_DIAL_LOG"] == str(upstream.dial_log)


# URLs the guard accepts. For each, the validated host, the host of the URL
# urllib3 receives and the TLS server name must be one and the same.
ACCEPTED_URLS = [
    "https://api.allowed.example/v1/items",
    "HTTPS://api.allowed.example/v1",
    "https://API.Allowed.Example./v1",
    "https://api.allowed.example:443/x",
    "https://api.allowed.example:0443/x",
    "https://api.allowed.example/a%20b?q=%2f&x=1",
    "https://api.allowed.example/ü?q=ä",
    "https://api.allowed.example#frag",
    "https://api.allowed.example?x=1",
    "https://api.allowed.example/p;a=1?f[0]=1",
    "https://eu.api.allowed.example/v1",
    "https://EU.API.allowed.example./v1?cursor=abc%3D%3D",
]


@pytest.fixture
def urlopen_calls(monkeypatch):
    """Record the pool host, server name, target and Host header of each urlopen."""
    calls = []
    real_urlopen = urllib3.HTTPConnectionPool.urlopen

    def recording_urlopen(pool, method, url, *args, **kwargs):
        calls.append(
            {
                "pool_host": pool.host,
                "server_hostname": pool.conn_kw.get("server_hostname"),
                "assert_hostname": getattr(pool, "assert_hostname", None),
                "target": url,
                "host_header": kwargs["headers"]["Host"],
            }
        )
        return real_urlopen(pool, method, url, *args, **kwargs)

    monkeypatch.setattr(urllib3.HTTPConnectionPool, "urlopen", recording_urlopen)
    return calls


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_one_host_from_parse_to_dial(url, make_upstream, dial_recorder, urlopen_calls):
    server = make_upstream(names=("api.allowed.example", "eu.api.allowed.example"))

    destination = check_destination(url, policy=TOOL)
    send(get(url), policy=TOOL)

    host = destination.parsed.host
    (call,) = urlopen_calls
    (dial,) = dial_recorder.dials
    (received,) = server.requests
    assert urllib3.util.parse_url(destination.parsed.canonical).host == host
    assert call["server_hostname"] == host
    assert call["assert_hostname"] == host
    assert call["host_header"] == host
    assert call["pool_host"] == LOOPBACK
    assert call["target"] == destination.parsed.path_and_query
    assert dial.host == host
    assert dial.address == LOOPBACK
    assert received.headers["host"] == host


class TestRefusedWithoutConnection:
    def test_http_to_public_host(self, test_resolver):
        test_resolver.set_answers("api.allowed.example", ["93.184.215.14"])

        error = refused(get("http://api.allowed.example/v1"))

        assert error.code == "https_required"
        assert test_resolver.lookups("api.allowed.example") == 0
        assert_no_dials()

    def test_host_outside_domain(self, test_resolver):
        test_resolver.set_answers("evil.example", ["93.184.215.14"])

        error = refused(get("https://evil.example/"))

        assert error.code == "domain_lock_failed"
        assert test_resolver.lookups("evil.example") == 0
        assert_no_dials()

    @pytest.mark.parametrize(
        ("address", "reason"),
        [
            ("10.0.0.5", "private"),
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "metadata"),
            ("::1", "loopback"),
        ],
    )
    def test_name_resolving_to_internal_address(self, test_resolver, address, reason):
        test_resolver.set_answers("api.allowed.example", [address])

        error = refused(get("https://api.allowed.example/v1"))

        assert error.code == "private_ip_blocked"
        assert error.reason == reason
        assert_no_dials()

    def test_mapped_name_keeps_https_rule(self, upstream):
        error = refused(get("http://api.allowed.example/json"))

        assert error.code == "https_required"
        assert_no_dials(upstream.dial_log)

    def test_mapped_name_keeps_domain_lock(self, upstream):
        error = refused(get(upstream.url("/json", host="slack.com")))

        assert error.code == "domain_lock_failed"
        assert_no_dials(upstream.dial_log)

    def test_mapped_name_keeps_deny_list(self, upstream, settings):
        settings.SECOND_EGRESS_DENY_DOMAINS = ["allowed.example"]

        error = refused(get(upstream.url("/json")))

        assert error.reason == "deny_list"
        assert_no_dials(upstream.dial_log)

    def test_control_character_in_header_value(self, upstream):
        error = refused(get(upstream.url("/json"), **{"X-Tag": "a\r\nX-Injected: 1"}))

        assert error.code == "url_invalid"
        assert error.reason == "header_value"
        assert_no_dials()

    @pytest.mark.parametrize("name", ["Host", "content-length", "Transfer-Encoding"])
    def test_reserved_header(self, upstream, name):
        error = refused(get(upstream.url("/json"), **{name: "1"}))

        assert error.reason == "reserved_header"
        assert_no_dials()

    @pytest.mark.parametrize("method", ["CONNECT", "TRACE", "GET /x HTTP/1.1\r\n"])
    def test_unsupported_method(self, upstream, method):
        error = refused(OutboundRequest(method, upstream.url("/json"), {}))

        assert error.reason == "method"
        assert_no_dials()


class TestProviderAnswers:
    def test_redirect_to_metadata_not_followed(self, upstream, dial_recorder):
        error = refused(get(upstream.url("/redirect")))

        assert error.code == "provider_redirect"
        assert error.redirect_host == "169.254.169.254"
        assert dial_recorder.dials == [
            Dial("api.allowed.example", LOOPBACK, upstream.server.port, "https")
        ]
        assert len(upstream.requests) == 1

    def test_redirect_keeps_credentials_home(self, upstream, dial_recorder):
        upstream.server.set_redirect_location("https://evil.example/collect?k=v")

        error = refused(get(upstream.url("/redirect"), Authorization="Bearer sk_x"))

        assert error.redirect_host == "evil.example"
        assert "k=v" not in str(error)
        assert [dial.host for dial in dial_recorder.dials] == ["api.allowed.example"]

    def test_relative_redirect_names_same_host(self, upstream):
        upstream.server.set_redirect_location("/elsewhere")

        error = refused(get(upstream.url("/redirect")))

        assert error.redirect_host == "api.allowed.example"

    def test_declared_large_body_cut(self, upstream):
        error = refused(get(upstream.url("/large")))

        assert error.code == "response_too_large"

    def test_chunked_large_body_cut(self, upstream):
        error = refused(get(upstream.url("/large-chunked")))

        assert error.code == "response_too_large"

    def test_gzip_bomb_cut_without_inflating(self, upstream):
        gzip_bomb()  # Built before tracing, so only the client's memory counts.
        tracemalloc.start()
        try:
            error = refused(get(upstream.url("/gzip-bomb")))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert error.code == "response_too_large"
        assert peak < 8 * 1024 * 1024

    def test_body_at_limit_accepted(self, upstream, settings):
        settings.SECOND_EGRESS_MAX_RESPONSE_BYTES = 12
        upstream.server.set_json("/twelve", "0123456789")  # 12 bytes with quotes

        response = send(get(upstream.url("/twelve")), policy=TOOL)

        assert response.body == b'"0123456789"'


class TestDeadline:
    def test_slow_drip_cut_at_deadline(self, make_upstream, settings):
        settings.SECOND_EGRESS_DEADLINE_SECONDS = 2
        server = make_upstream(drip_interval=0.5)

        error = refused(get(server.url("/drip")))

        assert error.code == "egress_timeout"

    def test_slow_header_drip_cut_at_deadline(self, make_upstream, settings):
        settings.SECOND_EGRESS_DEADLINE_SECONDS = 2
        server = make_upstream(drip_interval=0.2)

        error = refused(get(server.url("/drip-headers")))

        assert error.code == "egress_timeout"

    def test_hang_before_headers_cut(self, upstream):
        error = refused(get(upstream.url("/hang")), deadline_seconds=1)

        assert error.code == "egress_timeout"

    def test_stalled_tls_handshake_cut(self, settings):
        with TcpRecorder() as stall:
            settings.SECOND_EGRESS_RESOLVE = {
                "api.allowed.example": (LOOPBACK, stall.port)
            }

            error = refused(get("https://api.allowed.example/"), deadline_seconds=1)

        assert error.code == "egress_timeout"

    def test_slow_dns_cut(self, test_resolver):
        test_resolver.set_answers("api.allowed.example", ["93.184.215.14"])
        test_resolver.set_delay("api.allowed.example", 5)

        error = refused(get("https://api.allowed.example/"), deadline_seconds=0.5)

        assert error.code == "egress_timeout"
        assert error.reason == "dns"
        assert_no_dials()


class TestDnsPinning:
    def test_checked_answer_is_dialled(self, test_resolver, dial_recorder):
        # The second answer would point at loopback. Only the first, checked one
        # is used; the dial layer then refuses it, as it is not loopback.
        test_resolver.set_answers(
            "api.allowed.example", ["93.184.215.14"], ["127.0.0.1"]
        )

        error = refused(get("https://api.allowed.example/v1"))

        assert error.code == "connection_failed"
        assert error.reason == "test_dial_refused"
        assert dial_recorder.dials == [
            Dial("api.allowed.example", "93.184.215.14", 443, "https")
        ]
        assert test_resolver.lookups("api.allowed.example") == 1

    def test_blocked_first_answer_not_retried(self, test_resolver):
        test_resolver.set_answers(
            "api.allowed.example", ["127.0.0.1"], ["93.184.215.14"]
        )

        error = refused(get("https://api.allowed.example/v1"))

        assert error.code == "private_ip_blocked"
        assert test_resolver.lookups("api.allowed.example") == 1
        assert_no_dials()

    def test_first_of_several_public_answers_dialled(
        self, test_resolver, dial_recorder
    ):
        test_resolver.set_answers(
            "api.allowed.example", ["93.184.215.14", "2606:4700:4700::1111"]
        )

        refused(get("https://api.allowed.example/v1"))

        assert [dial.address for dial in dial_recorder.dials] == ["93.184.215.14"]


class TestTls:
    def test_certificate_for_other_name(self, make_upstream, settings):
        other = make_upstream(names=("other.example",))
        settings.SECOND_EGRESS_RESOLVE = {
            "api.allowed.example": (LOOPBACK, other.server.port)
        }

        error = refused(get("https://api.allowed.example/json"))

        assert error.code == "tls_failed"
        assert error.reason == "certificate"
        assert other.requests == []

    def test_untrusted_certificate(self, upstream, settings):
        settings.SECOND_EGRESS_EXTRA_CA = ""

        error = refused(get(upstream.url("/json")))

        assert error.code == "tls_failed"
        assert upstream.requests == []


class TestEnvironmentIgnored:
    def test_proxy_variables_ignored(self, upstream, monkeypatch):
        with TcpRecorder() as proxy:
            proxy_url = f"http://{LOOPBACK}:{proxy.port}"
            for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"):
                monkeypatch.setenv(name, proxy_url)

            response = send(get(upstream.url("/json")), policy=TOOL)
            connections = proxy.connections

        assert response.status == 200
        assert connections == 0

    def test_netrc_ignored(self, upstream, monkeypatch, tmp_path):
        netrc = tmp_path / ".netrc"
        netrc.write_text("machine api.allowed.example login user password secret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        monkeypatch.setenv("HOME", str(tmp_path))

        send(get(upstream.url("/echo")), policy=TOOL)

        assert "authorization" not in upstream.requests[0].headers


class TestOperatorHosts:
    @pytest.fixture
    def operator_host(self, settings, test_resolver):
        settings.SECOND_EGRESS_OPERATOR_HOSTS = ["idp.internal.example:443"]
        test_resolver.set_answers("idp.internal.example", ["10.0.0.7"])

    def test_waives_address_rule_when_allowed(self, operator_host, dial_recorder):
        policy = EgressPolicy(None, operator_hosts_allowed=True, purpose="oidc")

        destination = check_destination(
            "https://idp.internal.example/jwks", policy=policy
        )
        error = refused(get("https://idp.internal.example/jwks"), policy)

        assert destination.waiver == "operator_host"
        assert destination.address_to_dial == "10.0.0.7"
        # The test dial layer refuses the non-loopback address after recording it.
        assert error.reason == "test_dial_refused"
        assert [dial.address for dial in dial_recorder.dials] == ["10.0.0.7"]

    def test_tool_policy_never_uses_it(self, operator_host):
        policy = EgressPolicy("internal.example", purpose="tool")

        error = refused(get("https://idp.internal.example/jwks"), policy)

        assert error.code == "private_ip_blocked"
        assert_no_dials()

    def test_other_port_not_waived(self, settings, operator_host):
        settings.SECOND_EGRESS_OPERATOR_HOSTS = ["idp.internal.example:8443"]
        policy = EgressPolicy(None, operator_hosts_allowed=True)

        error = refused(get("https://idp.internal.example/jwks"), policy)

        assert error.code == "private_ip_blocked"
        assert_no_dials()

    def test_https_still_required(self, operator_host):
        policy = EgressPolicy(None, operator_hosts_allowed=True)

        error = refused(get("http://idp.internal.example/jwks"), policy)

        assert error.code == "https_required"
        assert_no_dials()


class TestOwnOrigin:
    def test_public_host_refused_on_every_port(self, settings, test_resolver):
        settings.SECOND_PUBLIC = {
            "host": "app.ourproduct.example",
            "origin": "https://app.ourproduct.example",
            "scheme": "https",
            "port": 443,
        }
        test_resolver.set_answers("app.ourproduct.example", ["93.184.215.14"])
        policy = EgressPolicy("ourproduct.example")

        error = refused(get("https://app.ourproduct.example/api/internal/x"), policy)

        assert error.reason == "own_origin"
        assert_no_dials()

    def test_public_ip_host_refused_by_address(self, settings, test_resolver):
        settings.SECOND_PUBLIC = {
            "host": "93.184.215.14",
            "origin": "https://93.184.215.14",
            "scheme": "https",
            "port": 443,
        }
        test_resolver.set_answers("alias.allowed.example", ["93.184.215.14"])

        error = refused(get("https://alias.allowed.example/"), EgressPolicy(None))

        assert error.reason == "own_origin"
        assert_no_dials()


class TestLocalMode:
    @pytest.fixture(autouse=True)
    def local_mode(self, settings):
        settings.SECOND_LOCAL_MODE = True
        settings.SECOND_PUBLIC = {
            "host": "127.0.0.1",
            "origin": "http://127.0.0.1:8000",
            "scheme": "http",
            "port": 8000,
        }

    def test_plain_http_loopback_tool_runs(self, plain_upstream, dial_recorder):
        policy = EgressPolicy("127.0.0.1")

        response = send(get(plain_upstream.direct_url("/json")), policy=policy)

        assert response.status == 200
        assert dial_recorder.dials == [
            Dial("127.0.0.1", LOOPBACK, plain_upstream.port, "http")
        ]
        assert plain_upstream.requests[0].headers["host"] == (
            f"127.0.0.1:{plain_upstream.port}"
        )

    def test_localhost_name_resolving_to_loopback(self, plain_upstream, test_resolver):
        test_resolver.set_answers("localhost", ["127.0.0.1"])
        url = f"http://localhost:{plain_upstream.port}/json"

        response = send(get(url), policy=EgressPolicy("localhost"))

        assert response.status == 200

    def test_mapped_loopback_refused(self, plain_upstream):
        url = f"http://[::ffff:127.0.0.1]:{plain_upstream.port}/json"

        error = refused(get(url), EgressPolicy("::ffff:127.0.0.1"))

        assert error.code == "private_ip_blocked"
        assert error.reason == "loopback"
        assert plain_upstream.requests == []
        assert_no_dials()

    @pytest.mark.parametrize(
        "host", ["::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1"]
    )
    def test_embedded_loopback_refused_on_https(self, host):
        error = refused(get(f"https://[{host}]/"), EgressPolicy(None))

        assert error.code == "private_ip_blocked"
        assert_no_dials()

    def test_loopback_mixed_with_public_refused(self, test_resolver):
        test_resolver.set_answers("localhost", ["127.0.0.1", "93.184.215.14"])

        error = refused(get("http://localhost:9000/"), EgressPolicy("localhost"))

        assert error.code == "private_ip_blocked"
        assert error.reason == "loopback"
        assert_no_dials()

    def test_http_to_public_address_refused(self, test_resolver):
        test_resolver.set_answers("api.allowed.example", ["93.184.215.14"])

        error = refused(get("http://api.allowed.example/v1"))

        assert error.code == "https_required"
        assert_no_dials()

    def test_private_address_still_refused(self):
        error = refused(get("http://10.0.0.5:8080/"), EgressPolicy(None))

        assert error.code == "private_ip_blocked"
        assert_no_dials()

    def test_own_host_and_port_refused(self):
        error = refused(get("http://127.0.0.1:8000/api/health"), EgressPolicy(None))

        assert error.reason == "own_origin"
        assert_no_dials()

    def test_localhost_alias_of_own_origin_refused(self, test_resolver):
        test_resolver.set_answers("localhost", ["127.0.0.1"])

        error = refused(get("http://localhost:8000/api/health"), EgressPolicy(None))

        assert error.reason == "own_origin"
        assert_no_dials()


class TestRefusalLogging:
    def test_refusal_logged_without_secrets(self, caplog, test_resolver):
        canary = "sk_live_CANARY_7f3a9c"
        test_resolver.set_answers("api.allowed.example", ["10.0.0.5"])
        request = OutboundRequest(
            "POST",
            f"https://api.allowed.example/v1?key={canary}",
            headers={"Authorization": f"Bearer {canary}"},
            body=canary.encode(),
        )

        with caplog.at_level("INFO", logger="apps.execution.egress.client"):
            refused(request)

        (record,) = [r for r in caplog.records if r.name.startswith("apps.execution")]
        assert record.levelname == "INFO"
        assert "private_ip_blocked" in record.getMessage()
        assert "api.allowed.example" in record.getMessage()
        assert canary not in caplog.text

    def test_upstream_failure_leaks_no_query(self, upstream):
        canary = "sk_live_CANARY_7f3a9c"
        upstream.server.set_redirect_location(f"https://evil.example/?t={canary}")

        error = refused(get(upstream.url(f"/redirect?key={canary}")))

        assert canary not in str(error)
        assert canary not in repr(error.as_details())


class TestStackedEncodings:
    def test_long_encoding_chain_rejected(self, upstream):
        def stacked(handler, _request):
            handler.send_body(
                200, b"\x1f\x8b", headers={"Content-Encoding": ", ".join(["gzip"] * 20)}
            )

        upstream.server.set_route("/stacked", stacked)

        error = refused(get(upstream.url("/stacked")))

        assert error.code == "connection_failed"
        assert error.reason == "decode"


class TestSystemResolver:
    """The getaddrinfo path outside test settings, checked without connecting."""

    @pytest.fixture
    def fake_getaddrinfo(self, settings, monkeypatch):
        settings.SECOND_TEST_MODE = False
        calls = []

        def install(answer):
            def fake(host, port, *args, **kwargs):
                calls.append((host, port))
                if isinstance(answer, BaseException):
                    raise answer
                if callable(answer):
                    return answer()
                return [
                    (
                        socket.AF_INET6 if ":" in a else socket.AF_INET,
                        1,
                        6,
                        "",
                        (a, port),
                    )
                    for a in answer
                ]

            monkeypatch.setattr(socket, "getaddrinfo", fake)
            return calls

        return install

    def test_private_answer_blocked(self, fake_getaddrinfo):
        calls = fake_getaddrinfo(["93.184.215.14", "10.0.0.5"])

        with pytest.raises(EgressError) as caught:
            check_destination("https://api.allowed.example/", policy=TOOL)

        assert caught.value.code == "private_ip_blocked"
        assert calls == [("api.allowed.example", 443)]

    def test_public_answers_deduplicated(self, fake_getaddrinfo):
        fake_getaddrinfo(["93.184.215.14", "93.184.215.14", "2606:4700:4700::1111"])

        destination = check_destination("https://api.allowed.example/", policy=TOOL)

        assert destination.addresses == ("93.184.215.14", "2606:4700:4700::1111")
        assert destination.address_to_dial == "93.184.215.14"

    def test_nxdomain_is_dns_failure(self, fake_getaddrinfo):
        fake_getaddrinfo(
            socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        )

        with pytest.raises(EgressError) as caught:
            check_destination("https://api.allowed.example/", policy=TOOL)

        assert caught.value.code == "dns_failure"
        assert caught.value.reason == "nxdomain"

    def test_slow_lookup_times_out(self, fake_getaddrinfo):
        release = threading.Event()

        def slow():
            release.wait(5)
            return []

        fake_getaddrinfo(slow)
        try:
            with pytest.raises(EgressError) as caught:
                check_destination(
                    "https://api.allowed.example/",
                    policy=TOOL,
                    deadline=Deadline(0.3),
                )
        finally:
            release.set()

        assert caught.value.code == "egress_timeout"
        assert caught.value.reason == "dns"
