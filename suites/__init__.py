"""The bundled suites: one module per promise family, one test per promise.

Shipped inside the package as ``pytest_nself_redis.suites`` so that
``nself-redis check`` and ``pytest --pyargs pytest_nself_redis.suites`` find them.
"""
