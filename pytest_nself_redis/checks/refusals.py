"""One cause, one failure: the refusals a whole server gives for one reason, and the health
check that names that reason.

A server whose last background save failed refuses every write (and PING) with MISCONF; a
replica refuses writes with READONLY; and so on. Every check that writes then fails quoting
the same refusal. Each refusal (recognised by ``live.refusals``) has a root-cause check here
(the one that says why); another check's error quoting the refusal, while that check fails
too, is reported as blocked by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_nself_redis.live import refusals as live
from pytest_nself_redis.live.refusals import ServerWide


@dataclass(frozen=True)
class Refusal:
    kind: ServerWide
    root: str
    remedy: str

    @property
    def code(self) -> str:
        return self.kind.code


REFUSALS = (
    Refusal(
        live.MISCONF_RDB,
        "health.rdb_status",
        "the last background save failed, and with stop-writes-on-bgsave-error yes Redis refuses every "
        "write until one succeeds: free disk space or fix the owner of the data dir, then BGSAVE",
    ),
    Refusal(
        live.MISCONF_AOF,
        "health.aof_status",
        "writing the append-only file failed: free disk space or fix the owner of the data dir",
    ),
    Refusal(
        live.NOREPLICAS,
        "health.writes",
        "min-replicas-to-write asks for replicas this server does not have; nself runs one "
        "standalone Redis, so set min-replicas-to-write 0 where the server's config sets it",
    ),
    Refusal(
        live.READONLY,
        "health.primary",
        "this server is a read-only replica: point clients at the primary, or make it one (REPLICAOF NO ONE)",
    ),
    Refusal(
        live.OOM,
        "health.memory",
        "used_memory is over maxmemory and the policy refuses writes: raise REDIS_MAXMEMORY or free memory",
    ),
    Refusal(
        live.LOADING,
        "health.loading",
        "the server is still loading its dataset: wait until INFO says loading:0",
    ),
)
ROOTS = frozenset(refusal.root for refusal in REFUSALS)


def refusal_in(text: str) -> Refusal | None:
    """The server-wide refusal a message quotes, if any."""
    kind = live.server_wide(text)
    return next((refusal for refusal in REFUSALS if refusal.kind is kind), None)
