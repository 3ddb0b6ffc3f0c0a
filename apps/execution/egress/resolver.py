"""Resolve a destination once, within the call's deadline.

The addresses returned here are the ones checked and the one dialled, so no
second lookup can return a different answer (DNS rebinding). Under test
settings real DNS is never used: `SECOND_EGRESS_RESOLVE` maps names to loopback
test servers, and every other name goes to `testing.test_resolver`.
"""

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings

from apps.execution.egress import testing
from apps.execution.egress.deadline import Deadline
from apps.execution.egress.errors import EgressError
from apps.execution.egress.urls import ParsedUrl

# Where the addresses came from. `test_map` answers (SECOND_EGRESS_RESOLVE) skip
# the address table, as they are how tests reach servers on loopback.
SOURCE_LITERAL = "literal"
SOURCE_OVERRIDE = "override"
SOURCE_TEST_MAP = "test_map"
SOURCE_TEST_RESOLVER = "test_resolver"
SOURCE_DNS = "dns"

_NOT_FOUND_ERRORS = frozenset(
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY")
    if hasattr(socket, name)
)

# Answers that replace DNS for named hosts, set by `egress_check --resolve`.
_answer_override: ContextVar[dict[str, list[str]] | None] = ContextVar(
    "egress_answer_override", default=None
)


@dataclass(frozen=True)
class Resolution:
    """The addresses of one destination, the port to dial and their source."""

    addresses: tuple[str, ...]
    port: int
    source: str


@contextlib.contextmanager
def override_answers(answers: dict[str, list[str]]) -> Iterator[None]:
    """Use `answers` (host to addresses) in place of DNS inside the block.

    Hosts are given normalised. The address table still applies to them.
    """
    token = _answer_override.set(answers)
    try:
        yield
    finally:
        _answer_override.reset(token)


def resolve(parsed: ParsedUrl, deadline: Deadline) -> Resolution:
    """Return every address of `parsed.host`, raising `dns_failure` or a timeout."""
    if parsed.address is not None:
        return Resolution((str(parsed.address),), parsed.port, SOURCE_LITERAL)

    override = _answer_override.get()
    if override is not None and parsed.host in override:
        return Resolution(tuple(override[parsed.host]), parsed.port, SOURCE_OVERRIDE)

    if settings.SECOND_TEST_MODE:
        return _resolve_under_test(parsed, deadline)

    addresses = _run_within(deadline, parsed.host, lambda: _getaddrinfo(parsed))
    return Resolution(addresses, parsed.port, SOURCE_DNS)


def _resolve_under_test(parsed: ParsedUrl, deadline: Deadline) -> Resolution:
    mapped = settings.SECOND_EGRESS_RESOLVE.get(parsed.host)
    if mapped is not None and parsed.is_https_443:
        address, port = mapped
        return Resolution((address,), int(port), SOURCE_TEST_MAP)

    def lookup() -> tuple[str, ...]:
        return tuple(testing.test_resolver.resolve(parsed.host))

    addresses = _run_within(deadline, parsed.host, lookup)
    return Resolution(addresses, parsed.port, SOURCE_TEST_RESOLVER)


def _getaddrinfo(parsed: ParsedUrl) -> tuple[str, ...]:
    try:
        results = socket.getaddrinfo(
            parsed.host, parsed.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as error:
        reason = "nxdomain" if error.errno in _NOT_FOUND_ERRORS else "resolver_error"
        raise EgressError("dns_failure", reason=reason, host=parsed.host) from None
    except UnicodeError:
        # The stdlib IDNA codec rejects some names that passed IDNA 2008.
        raise EgressError("dns_failure", reason="idna", host=parsed.host) from None

    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in results:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return tuple(addresses)


def _run_within(
    deadline: Deadline, host: str, lookup: Callable[[], tuple[str, ...]]
) -> tuple[str, ...]:
    """Run `lookup` in a thread and give up when the deadline passes.

    getaddrinfo cannot be cancelled, so a lookup that outlives the deadline keeps
    its daemon thread until the system resolver gives up on its own.
    """
    remaining = deadline.require("dns")
    outcome: dict[str, object] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            outcome["addresses"] = lookup()
        except BaseException as error:  # handed to the calling thread below
            outcome["error"] = error
        finally:
            finished.set()

    threading.Thread(target=run, name="egress-dns", daemon=True).start()
    if not finished.wait(remaining):
        raise deadline.timeout_error("dns")

    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    addresses = outcome["addresses"]
    if not addresses:
        raise EgressError("dns_failure", reason="no_addresses", host=host)
    return addresses  # type: ignore[return-value]
