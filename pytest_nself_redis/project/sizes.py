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


_DOCKER_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+) ?([kmgtp]?)(i?b)?\Z", re.IGNORECASE)
DOCKER_SIZE_FORMS = (
    "a number of bytes, optionally with b, k, m, g, t or p (binary: 1k = 1024; kb, kib, MB ... too), "
    "e.g. 512M or 1g"
)


def parse_docker_size(text: str) -> int:
    """Bytes for a container memory size as Docker reads it (``RAMInBytes`` of go-units, which
    compose uses): a number, maybe with a fraction, then b, or k/m/g/t/p with an optional b or
    ib, in any case, all binary; ``ValueError`` otherwise."""
    match = _DOCKER_SIZE.match(text.strip())
    if match is None or (match.group(3) and match.group(3).lower() == "ib" and not match.group(2)):
        raise ValueError(f"{text!r} is not a size: expected {DOCKER_SIZE_FORMS}")
    power = " kmgtp".index(match.group(2).lower() or " ")
    number = float(match.group(1)) * 1024**power
    if number > MAX_SIZE:  # also inf, for hundreds of digits
        raise ValueError(f"{text!r} is larger than any machine's memory (2^64 - 1 bytes)")
    return int(number)
