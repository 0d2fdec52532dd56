"""An overall deadline for one send, across all its reads and writes.

A socket timeout bounds each read; a receiver that drips a byte every few seconds never
trips it, and so could hold a sender for as long as it likes. A :class:`Budget` bounds the
whole send: the senders' connections register their sockets with :func:`arm`, and when the
budget runs out a timer shuts them down, so the blocked read returns at once and the sender
raises its usual :class:`~callgoose.delivery.Temporary`. Without a budget (a test calling a
sender directly) :func:`arm` only applies the read timeout it is given.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time

from . import Temporary

_current = threading.local()


class Budget:
    """``with Budget(seconds):`` around one send, in the thread that sends."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._ends = 0.0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> "Budget":
        self._ends = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        _current.budget = self
        return self

    def __exit__(self, kind, exc, _tb) -> None:
        _current.budget = None
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()
        if self.expired and kind is not None and issubclass(kind, Exception):
            raise Temporary(f"no complete answer within the send's deadline of {self.seconds:g} s "
                            f"(the receiver is too slow); {exc}") from None

    def left(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read or write at once
                except OSError:  # closed meanwhile, or never connected
                    pass

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                raise TimeoutError(f"the send's {self.seconds:g} s deadline passed")
            self._sockets.append(sock)


def current() -> Budget | None:
    """The budget of the send this thread is making, if any."""
    return getattr(_current, "budget", None)


def arm(sock: socket.socket, timeout: float) -> socket.socket:
    """Put a newly connected socket under this thread's budget (and a read timeout no longer
    than what is left of it)."""
    budget = current()
    if budget is not None:
        budget.watch(sock)
        timeout = min(timeout, max(budget.left(), 0.001))
    sock.settimeout(timeout)
    return sock


def connect(address: tuple[str, int], timeout: float) -> socket.socket:
    """``socket.create_connection`` whose connect also ends with the budget."""
    budget = current()
    if budget is not None:
        timeout = min(timeout, max(budget.left(), 0.001))
    return arm(socket.create_connection(address, timeout), timeout)


def wrap(context, sock: socket.socket, server_hostname: str, timeout: float):
    """TLS over an armed socket, the handshake included under the budget."""
    tls = context.wrap_socket(sock, server_hostname=server_hostname, do_handshake_on_connect=False)
    arm(tls, timeout)  # wrap_socket detached ``sock``: the TLS socket is the one to shut down
    tls.do_handshake()
    return tls


class HTTPConnection(http.client.HTTPConnection):
    """``http.client`` over a socket under the budget."""

    def connect(self):
        self.sock = connect((self.host, self.port), self.timeout)


class HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS over a socket under the budget; ``sni`` names the host for SNI and the certificate
    when the connection goes to an address (the webhook guard pins the one it checked)."""

    def __init__(self, host: str, port: int | None = None, *, sni: str | None = None, **kwargs):
        super().__init__(host, port, **kwargs)
        self._sni = sni or host

    def connect(self):
        self.sock = wrap(self._context, connect((self.host, self.port), self.timeout), self._sni, self.timeout)
