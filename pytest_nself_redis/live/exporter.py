"""The real redis_exporter (Debian's ``prometheus-redis-exporter``, or ``redis_exporter``) run
against a server once: started on a loopback port, scraped, stopped.

Configured only through its environment, as a container is (``REDIS_ADDR``, and
``REDIS_PASSWORD`` where the address carries none): the password never reaches a command line.
The child gets nothing else of this process's environment, so a ``REDIS_PASSWORD`` of the
caller's shell cannot leak in. Every step is bounded: the start, the scrape, the exporter's
own connection to Redis, and the stop.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

from pytest_nself_redis.live.loopback import LOOPBACK, free_loopback_port

BINARIES = ("prometheus-redis-exporter", "redis_exporter")
START_SECONDS = 5.0
SCRAPE_SECONDS = 5.0
STOP_SECONDS = 2.0
# The exporter's own timeout for reaching Redis (its default is 15 s).
CONNECTION_TIMEOUT = "3s"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_ERR_LABEL = re.compile(r'err="((?:[^"\\]|\\.)*)"')


class ExporterUnavailable(Exception):
    """The exporter is not installed, or did not start or answer; the message says which."""


def exporter_binary() -> str | None:
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


@dataclass
class Scrape:
    """What one scrape of /metrics showed: each sample's value by metric name (the first of a
    labelled family), the exporter's error for its last scrape of Redis, and its log."""

    values: dict[str, float]
    scrape_error: str
    log: str
    seconds: float

    @property
    def up(self) -> float | None:
        return self.values.get("redis_up")

    def log_errors(self) -> list[str]:
        """The exporter's error lines (it masks a URL's password itself)."""
        return [
            line.strip() for line in self.log.splitlines() if "level=error" in line or "level=fatal" in line
        ]


def parse_metrics(text: str) -> tuple[dict[str, float], str]:
    """Prometheus text exposition: each metric's first sample, and the ``err`` label of
    ``redis_exporter_last_scrape_error``."""
    values: dict[str, float] = {}
    error = ""
    for line in text.splitlines():
        found = _SAMPLE.match(line)
        if found is None:
            continue
        name, labels, raw = found.groups()
        try:
            values.setdefault(name, float(raw))
        except ValueError:
            continue
        if name == "redis_exporter_last_scrape_error" and labels:
            err = _ERR_LABEL.search(labels)
            error = err.group(1) if err else error
    return values, error


def _listening(port: int, process: subprocess.Popen[bytes], ends: float) -> None:
    """Until the exporter listens: a refused connect costs next to nothing, so poll it often
    (its start is some 100 ms; a coarse poll added up to a poll's length to every scrape)."""
    while time.monotonic() < ends:
        if process.poll() is not None:
            raise ExporterUnavailable(f"the exporter exited with status {process.returncode} at start")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.005)
    raise ExporterUnavailable(f"the exporter did not listen on {LOOPBACK}:{port} within {START_SECONDS:g} s")


def _get(port: int) -> str:
    # Imported here: about 3 ms doctor spends only when an exporter runs (not on a TLS server).
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=SCRAPE_SECONDS) as reply:
            body: bytes = reply.read()
    except (urllib.error.URLError, OSError) as problem:
        raise ExporterUnavailable(f"GET /metrics failed: {problem}") from None
    return body.decode("utf-8", "replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)


def scrape_once(environment: dict[str, str], binary: str | None = None) -> Scrape:
    """Start the exporter with ``environment`` (REDIS_ADDR, REDIS_PASSWORD, ...) on a free
    loopback port, scrape /metrics once, stop it (raises ExporterUnavailable)."""
    binary = binary or exporter_binary()
    if binary is None:
        raise ExporterUnavailable(f"neither {' nor '.join(BINARIES)} is installed here")
    port = free_loopback_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f"{LOOPBACK}:{port}",
        "REDIS_EXPORTER_CONNECTION_TIMEOUT": CONNECTION_TIMEOUT,
        "REDIS_EXPORTER_REDIS_ONLY_METRICS": "true",
        **environment,
    }
    started = time.monotonic()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _listening(port, process, started + START_SECONDS)
            text = _get(port)
        except ExporterUnavailable as problem:
            _stop(process)
            log.seek(0)
            tail = " | ".join(log.read().decode("utf-8", "replace").strip().splitlines()[-3:])
            raise ExporterUnavailable(f"{problem} (its log: {tail or 'empty'})") from None
        finally:
            _stop(process)
            log.seek(0)
            logged = log.read().decode("utf-8", "replace")
    values, error = parse_metrics(text)
    return Scrape(values, error, logged, round(time.monotonic() - started, 3))
