"""What the eviction and persistence suites do to a server: fill it to its memory limit
(``fill``), record every acknowledged write with its time (``recorder``), and put a
server through restarts and crashes for each persistence mode (``modes``, ``lifecycle``).

Plain library code with no pytest in it, so the checks, the suites and the harness's
own tests drive real servers the same way.
"""
