"""The latency suite fails where it should, naming command, percentile, value and budget source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import redis

from pytest_nself_redis.checks import REGISTRY, CheckContext, Status
from pytest_nself_redis.checks.latency import DOCTOR_SAMPLES, DOCTOR_WARMUP
from pytest_nself_redis.latency import COMMANDS
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS, RunResult, make_project, run_suites
from tests.latency.proxy import DelayProxy

SUITE_TIMEOUT = 300


def _failed(result: RunResult, env: str) -> set[str]:
    return {name for name, outcome in result.outcomes(env).items() if outcome == "failed"}


def _attach(password: str, port: int) -> tuple[str, ...]:
    return ("--nself-target", "attach", "--nself-redis-url", f"redis://:{password}@127.0.0.1:{port}")


def test_a_slow_server_fails_every_command_naming_the_cause(launch: Launcher, tmp_path: Path) -> None:
    server = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = server.endpoint.password.reveal()
    with DelayProxy(server.endpoint.port, delay=0.003, max_connections=64) as proxy:
        result = run_suites(
            COMPLETE_WITHOUT_TLS,
            tmp_path,
            "-m",
            "latency",
            "--nself-env",
            "prod",
            *_attach(password, proxy.port),
            timeout=SUITE_TIMEOUT,
        )
    assert result.status == 1, result.output[-3000:]
    assert _failed(result, "prod") == {f"test_round_trips_within_budget[{command}]" for command in COMMANDS}
    for command in COMMANDS:
        details = result.case(f"test_round_trips_within_budget[{command}]").details
        budget = "2 ms" if command == "PIPELINE" else "1 ms"
        pattern = rf"{command} p50 = \d+\.\d\d ms is over its budget of {budget} \(default for prod\)"
        assert re.search(pattern, details), details
        assert "a first sample was over budget too" in details
        assert "so it is no passing stall" in details
    assert password not in result.output
    # Safe on a server it did not launch: no key left behind, no user added.
    client = server.client()
    assert client.keys("*") == []
    assert client.execute_command("ACL", "USERS") == ["default"]


def test_a_passing_stall_is_sampled_again_and_only_warned(launch: Launcher) -> None:
    # Only the first sample's round trips are slow: the machine stalled, the server did not.
    server = launch(COMPLETE_WITHOUT_TLS, "prod")
    with DelayProxy(server.endpoint.port, delay=0.003) as proxy:
        client = redis.Redis(port=proxy.port, password=server.endpoint.password.reveal())
        client.ping()  # connected: the samples go over this connection
        proxy.delayed_requests = proxy.forwarded_requests + DOCTOR_WARMUP + DOCTOR_SAMPLES
        result = REGISTRY.run("latency.ping", CheckContext.of(server, client=client))
        client.close()
    assert result.status is Status.WARNING, result.message
    # The first sample's percentiles over budget (p50 at least; a loaded machine may add others).
    first = r"PING p50 = \d+\.\d\d ms is over its budget of 1 ms \(default for prod\)"
    assert re.match(first, result.message)
    assert " in a first sample, within budget in a second: a passing stall" in result.message
    assert result.measured["over_budget"] == []
    assert proxy.connections == 1, "both samples go over the client's own connection"


def test_budgets_from_every_source_are_applied_and_named(tmp_path: Path) -> None:
    line = len((COMPLETE_WITHOUT_TLS / ".env.prod").read_text().splitlines()) + 1
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={".env.prod": "REDIS_LATENCY_BUDGET_GET_P50=1us"},
    )
    result = run_suites(
        project,
        tmp_path,
        "-m",
        "latency",
        "--nself-env",
        "prod",
        "--nself-target",
        "process",
        "--nself-budget",
        "SET:p99=0.001",
        "-o",
        "nself_budget=INCR:p50=0.001",
        env={"NSELF_BUDGET": "HSET:p50=0.001"},
        timeout=SUITE_TIMEOUT,
    )
    assert result.status == 1, result.output[-3000:]
    expected = {
        "GET": (
            r"GET p50 = .* is over its budget of 0\.001 ms "
            rf"\(REDIS_LATENCY_BUDGET_GET_P50=1us \(\.env\.prod:{line}\)\)"
        ),
        "SET": r"SET p99 = .* is over its budget of 0\.001 ms \(option --nself-budget SET:p99=0\.001\)",
        "INCR": r"INCR p50 = .* is over its budget of 0\.001 ms \(ini nself_budget INCR:p50=0\.001\)",
        "HSET": r"HSET p50 = .* is over its budget of 0\.001 ms \(NSELF_BUDGET HSET:p50=0\.001\)",
    }
    assert _failed(result, "prod") == {f"test_round_trips_within_budget[{command}]" for command in expected}
    for command, pattern in expected.items():
        details = result.case(f"test_round_trips_within_budget[{command}]").details
        assert re.search(pattern, details), details
    # The defaults held for the rest, and the sources reach the report and the benchmark JSON.
    assert result.case("test_round_trips_within_budget[PING]").outcome == "passed"
    report = (result.reports / "report-prod.html").read_text()
    assert f"REDIS_LATENCY_BUDGET_GET_P50=1us (.env.prod:{line})" in report
    assert report.count('data-over-budget="true"') == 4
    document = json.loads((result.reports / "benchmark-prod.json").read_text())
    get = next(entry for entry in document["benchmarks"] if entry["param"] == "GET")
    assert get["extra_info"]["budgets_ms"]["p50"]["source"].startswith("REDIS_LATENCY_BUDGET_GET_P50=1us")


def test_an_unreadable_budget_stops_the_suite_with_its_origin(tmp_path: Path) -> None:
    result = run_suites(
        COMPLETE_WITHOUT_TLS,
        tmp_path,
        "-m",
        "latency",
        "--nself-env",
        "dev",
        "--nself-target",
        "process",
        "--nself-budget",
        "GET:p99=fast",
        timeout=SUITE_TIMEOUT,
    )
    assert result.status == 1, result.output[-3000:]
    assert set(result.outcomes("dev").values()) == {"error"}
    assert "latency budget 'GET:p99=fast' (option --nself-budget) is not CMD:PCT=MS" in result.output
    assert "Traceback" not in result.output


BUSY_SCRIPT = """
local start = redis.call('TIME')
local began = start[1] * 1000000 + start[2]
repeat
  local now = redis.call('TIME')
