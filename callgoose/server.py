"""Serving with waitress: connection limits that survive idle clients, and a graceful stop.

On SIGTERM (or Ctrl-C) the server stops accepting, lets the calls in flight finish, at most
``SHUTDOWN_TIMEOUT_SECONDS``, then returns so the process exits 0. A call is only ever
answered 2xx after its commit, so a call cut off by the deadline was not acknowledged.
"""

from __future__ import annotations

import gc
import logging
import resource
import signal
import time

log = logging.getLogger(__name__)


LOOP_SECONDS = 0.2  # how soon the loop notices a stop request

def _raise_nofile_limit(wanted: int) -> None:
    """Let the process hold ``wanted`` sockets if the hard limit allows (1024 is a common soft limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _socket_map(server) -> dict:
    return server.map if hasattr(server, "map") else server._map  # several listen sockets, or one


def _busy(server) -> bool:
    """Whether any connection has a request being received, queued, run or answered."""
    from waitress.channel import HTTPChannel

    for channel in list(_socket_map(server).values()):
        if isinstance(channel, HTTPChannel) and (
                channel.requests or channel.request is not None or channel.total_outbufs_len):
            return True
    return False


def _drain(server, timeout: float) -> None:
    """Stop accepting, keep the loop turning until nothing is in flight or the time is up."""
    from waitress import wasyncore
    from waitress.server import BaseWSGIServer

    sockets = _socket_map(server)
    for listener in [d for d in sockets.values() if isinstance(d, BaseWSGIServer)]:
        listener.accepting = False
        listener.del_channel()
        listener.socket.close()
    deadline = time.monotonic() + timeout
    while _busy(server) and time.monotonic() < deadline:
        wasyncore.loop(timeout=0.05, map=sockets, use_poll=True, count=1)
    if _busy(server):
        log.warning("stopped after %.0f s with calls still in flight (they were not acknowledged)", timeout)
    server.task_dispatcher.shutdown(timeout=max(0.5, deadline - time.monotonic()))


def serve(app, *, host: str, port: int, threads: int, connection_limit: int, idle_timeout: int,
          shutdown_timeout: float, max_body: int, on_ready=None) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C, then stop gracefully."""
    import waitress

    _raise_nofile_limit(connection_limit + threads + 64)
    server = waitress.create_server(
        app, host=host, port=port, threads=threads, ident="callgoose",
        connection_limit=connection_limit, channel_timeout=idle_timeout,
        cleanup_interval=max(1, min(30, idle_timeout // 2)),
        asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
        backlog=max(1024, connection_limit // 2),
        # ``max_body`` is the app's largest limit (a splitting service's, S38): bodies above
        # it still reach the app and get the JSON 413; only absurd ones are cut off by
        # waitress itself, which buffers a body (to a file past 512 KiB) before the app runs.
        max_request_body_size=max(4 * max_body, 64 * 1024 * 1024))
    from waitress import wasyncore

    # The handlers only set a flag: an exception raised inside waitress's dispatch would be
    # caught there as a connection error and the stop request lost.
    stop = []
    previous = {sig: signal.signal(sig, lambda *_: stop.append(True)) for sig in (signal.SIGTERM, signal.SIGINT)}
    # What the process holds once started (the app, its libraries, their caches) is moved out of
    # the collector's sight: a full collection walked all of it, a 100-120 ms pause of every
    # thread each 11 s or so under an alert storm (bench/storm.py's slowest POSTs; issue 22).
    gc.collect()
    gc.freeze()
    try:
        if on_ready:
            on_ready()
        sockets = _socket_map(server)
        while not stop:
            wasyncore.loop(timeout=LOOP_SECONDS, map=sockets, use_poll=True, count=1)
        log.info("stopping: no new connections; finishing calls in flight (at most %.0f s)", shutdown_timeout)
        _drain(server, shutdown_timeout)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
