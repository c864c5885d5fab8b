"""eviction: at maxmemory each policy does what Redis documents.

The policy checks (``policies``, one family per promise over the policies it concerns)
launch a server for one policy (a variant of the env's target, through the ``launch``
input) and use Redis's own technique (``technique``): the limit is set just above the
memory in use, keys are written until the limit is near, then as many again. They judge
behaviour only (what was evicted, what was refused, where memory ended) and name the policy
the server really runs, so a server that applies another policy fails them.
``eviction.configured_policy`` (``configured``) runs the same technique on the env's own
server at the configured ``REDIS_MAXMEMORY`` (scaled down when filling it would take more
than a few seconds) and names the layer where the promise broke. None is safe for doctor.
"""

from pytest_nself_redis.checks.eviction import configured, policies
from pytest_nself_redis.checks.eviction.configured import configured_policy_holds
from pytest_nself_redis.checks.eviction.policies import (
    memory_limit_is_honoured,
    persistent_keys_are_spared,
    plain_keys_follow_the_policy,
    policy_keeps_the_right_keys,
)
from pytest_nself_redis.checks.eviction.technique import POLICIES, PREFERENCES, VOLATILE

__all__ = [
    "POLICIES",
    "PREFERENCES",
    "VOLATILE",
    "configured",
    "configured_policy_holds",
    "memory_limit_is_honoured",
    "persistent_keys_are_spared",
    "plain_keys_follow_the_policy",
    "policies",
    "policy_keeps_the_right_keys",
]
