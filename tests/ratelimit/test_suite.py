"""The ratelimit suite run as a user runs it: green for every built-in limiter on the
complete example (dev, staging, prod; process, and docker once), safe on attach, and
failing by name on each broken limiter and on a deployment whose limiter keys leak."""

from __future__ import annotations

import math
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.checks import ratelimit as checks
from pytest_nself_redis.project.model import NselfProject
from tests.conftest import Launcher
from tests.harness import COMPLETE, REPO, RunResult, assert_nothing_left, make_project, run_suites

N = {"dev": 100, "staging": 20, "prod": 10}  # AUTH_RATE_LIMIT_MAX_REQUESTS of the complete example
BUILTINS = ("token-bucket", "sliding-log", "sliding-counter", "nself-fixed-window", "nself-sliding-window")
IMPORTABLE = {"PYTHONPATH": str(REPO)}  # so the subprocess can import tests.ratelimit.broken


def properties(result: RunResult, env: str, test: str) -> dict[str, str]:
    root = ET.parse(result.reports / f"junit-{env}.xml").getroot()
    for case in root.iter("testcase"):
        if case.get("name", "").startswith(test):
            return {prop.get("name", ""): prop.get("value", "") for prop in case.iter("property")}
    raise AssertionError(f"{test} not in junit-{env}.xml")


def line_of(details: str, limiter: str) -> str:
    """The line of one limiter in a combined message: ``FAILED: [name] Promise: ...``."""
    lines = [line.strip() for line in details.splitlines() if f"[{limiter}] Promise" in line]
    assert lines, f"no line for [{limiter}] in:\n{details[:3000]}"
    return lines[0]


def failed(result: RunResult) -> set[str]:
    return {name for name, outcome in result.outcomes().items() if outcome == "failed"}


def test_green_for_every_builtin_limiter_on_dev_staging_prod(tmp_path: Path, run_id: str) -> None:
    started = time.monotonic()
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "dev,staging,prod",
        "--nself-target",
        "process",
        "-m",
        "ratelimit",
        "--durations=0",
        env={"NSELF_RUN_ID": run_id},
    )
    seconds = time.monotonic() - started
    print(f"ratelimit suite, 3 envs on process: {seconds:.1f}s")
    assert result.status == 0, result.output[-4000:]
    for env, n in N.items():
        outcomes = result.outcomes(env)
        assert len(outcomes) == 9, outcomes
        assert set(outcomes.values()) == {"passed"}, outcomes
        concurrency = properties(result, env, "test_exact_counts_under_concurrency")
        for limiter in BUILTINS:
            assert concurrency[f"{limiter}.threads"] == "50"
            assert concurrency[f"{limiter}.processes"] == "4"
            assert concurrency[f"{limiter}.allowed"] == str(n)
        burst = properties(result, env, "test_no_burst_beyond_the_bound")
        # the fixed window's boundary burst, measured: N - 1 just before the boundary, N at it
        assert burst["nself-fixed-window.max_in_one_window"] == str(2 * n - 1)
        assert burst["sliding-log.max_in_one_window"] == str(n)
        assert burst["nself-sliding-window.max_in_one_window"] == str(n)
        # the counter blocks the boundary burst: N - 1 before it, then only what one W/20 step frees
        assert int(burst["sliding-counter.at_boundary"]) <= n + math.ceil(n / 20)
        assert f"Documented weakness of fixed windows: {2 * n - 1} hits passed within W/5" in result.stdout
    report = (result.reports / "report-staging.html").read_text()
    assert "ratelimit: concurrency (one key, all callers released at once)" in report
    assert "ratelimit: bursts" in report
    # the eviction policy's risk: dev's allkeys-lru warns (and the demonstration shows a reset),
    # prod noeviction keeps limits
    assert "Risk: under allkeys-lru a full Redis may evict any key" in result.stdout
    assert "REDIS_MAXMEMORY_POLICY=allkeys-lru (.env.dev:5)" in result.stdout
    assert "the next hit was allowed (its limit was reset)" in result.stdout
    assert (
        properties(result, "prod", "test_eviction_under_the_configured_policy")["hit_after"] == "still denied"
    )
    durations = [float(x) for x in re.findall(r"^([\d.]+)s call .*test_ratelimit", result.stdout, re.M)]
    print(f"slowest ratelimit test: {max(durations):.2f}s; all calls: {sum(durations):.1f}s")
    assert seconds < 180, f"3 envs took {seconds:.0f}s (goal: under 20 s per env)"
    assert_nothing_left(run_id, docker=False)


