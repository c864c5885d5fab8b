"""MEMORY DOCTOR's own thresholds, as data: the operations checks judge by them and doctor's
Nagios perfdata warns at them (so the formats need not load the checks for a constant).

It says nothing about an instance using under 5 MB; above that, fragmentation is high when
``mem_fragmentation_ratio`` (RSS / used) is over 1.4 and more than 10 MB are wasted, and the
peak is high when ``used_memory_peak`` is over 1.5 times ``used_memory``.
"""

EMPTY_BYTES = 5 * 1024 * 1024
FRAGMENTATION_RATIO = 1.4
FRAGMENTATION_BYTES = 10 * 1024 * 1024
PEAK_RATIO = 1.5
