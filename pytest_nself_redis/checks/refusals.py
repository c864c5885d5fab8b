"""One cause, one failure: the refusals a whole server gives for one reason, and the health
check that names that reason.

A server whose last background save failed refuses every write (and PING) with MISCONF; a
replica refuses writes with READONLY; and so on. Every check that writes then fails quoting
the same refusal. Each refusal below has a root-cause check (the one that says why); another
check's error quoting the refusal, while that check fails too, is reported as blocked by it.
The patterns match Redis's words with and without the error code, which redis-py drops for
the errors it has classes for (OOM, LOADING, READONLY).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    code: str
    root: str
    pattern: re.Pattern[str]
    remedy: str


REFUSALS = (
    Refusal(
        "MISCONF",
        "health.rdb_status",
        re.compile(r"MISCONF Redis is configured to save RDB snapshots"),
        "the last background save failed, and with stop-writes-on-bgsave-error yes Redis refuses every "
        "write until one succeeds: free disk space or fix the owner of the data dir, then BGSAVE",
    ),
    Refusal(
        "MISCONF",
        "health.aof_status",
        re.compile(r"MISCONF (Errors writing to the AOF file|Redis is configured to persist data to AOF)"),
        "writing the append-only file failed: free disk space or fix the owner of the data dir",
    ),
    Refusal(
        "NOREPLICAS",
        "health.writes",
        re.compile(r"Not enough good replicas to write"),
        "min-replicas-to-write asks for replicas this server does not have; nself runs one "
        "standalone Redis, so set min-replicas-to-write 0 where the server's config sets it",
    ),
    Refusal(
        "READONLY",
        "health.primary",
        re.compile(r"You can't write against a read only replica|script with write flag on readonly replica"),
        "this server is a read-only replica: point clients at the primary, or make it one (REPLICAOF NO ONE)",
    ),
    Refusal(
        "OOM",
        "health.memory",
        re.compile(r"command not allowed when used memory > 'maxmemory'"),
        "used_memory is over maxmemory and the policy refuses writes: raise REDIS_MAXMEMORY or free memory",
    ),
    Refusal(
        "LOADING",
        "health.loading",
        re.compile(r"Redis is loading the dataset in memory"),
        "the server is still loading its dataset: wait until INFO says loading:0",
    ),
)
ROOTS = frozenset(refusal.root for refusal in REFUSALS)


def refusal_in(text: str) -> Refusal | None:
    """The server-wide refusal a message quotes, if any."""
    return next((refusal for refusal in REFUSALS if refusal.pattern.search(text)), None)
