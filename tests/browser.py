"""Headless Chromium for the report tests: load a page with the network closed, dump its DOM
or screenshot it, and read the screenshot's pixels (a PNG decoder in the standard library)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

BROWSER_TIMEOUT = 90
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # Any attempt to reach the network fails: the report must stand on its own.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
_PNG = b"\x89PNG\r\n\x1a\n"
Pixels = list[list[tuple[int, int, int]]]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = "headless chromium check needs chromium (Debian: apt-get install -y chromium)"
    if os.environ.get("NSELF_REQUIRE_CHROMIUM", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"NSELF_REQUIRE_CHROMIUM is set but {reason}", pytrace=False)
    pytest.skip(reason)


def browse(page: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="nself-chromium-") as profile:
        return subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *mode, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT,
            check=False,
        )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == _PNG, "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    position = len(_PNG)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        yield kind, data[position + 8 : position + 8 + length]
        position += 12 + length


def _paeth(left: int, up: int, corner: int) -> int:
    estimate = left + up - corner
    near = min((abs(estimate - left), 0), (abs(estimate - up), 1), (abs(estimate - corner), 2))[1]
    return (left, up, corner)[near]


def png_pixels(path: Path) -> Pixels:
    """The RGB rows of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == _PNG, "not a PNG"
    chunks = list(_chunks(data))
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8, depth
    assert colour in (2, 6), colour
    assert not interlace
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for index in range(height):
        start = index * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            corner = previous[x - channels] if x >= channels else 0
            predictor = (0, left, previous[x], (left + previous[x]) // 2, _paeth(left, previous[x], corner))
            line[x] = (line[x] + predictor[kind]) & 0xFF
        rows.append([tuple(line[x : x + 3]) for x in range(0, stride, channels)])
        previous = line
    return rows  # type: ignore[return-value]


def count_colour(
    rows: list[list[tuple[int, int, int]]], colour: tuple[int, int, int], slack: int = 12
) -> int:
    """Pixels within ``slack`` of ``colour`` on every channel."""
    return sum(
        1
        for row in rows
        for pixel in row
        if all(abs(a - b) <= slack for a, b in zip(pixel, colour, strict=True))
    )
