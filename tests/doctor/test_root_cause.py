"""One cause, one failure: a server whose last background save failed refuses writes (and PING)
with MISCONF. doctor names the failed save once and marks every check that only quotes the
refusal as blocked by it, in the terminal, in JSON and in Nagios."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import redis

from pytest_nself_redis.targets.base import Target
from pytest_nself_redis.targets.process import ProcessTarget
from tests.conftest import Launcher
from tests.doctor.test_doctor import as_json, doctor, url
from tests.harness import COMPLETE_WITHOUT_TLS, run_suites


def failed_save(launch: Launcher) -> Target:
    """A prod server whose BGSAVE failed (its data dir is gone); AOF appends still work."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    assert isinstance(target, ProcessTarget)
    client = target.client()
    shutil.rmtree(target.data_dir)
    with contextlib.suppress(redis.exceptions.ResponseError):
        client.bgsave()
    deadline = time.monotonic() + 10
    while client.info("persistence")["rdb_last_bgsave_status"] != "err":
        assert time.monotonic() < deadline, "BGSAVE did not fail"
        time.sleep(0.05)
    return target


def test_a_failed_save_is_one_root_cause(launch: Launcher) -> None:
    target = failed_save(launch)
    completed = doctor("--redis-url", url(target), "--json")
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    document = as_json(completed)
    errors = [check for check in document["checks"] if check["status"] == "error"]
    roots = [check for check in errors if check["blocked_by"] is None]
    assert [check["id"] for check in roots] == ["health.rdb_status"], [(c["id"], c["message"]) for c in roots]
    assert "rdb_last_bgsave_status=err" in roots[0]["message"]
    blocked = [check for check in errors if check["blocked_by"] is not None]
    assert len(blocked) >= 10, [check["id"] for check in blocked]
    ids = {check["id"] for check in blocked}
    assert {"health.ping", "health.writes", "monitoring.metrics", "queue.streams", "latency.set"} <= ids
    for check in blocked:
        assert check["blocked_by"] == "health.rdb_status"
        assert check["message"].startswith("blocked by health.rdb_status: "), check["message"]
        assert "MISCONF" in check["message"]
    assert document["totals"]["error"] == len(errors)  # still errors: the exit status says so

    human = doctor("--redis-url", url(target))
    assert human.returncode == 1
    lines = human.stdout.splitlines()
    misconf = [line for line in lines if "MISCONF" in line]
    assert misconf == [], misconf  # the refusal's text is not repeated on every line
    (root,) = [index for index, line in enumerate(lines) if "rdb_last_bgsave_status=err" in line]
    assert lines[root + 1].startswith(f"      blocked by it ({len(blocked)}): health.ping, ")
    assert "  ✗ latency.set: blocked by health.rdb_status" in lines
    assert f"{len(errors)} errors (1 root cause, {len(blocked)} blocked by it)" in human.stdout

    nagios = doctor("--redis-url", url(target), "--nagios")
    assert nagios.returncode == 2
    assert nagios.stdout.startswith("REDIS CRITICAL - Promise: snapshots can be written."), nagios.stdout


def test_the_suites_say_blocked_by_in_their_messages(tmp_path: Path, launch: Launcher) -> None:
    target = failed_save(launch)
    password = target.endpoint.password.reveal()
    result = run_suites(
        COMPLETE_WITHOUT_TLS,
        tmp_path,
        "--nself-env",
        "prod",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"redis://:{password}@127.0.0.1:{target.endpoint.port}",
        "-m",
        "monitoring or queue or latency",
        "-k",
        "not bullmq and not sampler_overhead",
    )
    failed = {name: case for name, case in result.cases["prod"].items() if case.outcome == "failed"}
    assert "test_hits_and_misses_follow_reads" in failed, result.output[-3000:]
    assert "test_round_trips_within_budget[SET]" in failed
    for name, case in failed.items():
        assert case.message.startswith("blocked by health.rdb_status: "), (name, case.message)
