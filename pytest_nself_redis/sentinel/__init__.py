"""Sentinel deployments: what they say about themselves (``readings``, safe anywhere) and a
real failover of a launched topology, measured (``failover``).

Plain library code with no pytest in it, like ``durability``: the checks, the suites and the
harness's own tests drive real topologies the same way.
"""
