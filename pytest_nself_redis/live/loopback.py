"""Loopback ports for the servers a run starts, chosen so no other process is handed them.

A port found free by binding to port 0 and closing is free for anyone: an xdist worker
choosing at the same moment can be given the same one, and one of the two servers then
fails to bind while its readiness probe reaches the other's (and is refused its password).
So the port is left in TIME_WAIT, bound on our side: for about a minute the kernel hands it
to no other ``bind(0)`` or outgoing connection, while a server that sets SO_REUSEADDR (as
redis-server, docker-proxy and the exporter do) can still listen on it.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_loopback_port() -> int:
    """A 127.0.0.1 port nothing listens on, kept from everyone but a server started on it soon."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, 0))
        listener.listen(1)
        port: int = listener.getsockname()[1]
        with socket.create_connection((LOOPBACK, port), timeout=1.0):
            accepted, _ = listener.accept()
            accepted.close()  # closed first on our side, so the TIME_WAIT holds our port
        return port
