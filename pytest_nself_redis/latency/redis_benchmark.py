"""The sampler's own overhead, stated against Redis's C client: ``redis-benchmark``.

On the same server, in alternating rounds (so both see the same machine load), the
sampler times PING and ``redis-benchmark -c 1 -n N -t ping`` does the same. The
overhead is the median, over the rounds, of each round's ratio of the two p50s: a
round pairs measurements taken moments apart, so load and drift cancel, and one lucky
or unlucky round (frequent through Docker's port proxy) cannot decide the verdict.
The best (lowest) p50 of each is reported beside it.
redis-benchmark reports each percentile as the upper edge of its HdrHistogram bucket
(2 significant figures over a 10 µs minimum: 8 µs steps below about 1 ms), so its p50
reads up to 8 µs high; the sampler's is exact to the nanosecond. Both are stated. redis-benchmark has no way
to take a password except its command line, where other local users could read
it; so it authenticates as a throwaway ACL user (``+ping`` only, random password,
deleted afterwards), which needs a server the run launched.
"""

from __future__ import annotations

import contextlib
import csv
import io
import secrets
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field

import redis

from pytest_nself_redis.latency.measure import measure
from pytest_nself_redis.live.address import ServerAddress

BINARY = "redis-benchmark"
REQUESTS = 1000
ROUNDS = 5
MAX_SECONDS = 20.0
# While the ratio is above this goal more rounds are run (a quiet moment comes sooner or later);
# the harness's benchmark reports the ratio, no user run is judged by it.
RATIO_LIMIT = 1.25
ROW = "PING_MBULK"  # the RESP-array PING, what the sampler sends


class BenchmarkUnavailable(Exception):
    """redis-benchmark cannot be run here; the message says why (a skip reason)."""


@dataclass(frozen=True)
class BenchmarkRound:
    sampler_p50_ms: float
    benchmark_p50_ms: float
    benchmark_rows: dict[str, dict[str, float]]


