"""The memory a Redis in a container may need, against the container's limit.

``maxmemory`` caps the dataset, not the process. On top of it come the pages a fork
(``BGSAVE``, an AOF rewrite) copies while the parent keeps writing: up to the dataset
again in the worst case (``rdb_last_cow_size`` / ``aof_last_cow_size`` say what it took
last time); managed services set 25% aside for it. And client buffers, which grow past
``maxmemory`` when Redis refuses writes but not reads: a busy client holds a 16 KiB query
buffer and a 16 KiB reply buffer. When the sum passes the limit, the kernel kills Redis
(``OOMKilled``) instead of Redis evicting or refusing writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.compose.redis_args import REDIS_DEFAULTS
from pytest_nself_redis.compose.runtime import ComposeValue
from pytest_nself_redis.durability.oom import MIB, mib
from pytest_nself_redis.live.reads import config_get, info
from pytest_nself_redis.project.sizes import parse_redis_size

CLIENT_BUFFERS = 32 * 1024
FORK_RESERVE = 0.25
COW_FIELDS = ("rdb_last_cow_size", "aof_last_cow_size")
# Where a value was read: the running server, else the deployment's command or Redis's default.
LIVE = "live CONFIG GET"


@dataclass(frozen=True)
class Budget:
    """The figures, in bytes (``maxmemory`` 0: no limit); each ``*_from`` says where it was read."""

    limit: ComposeValue[int]
    maxmemory: int
    maxmemory_from: str
    maxclients: int
    maxclients_from: str
    forks: str  # why the server forks ("" when it never does)
    measured_cow: int = 0

    @property
    def clients(self) -> int:
        return self.maxclients * CLIENT_BUFFERS

    @property
    def fork_reserve(self) -> int:
        """What a fork is given: what managed services set aside, or more if one took more."""
        return max(int(self.maxmemory * FORK_RESERVE), self.measured_cow) if self.forks else 0

    @property
    def fork_worst(self) -> int:
        """A fork whose parent rewrites every page while it runs: the dataset again."""
        return max(self.maxmemory, self.measured_cow) if self.forks else 0

    @property
    def need(self) -> int:
        """What fits even the worst fork."""
        return self.maxmemory + self.fork_worst + self.clients

    @property
    def need_reserved(self) -> int:
        return self.maxmemory + self.fork_reserve + self.clients

    @property
    def safe_maxmemory(self) -> int:
        """The largest maxmemory that fits beside the worst fork and the client buffers (0: none)."""
        room = self.limit.value - self.clients
        return max(0, room // 2 if self.forks else room)

    @property
    def verdict(self) -> str:
        """unbounded (no maxmemory), over (not even the reserve fits), tight (the reserve fits,
        the worst fork does not) or fits."""
        if not self.maxmemory:
            return "unbounded"
        if self.need_reserved > self.limit.value:
            return "over"
        return "tight" if self.need > self.limit.value else "fits"

    def figures(self) -> str:
        """``limit 512.0 MiB (...); maxmemory ...; a fork ...; client buffers ...``."""
        shown = mib(self.maxmemory) if self.maxmemory else "0 (no limit)"
        fork = (
            f"the server forks ({self.forks}): copy-on-write up to the dataset again"
            if self.forks
            else "the server never forks (no save schedule, no AOF)"
        )
        if self.forks and self.maxmemory:
            fork += f", {FORK_RESERVE:.0%} of maxmemory set aside = {mib(self.fork_reserve)}"
        if self.forks and self.measured_cow:
            fork += f", {mib(self.measured_cow)} taken by the last one"
        return (
            f"limit {mib(self.limit.value)} ({self.limit.source}); "
            f"maxmemory {shown} ({self.maxmemory_from}); "
            f"{fork}; client buffers {self.maxclients} clients x 32 KiB = {mib(self.clients)} "
            f"(maxclients from {self.maxclients_from})"
        )

    def sum(self, fork: int) -> str:
        """``maxmemory + fork + clients = total``, in MiB."""
        total = self.maxmemory + fork + self.clients
        return f"{mib(self.maxmemory)} + {mib(fork)} + {mib(self.clients)} = {mib(total)}"


def _directive(context: CheckContext, name: str) -> tuple[str, str]:
    """A directive's value and where it was read: the live server, else the deployment."""
    live = config_get(context.client, name)
    if live is not None:
        return live, f"{LIVE} {name}"
    service = context.service
    deployed = service.args.value(name)
    if deployed is not None:
        return deployed, f"--{name} in the command ({service.command_source})"
    return REDIS_DEFAULTS.get(
        name, ""
    ), f"Redis's default, no --{name} in the command ({service.command_source})"


def _forks(save: str, appendonly: str) -> str:
    reasons = [f"save '{save}'"] if save.strip() else []
    if appendonly == "yes":
        reasons.append("appendonly yes rewrites its AOF")
    return ", ".join(reasons)


def budget_of(context: CheckContext) -> Budget | None:
    """The budget of the context's deployment and server; None when the container has no limit."""
    limit = context.service.runtime.memory
    if limit is None or not limit.value:
        return None
    maxmemory, maxmemory_from = _directive(context, "maxmemory")
    maxclients, maxclients_from = _directive(context, "maxclients")
    save, _ = _directive(context, "save")
    appendonly, _ = _directive(context, "appendonly")
    try:
        persistence = info(context.client, "persistence")
    except Exception:  # INFO refused (ACL): no measured fork
        persistence = {}
    cow = max((int(persistence.get(name, 0) or 0) for name in COW_FIELDS), default=0)
    return Budget(
        limit=limit,
        maxmemory=parse_redis_size(maxmemory or "0"),
        maxmemory_from=maxmemory_from,
        maxclients=int(maxclients) if maxclients.isdigit() else 0,
        maxclients_from=maxclients_from,
        forks=_forks(save, appendonly),
        measured_cow=cow,
    )


def redis_size(size: int) -> str:
    """A size as redis.conf writes it, rounded down to whole MiB (``255mb``)."""
    return f"{size // MIB}mb"


def limit_size(size: int) -> str:
    """A container limit as compose writes it, rounded up to whole MiB (``825M``)."""
    return f"{-(-size // MIB)}M"