@pytest.mark.docker
def test_green_on_docker(tmp_path: Path, run_id: str, docker_engine: None) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "docker",
        "-m",
        "ratelimit",
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.output[-4000:]
    assert set(result.outcomes("staging").values()) == {"passed"}
    assert properties(result, "staging", "test_exact_counts_under_concurrency")["sliding-log.allowed"] == "20"
    assert_nothing_left(run_id, docker=True)


def test_safe_on_attach_leaves_no_key(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    client = target.client()
    client.set("app:data", "kept")
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://:{target.endpoint.password.reveal()}@127.0.0.1:{target.endpoint.port}",
        "-m",
        "ratelimit",
    )
    assert result.status == 0, result.explain()
    outcomes = result.outcomes("staging")
    assert outcomes.pop("test_eviction_under_the_configured_policy") == "skipped"  # launches a variant
    # 90 connections from 4 processes: load is not for someone's server unless allowed.
    assert outcomes.pop("test_exact_counts_under_concurrency") == "skipped"
    assert "pass --nself-allow-destructive" in result.case("test_exact_counts_under_concurrency").message
    assert set(outcomes.values()) == {"passed"}
    assert client.keys("*") == ["app:data"]


def test_each_broken_limiter_is_caught_by_its_check(tmp_path: Path) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "ratelimit",
        "--nself-limiter",
        "tests.ratelimit.broken:BROKEN_LIMITERS",
        env=IMPORTABLE,
    )
    assert result.status == 1, result.output[-3000:]
    caught = {
        ("test_exactly_n_then_denied", "off-by-one"): "21 passed, one more than N (off by one)",
        ("test_exact_counts_under_concurrency", "non-atomic"): "the limiter is not atomic",
        ("test_keys_are_namespaced_with_ttls", "missing-ttl"): "without a TTL, never expiring (a leak)",
        ("test_keys_are_namespaced_with_ttls", "unnamespaced"): "key(s) outside the namespace: unnamespaced:",
        ("test_one_clock", "skewed-clocks"): "their clocks differ by about 5.0",
        ("test_no_burst_beyond_the_bound", "fake-sliding"): "at most 39 in any window-long span",
        ("test_no_burst_beyond_the_bound", "overfilling-bucket"): "over B + r*t = 20",
        ("test_allowed_again_after_the_window", "missing-ttl"): "at t0+1.01W 0 allowed, expected 20",
    }
    assert failed(result) == {test for test, _ in caught}, result.output[-3000:]
    for (test, limiter), cause in caught.items():
        line = line_of(result.case(test).details, limiter)
        assert line.startswith(f"FAILED: [{limiter}]"), line
        assert cause in line, line
        assert "AUTH_RATE_LIMIT_MAX_REQUESTS=20 (.env.staging:6)" in line
    # the built-ins in the same run keep every promise
    for test in {test for test, _ in caught}:
        for limiter in BUILTINS:
            # the fixed window's boundary burst and the counter's approximation are warnings
            assert line_of(result.case(test).details, limiter).startswith(
                (f"kept: [{limiter}]", f"WARNING: [{limiter}]")
            )
    burst = properties(result, "staging", "test_no_burst_beyond_the_bound")
    assert burst["nself-fixed-window.max_in_one_window"] == "39"


