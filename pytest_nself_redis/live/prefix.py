"""The key prefix every harness write lives under, and how long such a key may outlive a run.

A module of its own so a caller that talks raw RESP (``nself-redis probe``) can name its
keys without loading redis-py with ``expiring``.
"""

HARNESS_PREFIX = "nself-harness:"
SCRATCH_TTL_SECONDS = 120
