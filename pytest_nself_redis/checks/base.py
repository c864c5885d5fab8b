"""What a check may look at: the ``CheckContext`` of one env's server.

A check is a plain function of a context (and, for a family, its parameter) that returns an
``Outcome`` (``results``); it is declared once in the registry (``registry.check``), which
the suites and ``nself-redis doctor`` both read. Checks declared ``safe=True`` only read, or
write under their own key prefix and delete what they wrote: doctor runs only those against
a production server.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.live.expiring import HARNESS_PREFIX, expiring
from pytest_nself_redis.live.host import ServerHost
from pytest_nself_redis.project.settings import RedisSettings
from pytest_nself_redis.targets.base import Target


class VariantFactory(Protocol):
    """Launches a server like the env's with overridden settings (REDIS_*=...) and
    ``extra_args`` for redis-server; the suites pass ``nself_variant``."""

    def __call__(self, extra_args: tuple[str, ...] = (), **overrides: Any) -> Target: ...


@dataclass
class CheckContext:
    """What a check may look at. ``client`` is authenticated; ``connect`` makes clients
    that are not (pass ``password=`` to authenticate)."""

    settings: RedisSettings
    service: RedisService
    client: redis.Redis
    connect: Callable[..., redis.Redis]
    run_id: str = "local"
    launched: bool = False
    # The env behind the settings (its files' values, e.g. REDIS_LATENCY_BUDGET_*), when known.
    env: EnvContext | None = None
    # The target's kind (docker, process, attach), when known.
    kind: str | None = None
    _keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Root-cause check id -> whether it failed, shared by every check of the run on this server.
    causes: dict[str, bool] = field(default_factory=dict)
    # The machine the server runs on, when it is this one (process and docker targets, doctor
    # --local): its kernel settings and the server process's limits; None when not known here.
    # Asked each time: a restarted server is a new process.
    server_host: Callable[[], ServerHost | None] = field(default=lambda: None)
    # What one look costs too much to repeat for every check (the keyspace audit), shared by the
    # checks of the run on this server like ``causes``; each user says how long it stays valid.
    memo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, target: Target, client: redis.Redis | None = None, run_id: str | None = None) -> CheckContext:
        """The context of a started target: its env's settings, deployment and clients
        (``client`` replaces the target's own authenticated client, e.g. an ACL user's).
        On a server the run did not launch, every key a check writes carries a TTL."""
        client = client if client is not None else target.client()
        return cls(
            settings=target.context.settings,
            service=target.context.service,
            client=client if target.launched else expiring(client),
            connect=target.connect,
            run_id=run_id or target.options.run_id,
            launched=target.launched,
            env=target.context,
            kind=target.kind,
            server_host=target.server_host,
        )

    def key_prefix(self, label: str) -> str:
        """A prefix unique to this run and call, for checks that write (and then delete)."""
        return f"{HARNESS_PREFIX}{self.run_id}:{label}{next(self._keys)}:"
