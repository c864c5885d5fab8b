"""headroom: Redis fits its container's memory limit, with room for a fork and client buffers.

``budget`` does the arithmetic, ``fits`` checks it (any target, doctor-safe), ``proof`` shows
the consequence on a small container (docker target only: fill it until the kernel kills it,
then count the acknowledged writes that are gone).
"""

from pytest_nself_redis.checks.headroom import fits, proof
from pytest_nself_redis.checks.headroom.budget import Budget, budget_of

__all__ = ["Budget", "budget_of", "fits", "proof"]