until (now[1] * 1000000 + now[2]) - began >= tonumber(ARGV[1])
return 1
"""


def test_slow_commands_on_the_server_are_reported(launch: Launcher, tmp_path: Path) -> None:
    server = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = server.client()
    sha = client.script_load(BUSY_SCRIPT)
    for _ in range(20):
        client.evalsha(sha, 0, 3000)  # 3 ms each: server-side EVALSHA p50 over prod's 1 ms
    client.eval(BUSY_SCRIPT, 0, 120_000)  # one 120 ms EVAL: in SLOWLOG, over every budget
    result = run_suites(
        COMPLETE_WITHOUT_TLS,
        tmp_path,
        "-m",
        "latency",
        "-k",
        "slowlog or server_side",
        "--nself-env",
        "prod",
        *_attach(server.endpoint.password.reveal(), server.endpoint.port),
        timeout=SUITE_TIMEOUT,
    )
    assert result.status == 0, result.explain()
    assert result.outcomes("prod") == {
        "test_slowlog_within_budget": "passed",
        "test_server_side_within_budget": "passed",
    }
    output = " ".join(result.output.split())
    assert "PromiseWarning" in output
    assert re.search(r"SLOWLOG entries over budget: #\d+ EVAL .* took 1\d\d\.\d\d ms", output), output[-3000:]
    assert "over 50 ms (default for prod)" in output
    assert re.search(r"server-side EVALSHA p50 = \d\.\d\d ms is over the round-trip budget of 1 ms", output)
