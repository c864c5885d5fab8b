"""The live server: reaching and reading a running Redis.

One place for what every suite, doctor and the plugin do with a server that answers:
where it is and how to connect (``address``, ``clients``), the bytes on the wire
(``resp``), what it says about itself (``reads``), the keys the harness writes there
(``keys``, ``expiring``) and what its refusals mean (``refusals``). It knows nothing of
pytest, Docker, targets or checks, so each of them can build on it.
"""
