"""Loopback ports for the servers a run starts, chosen so no other process is handed them.

A port found free by binding to port 0 and closing is free for anyone: an xdist worker
choosing at the same moment can be given the same one, and one of the two servers then
fails to bind while its readiness probe reaches the other's (and is refused its password).
So the port is left in TIME_WAIT, bound on our side: for about a minute the kernel hands it
to no other ``bind(0)`` or outgoing connection, while a server that sets SO_REUSEADDR (as
redis-server, docker-proxy and the exporter do) can still listen on it. A server stopped to be
started again on the same port (a restart, a crash) leaves it free in between, so its port is
held the same way (``hold``) once it is down.
"""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"


def free_loopback_port() -> int:
    """A 127.0.0.1 port nothing listens on, kept from everyone but a server started on it soon."""
    return _in_time_wait(0)


def hold(port: int) -> None:
    """Keep ``port``, which a server of ours has just left and will listen on again, from any
    other process for about a minute; a port something else already listens on is left be."""
    with contextlib.suppress(OSError):
        _in_time_wait(port)


def _in_time_wait(port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, port))
        listener.listen(1)
        bound: int = listener.getsockname()[1]
        with socket.create_connection((LOOPBACK, bound), timeout=1.0):
            accepted, _ = listener.accept()
            accepted.close()  # closed first on our side, so the TIME_WAIT holds our port
        return bound
