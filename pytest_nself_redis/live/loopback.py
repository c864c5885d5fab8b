"""Loopback ports for the servers a run starts, chosen so no other process is handed them.

A port found free by binding to port 0 and closing is free for anyone: an xdist worker
choosing at the same moment can be given the same one, and one of the two servers then
fails to bind while its readiness probe reaches the other's (and is refused its password).
So the port is left in TIME_WAIT, bound on our side: for about a minute the kernel hands it
to no other ``bind(0)`` or outgoing connection, while a server that sets SO_REUSEADDR (as
redis-server, docker-proxy and the exporter do) can still listen on it. A server stopped to be
started again on the same port (a restart, a crash) would leave it free in between, so its port
is held across the stop (``held_across_stop``).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_nself_redis.live.address import ServerAddress

LOOPBACK = "127.0.0.1"
# How long a server about to be stopped has to answer the QUIT that holds its port.
QUIT_SECONDS = 1.0


def free_loopback_port() -> int:
    """A 127.0.0.1 port nothing listens on, kept from everyone but a server started on it soon."""
    return _in_time_wait(0)


def _hold(port: int) -> None:
    """Keep ``port``, which a server of ours has just left and will listen on again, from any
    other process for about a minute; a port something else already listens on is left be."""
    with contextlib.suppress(OSError):
        _in_time_wait(port)


@contextlib.contextmanager
def held_across_stop(server: ServerAddress) -> Iterator[None]:
    """The stop of a server of ours that will listen on its port again: no other process is
    given the port from before the server lets go of it until about a minute after.

    First the server is asked to close a connection (QUIT, over TLS where it speaks TLS): the side
    that closes first is left in TIME_WAIT, so the port stays held from the instant the server
    is gone. A hold taken after the stop alone left that instant free (a restart under -n
    found its port taken); it still follows, for a server that could not be asked (hung, or
    reached through a forwarded port whose TIME_WAIT is elsewhere)."""
    _closed_by_the_server(server)
    yield
    _hold(server.port)


def _closed_by_the_server(server: ServerAddress) -> None:
    with contextlib.suppress(OSError), server.open_socket(timeout=QUIT_SECONDS) as connection:
        connection.sendall(b"QUIT\r\n")  # answered +OK, then closed, before AUTH too
        while connection.recv(4096):  # read to its end: data left unread would close with a reset
            pass


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
