"""Seconds as users write them on a command line, in an environment variable or an ini file,
and milliseconds as messages and reports show them.

One rule for every timeout and deadline of the plugin and the CLI: a finite number above
0 and at most a day (larger values overflow socket timeouts, and nan or inf would mean
"never", which no bounded run may allow).
"""

from __future__ import annotations

import math

MAX_SECONDS = 86400.0


def parse_seconds(text: str) -> float:
    """The seconds ``text`` states; ValueError saying what is expected otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SECONDS:  # also refuses nan
        raise ValueError(f"expected seconds, more than 0 and at most {MAX_SECONDS:g}")
    return value


def format_ms(value_ms: float) -> str:
    """Readable at every scale: 0.0312 ms -> '31.2 µs', 4.5 -> '4.50 ms'."""
    if value_ms < 0.001:
        return f"{value_ms * 1e6:.0f} ns"
    if value_ms < 1:
        return f"{value_ms * 1000:.1f} µs"
    if value_ms < 100:
        return f"{value_ms:.2f} ms"
    return f"{value_ms:.0f} ms"
