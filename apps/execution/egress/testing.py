"""Test hooks of the egress client: a programmable resolver and a dial recorder.

They take effect only under test settings (`settings.SECOND_TEST_MODE`), where
real DNS is never used and every dial attempt is recorded before it connects.
"""

import ipaddress
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from apps.execution.egress.errors import EgressError

# Upper bound of a simulated slow lookup, so a forgotten delay cannot hang a test.
MAX_TEST_DELAY_SECONDS = 30.0


@dataclass(frozen=True)
class Dial:
    """One connection attempt: the host name used for TLS and Host, and the address."""

    host: str
    address: str
    port: int
    scheme: str


class DialRecorder:
    """A thread-safe, in-process list of every dial attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dials: list[Dial] = []

    @property
    def dials(self) -> list[Dial]:
        """A copy of the recorded dials, oldest first."""
        with self._lock:
            return list(self._dials)

    def record(self, dial: Dial) -> None:
        with self._lock:
            self._dials.append(dial)

    def reset(self) -> None:
        with self._lock:
            self._dials.clear()


class TestResolver:
    """A programmable DNS stand-in: names map to successive lists of addresses.

    `set_answers(name, first, second)` makes the first lookup of `name` return
    `first`, and every later lookup `second` (the last answer repeats). Names
    without answers raise `dns_failure`, as NXDOMAIN would.
    """

    __test__ = False  # Not a pytest test class, despite its name.

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._answers: dict[str, list[list[str]]] = {}
        self._delays: dict[str, float] = {}
        self._lookups: dict[str, int] = {}

    def set_answers(self, name: str, *answers: Sequence[str]) -> None:
        """Program the answers of `name`; each answer is a list of IP addresses."""
        if not answers:
            raise ValueError(f"Give at least one answer for {name!r}.")
        checked = [
            [_check_address(address) for address in answer] for answer in answers
        ]
        with self._lock:
            self._answers[_key(name)] = checked

    def set_delay(self, name: str, seconds: float) -> None:
        """Make each lookup of `name` take `seconds`, capped at 30."""
        with self._lock:
            self._delays[_key(name)] = min(seconds, MAX_TEST_DELAY_SECONDS)

    def lookups(self, name: str) -> int:
        """Return how many times `name` was looked up since the last reset."""
        with self._lock:
            return self._lookups.get(_key(name), 0)

    def resolve(self, name: str) -> list[str]:
        """Return the next answer for `name`, or raise `dns_failure`."""
        key = _key(name)
        with self._lock:
            count = self._lookups.get(key, 0)
            self._lookups[key] = count + 1
            delay = self._delays.get(key, 0.0)
            answers = self._answers.get(key)

        if delay:
            # A reset releases sleeping lookups, so threads never outlive a test.
            self._released.wait(delay)
        if not answers:
            raise EgressError("dns_failure", reason="nxdomain", host=name)
        return list(answers[min(count, len(answers) - 1)])

    def reset(self) -> None:
        with self._lock:
            self._answers.clear()
            self._delays.clear()
            self._lookups.clear()
            released, self._released = self._released, threading.Event()
        released.set()


test_resolver = TestResolver()
dial_recorder = DialRecorder()


def record_dial(dial: Dial, log_path: str | None) -> None:
    """Record `dial` in this process and, when `log_path` is set, in that file.

    The file has one JSON object a line, so dials made by another process, such
    as a Celery worker, can be read back with `read_dial_log`.
    """
    dial_recorder.record(dial)
    if not log_path:
        return

    line = json.dumps({**asdict(dial), "pid": os.getpid()}) + "\n"
    # One write in append mode, so lines from concurrent processes do not mix.
    with open(log_path, "a", encoding="utf-8") as log_file:
        log_file.write(line)


def read_dial_log(log_path: str | Path) -> list[Dial]:
    """Return the dials recorded in `log_path`, or none if the file does not exist."""
    path = Path(log_path)
    if not path.exists():
        return []

    dials = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        entry.pop("pid", None)
        dials.append(Dial(**entry))
    return dials


def _check_address(address: str) -> str:
    return str(ipaddress.ip_address(address))


def _key(name: str) -> str:
    return name.lower().rstrip(".")
