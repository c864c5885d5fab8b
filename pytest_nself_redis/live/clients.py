"""More clients of the same server: for a second caller, a blocking reader, a forked child."""

from __future__ import annotations

from typing import Any

import redis


def clone(client: redis.Redis, *, max_connections: int | None = None, **overrides: Any) -> redis.Redis:
    """A client with its own connection pool: same server, credentials and TLS, and the same
    kind (one that gives harness keys a TTL stays one). Nothing is shared with ``client``'s
    sockets, so it is safe in a forked child and never waits behind ``client``'s commands."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, **overrides}
    return type(client)(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, max_connections=max_connections, **kwargs
        )
    )