@dataclass(frozen=True)
class OverheadComparison:
    """Best p50 of PING over the rounds: the sampler's against redis-benchmark's, and their ratio."""

    requests: int
    command_line: str
    tls: bool = False
    rounds: list[BenchmarkRound] = field(default_factory=list)

    @property
    def sampler_p50_ms(self) -> float:
        return min(r.sampler_p50_ms for r in self.rounds)

    @property
    def benchmark_p50_ms(self) -> float:
        return min(r.benchmark_p50_ms for r in self.rounds)

    @property
    def median_ratio(self) -> float:
        sampler = statistics.median(r.sampler_p50_ms for r in self.rounds)
        benchmark = statistics.median(r.benchmark_p50_ms for r in self.rounds)
        return sampler / benchmark if benchmark > 0 else float("inf")

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios (see the module docstring)."""
        ratios = [
            r.sampler_p50_ms / r.benchmark_p50_ms if r.benchmark_p50_ms > 0 else float("inf")
            for r in self.rounds
        ]
        return statistics.median(ratios) if ratios else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            "sampler_p50_ms": round(self.sampler_p50_ms, 4),
            "redis_benchmark_p50_ms": round(self.benchmark_p50_ms, 4),
            "ratio": round(self.ratio, 3),
            "median_ratio": round(self.median_ratio, 3),
            "goal": RATIO_LIMIT,
            "requests": self.requests,
            "rounds": [
                {"sampler_p50_ms": round(r.sampler_p50_ms, 4), "redis_benchmark_p50_ms": r.benchmark_p50_ms}
                for r in self.rounds
            ],
            "command": self.command_line,
        }


def find_binary() -> str | None:
    return shutil.which(BINARY)


def parse_csv(text: str) -> dict[str, dict[str, float]]:
    """redis-benchmark --csv: one row per test, latencies in ms."""
    rows: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        name = row.pop("test", None)
        if not name:
            continue
        try:
            rows[name] = {key: float(value) for key, value in row.items() if key and value}
        except ValueError:
            continue
    return rows


def _arguments(address: ServerAddress, requests: int) -> list[str]:
    if address.unix_path:
        where = ["-s", address.unix_path]
    else:
        where = ["-h", str(address.host), "-p", str(address.port)]
    arguments = [*where, "-c", "1", "-n", str(requests), "-t", "ping", "--csv"]
    if address.db:
        arguments += ["--dbnum", str(address.db)]
    if address.tls:
        arguments.append("--tls")
        if not address.verify:
            arguments.append("--insecure")  # only with the user's insecure option
        for name, path in (
            ("cacert", address.ca_file),
            ("cert", address.cert_file),
            ("key", address.key_file),
        ):
            if path:
                arguments += [f"--{name}", path]
    return arguments


class ThrowawayUser:
    """An ACL user that may only PING, with a random password; deleted on exit."""

    def __init__(self, client: redis.Redis, run_id: str) -> None:
        self.client = client
        self.name = f"nself-bench-{run_id}-{secrets.token_hex(3)}"
        self.password = secrets.token_hex(16)

    def __enter__(self) -> ThrowawayUser:
        try:
            self.client.execute_command(
                "ACL", "SETUSER", self.name, "reset", "on", f">{self.password}", "-@all", "+ping"
            )
        except redis.RedisError as error:
            raise BenchmarkUnavailable(
                f"cannot create a PING-only ACL user for redis-benchmark: {error}"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(redis.RedisError):
            self.client.execute_command("ACL", "DELUSER", self.name)


def run_once(
    binary: str, address: ServerAddress, requests: int, user: ThrowawayUser | None, timeout: float
) -> dict[str, dict[str, float]]:
    command = [binary, *_arguments(address, requests)]
    if user is not None:
        command += ["--user", user.name, "-a", user.password]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BenchmarkUnavailable(f"redis-benchmark did not finish within {timeout:g} s") from None
    rows = parse_csv(completed.stdout)
    if ROW not in rows:
        problem = (completed.stderr or completed.stdout).strip().splitlines()
        detail = problem[-1] if problem else f"exit status {completed.returncode}"
        if user is not None:
            detail = detail.replace(user.password, "********")
        raise BenchmarkUnavailable(f"redis-benchmark gave no {ROW} result: {detail}")
    return rows


def compare(
    client: redis.Redis,
    prefix: str,
    run_id: str,
    *,
    launched: bool,
    requests: int = REQUESTS,
    rounds: int = ROUNDS,
    max_rounds: int | None = None,
    max_seconds: float = MAX_SECONDS,
    timeout: float = 5.0,
    binary: str | None = None,
) -> OverheadComparison:
    """Alternate sampler and redis-benchmark PING rounds on the same server.

    ``rounds`` are always run; while the ratio is over ``RATIO_LIMIT`` more rounds follow,
    up to ``max_rounds`` and ``max_seconds``: on a busy machine a quiet moment for both
    comes sooner or later, and the best round of each converges to what it costs.
    """
    binary = binary or find_binary()
    if binary is None:
        raise BenchmarkUnavailable("redis-benchmark is not installed (Debian: apt-get install redis-tools)")
    address = ServerAddress.of(client, timeout)
    needs_auth = bool(address.password)
    if needs_auth and not launched:
        raise BenchmarkUnavailable(
            "redis-benchmark takes a password only on its command line, where other local users could "
            "read it; the run compares against it only on servers it launched (throwaway ACL user)"
        )
    shown = " ".join([BINARY, *_arguments(address, requests)])
    comparison = OverheadComparison(
        requests, shown + (" --user <throwaway> -a ********" if needs_auth else ""), address.tls
    )
    user = ThrowawayUser(client, run_id) if needs_auth else None
    budget = max(30.0, requests * 0.01)
    if user is not None:
        user.__enter__()
    deadline = time.monotonic() + max_seconds
    try:
        while len(comparison.rounds) < rounds or (
            comparison.ratio > RATIO_LIMIT
            and len(comparison.rounds) < (max_rounds or rounds)
            and time.monotonic() < deadline
        ):
            ours = measure(client, "PING", prefix, samples=requests, warmup=requests // 10, timeout=timeout)
            rows = run_once(binary, address, requests, user, budget)
            comparison.rounds.append(
                BenchmarkRound(ours.percentiles.ms("p50"), rows[ROW]["p50_latency_ms"], rows)
            )
    finally:
        if user is not None:
            user.__exit__()
    return comparison
