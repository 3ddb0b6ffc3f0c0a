"""One wall-clock deadline for a whole outbound call: DNS, connect, TLS and body.

Per-read socket timeouts alone do not bound a call, because a server that sends
one byte just before each timeout keeps a read alive forever. Each step therefore
takes the time that remains, and a watchdog thread shuts down the call's sockets
when the deadline passes, which ends a TLS handshake or a read that a slow
server keeps alive.
"""

import contextlib
import socket
import threading
import time

from apps.execution.egress.errors import EgressError


class Deadline:
    """The end time of one outbound call, and the watchdog that enforces it."""

    def __init__(self, seconds: float, *, host: str | None = None) -> None:
        if seconds <= 0:
            raise ValueError(f"The egress deadline must be positive, not {seconds!r}.")
        self.seconds = seconds
        self.host = host
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self._fired = False
        self._closed = False

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed or the watchdog has fired."""
        return self._fired or self.remaining() <= 0

    def remaining(self) -> float:
        """Return the seconds left, never below zero."""
        return max(0.0, self._end - time.monotonic())

    def require(self, step: str) -> float:
        """Return the seconds left for `step`, or raise `egress_timeout` if none are."""
        remaining = self.remaining()
        if remaining <= 0 or self._fired:
            raise self.timeout_error(step)
        return remaining

    def timeout_error(self, step: str) -> EgressError:
        """Return the error of a call that ran out of time during `step`."""
        return EgressError(
            "egress_timeout",
            reason=step,
            host=self.host,
            detail=f"The whole call is limited to {self.seconds:g} seconds.",
        )

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes, from the watchdog thread.

        A duplicate of the descriptor is watched, so the watchdog never touches a
        descriptor number that urllib3 closed and the process reused. Shutting
        down any descriptor of a socket ends the connection for all of them.
        """
        with self._lock:
            if self._closed:
                return
            self._watched.append(sock.dup())
            if self._timer is None:
                self._timer = threading.Timer(self.remaining(), self._fire)
                self._timer.daemon = True
                self._timer.name = "egress-deadline"
                self._timer.start()

    def close(self) -> None:
        """Stop the watchdog and close the watched duplicates."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            watched, self._watched = self._watched, []
        for duplicate in watched:
            duplicate.close()

    def _fire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._fired = True
            for duplicate in self._watched:
                # OSError: the peer or urllib3 already ended the connection.
                with contextlib.suppress(OSError):
                    duplicate.shutdown(socket.SHUT_RDWR)
