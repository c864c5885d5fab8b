"""Memory sizes read the way redis-server reads them (``memtoull`` in util.c).

``1k`` is 1000 and ``1kb`` is 1024, likewise m/mb and g/gb, in any case; a bare
number is bytes. No sign, no fraction, no space, nothing above 2**64 - 1.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"([0-9]+)(b|k|kb|m|mb|g|gb)?\Z", re.IGNORECASE)
_UNITS = {
    None: 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}
MAX_SIZE = 2**64 - 1
SIZE_FORMS = "a whole number of bytes, optionally with k, kb, m, mb, g or gb (1k = 1000, 1kb = 1024)"
TOO_LARGE = "larger than Redis accepts (2^64 - 1 bytes)"


def parse_redis_size(text: str) -> int:
    """Bytes for ``text``; ``ValueError`` (with the accepted forms) otherwise."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size: expected {SIZE_FORMS}")
    unit = match.group(2).lower() if match.group(2) else None
    value = int(match.group(1)) * _UNITS[unit]
    if value > MAX_SIZE:
        raise ValueError(f"{text!r} is {TOO_LARGE}")
    return value


def format_size(value: int) -> str:
    """A short human form (binary units) for messages."""
    for unit, factor in (("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if value >= factor and value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value} bytes"
