"""One parse, one URL: the validated host is the host urllib3 gets and dials.

A corpus of tricky URLs goes through `check_destination` and `send` with the
dial recorder on. For every accepted URL, the host the validator approved, the
host of the canonical URL as urllib3 reads it, the pool's TLS server name, the
Host header and the recorded dial are one and the same. Every refused URL is
refused by `send` with the same code, and dials nothing.
"""

import pytest
import urllib3

from apps.execution.egress import (
    EgressError,
    EgressPolicy,
    OutboundRequest,
    check_destination,
    send,
)
from tests.support.upstream import LOOPBACK

POLICY = EgressPolicy(allowed_domain="allowed.example")
NAMES = (
    "api.allowed.example",
    "eu.api.allowed.example",
    "allowed.example",
    "xn--bcher-kva.allowed.example",
)

CORPUS = [
    # Accepted forms: case, trailing dots, default ports, IDNA, odd paths.
    "https://api.allowed.example/v1",
    "HTTPS://API.ALLOWED.EXAMPLE/",
    "https://api.allowed.example./",
    "https://api.allowed.example:443/",
    "https://api.allowed.example:0443/",
    "https://api.allowed.example:00443/x",
    "https://allowed.example/",
    "https://eu.api.allowed.example/%252e",
    "https://api.allowed.example/%2e%2e/admin",
    "https://api.allowed.example/a/../b",
    "https://api.allowed.example/a/./b/..",
    "https://api.allowed.example/../../etc",
    "https://api.allowed.example/?@evil.example",
    "https://api.allowed.example/#@evil.example",
    "https://api.allowed.example/path@evil.example",
    "https://api.allowed.example/a:b@c",
    "https://api.allowed.example?x=http://evil.example/",
    "https://api.allowed.example/ü?q=ä",
    "https://bücher.allowed.example/",
    "https://xn--bcher-kva.allowed.example/",
    "https://api.allowed.example/;jsessionid=1",
    "https://api.allowed.example/a%2Fb",
    "https://api.allowed.example/%40evil.example",
    "https://api.allowed.example/?q=%0d%0aX-Injected:%201",
    "https://api.allowed.example/'\"<>`",
    "https://api.allowed.example/{x}|y^z",
    "https://api.allowed.example/%7e",
    # Refused forms: userinfo, fragments and backslashes before the host.
    "https://api.allowed.example@evil.example/",
    "https://evil.example#@api.allowed.example/",
    "https://evil.example\\@api.allowed.example/",
    "https://user@api.allowed.example/",
    "https://api.allowed.example%40evil.example/",
    "https://api.allowed.example%2eevil.example/",
    "https:/api.allowed.example/",
    "https:\\\\api.allowed.example/",
    "//api.allowed.example/",
    "https://[api.allowed.example]/",
    # Ports.
    "https://api.allowed.example:443:443/",
    "https://api.allowed.example:/",
    "https://api.allowed.example:8443/",
    "https://api.allowed.example:65536/",
    # Labels and dots.
    "https://api.allowed.example../",
    "https://.api.allowed.example/",
    "https://api..allowed.example/",
    "https://api.allowed.example.evil.example/",
    "https://evilallowed.example/",
    "https://xn--/",
    "https://xn--bcher-kva.allowed.example.evil.example/",
    "https://BÜCHER.allowed.example/",
    "https://api\u3002allowed.example/",
    "https://\u0430pi.allowed.example/",
    # White space and invisible characters.
    "https://api.allowed.example\t/",
    "https://api.allowed.example/\n",
    " https://api.allowed.example/",
    "https://api.allowed.example%00/",
    "https://api.allowed.example/\u202e",
    "https://api.allowed.example\u00ad/",
    # Percent escapes.
    "https://api.allowed.example/%zz",
    "https://api.allowed.example/%",
    # Schemes and addresses.
    "http://api.allowed.example/",
    "ftp://api.allowed.example/",
    "https://0x7f.1/",
    "https://127.0.0.1/",
    "https://[::ffff:127.0.0.1]/",
]


def _outcome(url: str):
    try:
        return check_destination(url, policy=POLICY)
    except EgressError as error:
        return error


@pytest.fixture
def urlopen_calls(monkeypatch):
    """Record the pool host, TLS server name, target and Host header of urlopen."""
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


def test_corpus_size(make_upstream):
    make_upstream(names=NAMES)
    assert len(CORPUS) >= 60
    accepted = [url for url in CORPUS if not isinstance(_outcome(url), EgressError)]
    # Both halves matter: accepted URLs prove the hosts agree, refused ones that
    # send() agrees with check_destination().
    assert len(accepted) >= 20
    assert len(CORPUS) - len(accepted) >= 30


@pytest.mark.parametrize("url", CORPUS)
def test_validated_host_is_dialled_host(
    url, make_upstream, dial_recorder, urlopen_calls, test_resolver
):
    server = make_upstream(names=NAMES)
    outcome = _outcome(url)
    dial_recorder.reset()

    if isinstance(outcome, EgressError):
        with pytest.raises(EgressError) as caught:
            send(OutboundRequest("GET", url, {}), policy=POLICY)
        assert caught.value.code == outcome.code
        assert caught.value.reason == outcome.reason
        assert dial_recorder.dials == []
        assert urlopen_calls == []
        assert server.requests == []
        return

    send(OutboundRequest("GET", url, {}), policy=POLICY)

    host = outcome.parsed.host
    (call,) = urlopen_calls
    (dial,) = dial_recorder.dials
    (received,) = server.requests
    assert urllib3.util.parse_url(outcome.parsed.canonical).host == host
    assert call["server_hostname"] == host
    assert call["assert_hostname"] == host
    assert call["host_header"] == host
    assert call["pool_host"] == LOOPBACK
    assert call["target"] == outcome.parsed.path_and_query
    assert dial.host == host
    assert received.headers["host"] == host