def test_a_nself_limiters_fixture_replaces_the_list(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "conftest.py").write_text(
        "import pytest\n"
        "from pytest_nself_redis.ratelimit import SLIDING_LOG_SPEC\n"
        "from tests.ratelimit.broken import OFF_BY_ONE_SPEC\n\n\n"
        "@pytest.fixture\n"
        "def nself_limiters():\n"
        "    return [SLIDING_LOG_SPEC, OFF_BY_ONE_SPEC]\n"
    )
    result = run_suites(
        project,
        project,
        "--nself-env",
        "prod",
        "--nself-target",
        "process",
        "-k",
        "exactly_n",
        env=IMPORTABLE,
    )
    assert failed(result) == {"test_exactly_n_then_denied"}, result.output[-3000:]
    details = result.case("test_exactly_n_then_denied").details
    assert "11 passed, one more than N (off by one)" in line_of(details, "off-by-one")
    assert "as promised" in line_of(details, "sliding-log")
    assert "[token-bucket]" not in details  # the fixture replaced the built-ins


def test_a_bad_limiter_path_is_a_clear_failure(tmp_path: Path) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-target",
        "process",
        "-k",
        "exactly_n",
        "--nself-limiter",
        "no_such_module_xyz:limiter",
    )
    assert result.status == 1
    assert "--nself-limiter no_such_module_xyz:limiter: cannot import 'no_such_module_xyz'" in result.output


def test_leaking_deployment_keys_are_caught(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    client = target.client()
    client.set("ratelimit:login:198.51.100.4", 0)  # a countdown that lost its TTL: limited for ever
    client.zadd("ratelimit:sliding:api:tenant-7", {"1700000000000-1": 1700000000000})
    client.pexpire("ratelimit:sliding:api:tenant-7", 3_600_000)
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://:{target.endpoint.password.reveal()}@127.0.0.1:{target.endpoint.port}",
        "-m",
        "ratelimit",
        "-k",
        "deployment",
    )
    assert failed(result) == {"test_deployment_limiter_keys_expire"}, result.output[-3000:]
    details = result.case("test_deployment_limiter_keys_expire").details
    assert "ratelimit:login:198.51.100.4 (string) has no TTL and never expires" in details
    assert "ratelimit:sliding:api:tenant-7 (zset) PTTL=" in details
    assert "is longer than the window" in details
    assert "AUTH_RATE_LIMIT_WINDOW=60 (.env.dev:16)" in details


@pytest.mark.parametrize(
    ("overrides", "extra_args", "status", "words"),
    [
        ({}, (), "warning", "Risk: under allkeys-lru"),
        ({"REDIS_MAXMEMORY_POLICY": "volatile-ttl"}, (), "warning", "every limiter key carries one"),
        ({"REDIS_MAXMEMORY_POLICY": "noeviction"}, (), "ok", "Kept: under noeviction"),
        ({}, ("--maxmemory-policy", "noeviction"), "ok", "live noeviction"),
        ({"AUTH_RATE_LIMIT_STORE": "memory"}, (), "skipped", "not kept in Redis"),
    ],
)
def test_eviction_risk_names_the_policy_and_its_source(
    launch: Launcher, overrides: dict[str, str], extra_args: tuple[str, ...], status: str, words: str
) -> None:
    target = launch(COMPLETE, "dev", extra_args=extra_args, **overrides)  # dev: allkeys-lru
    context = CheckContext.of(target)
    result = checks.eviction_risk(context)
    assert result.status.value == status, result.message
    assert words in result.message
    if status != "skipped":
        assert "REDIS_MAXMEMORY_POLICY=" in result.message


def test_settings_choose_n_and_w() -> None:
    settings = NselfProject.open(COMPLETE).settings("prod")
    contract = checks.contract_of(settings)
    assert (contract.limit, contract.window) == (10, 60.0)
    assert "AUTH_RATE_LIMIT_MAX_REQUESTS=10 (.env.prod:14)" in contract.cite


def test_registered_checks_clean_up_after_themselves(launch: Launcher) -> None:
    """What doctor would run (safe checks over the built-ins) leaves no key behind."""
    from pytest_nself_redis.checks import REGISTRY

    target = launch(COMPLETE, "prod")
    client = target.client()
    context = CheckContext.of(target, client)
    safe = [
        check_id
        for check_id, registered in REGISTRY.items()
        if registered.suite == "ratelimit" and registered.safe
    ]
    assert "ratelimit.concurrency" not in safe  # load: not for a production server
    for check_id in safe:
        result = REGISTRY.run(check_id, context)
        assert result.status.value in ("ok", "warning"), result.message
    assert client.dbsize() == 0
