"""operations: what an operator watches on a running server, beyond the contract: security
posture, memory as MEMORY DOCTOR sees it, clients, latency causes, the host's kernel, and the
application's keys from a bounded scan. Every check is safe (doctor runs them): each reads, and
one that cannot read what it needs (INFO or CONFIG refused or renamed) is unknown (skipped with
the reason), never failed."""

# Declaration order is doctor's report order: the engine first, the keyspace scan last.
# isort: off
from pytest_nself_redis.checks.operations import security, memory, clients, pubsub, latency, host, keyspace
# isort: on

__all__ = ["clients", "host", "keyspace", "latency", "memory", "pubsub", "security"]
