"""Attaching to a server that holds data changes nothing on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import redis

from tests.conftest import Launcher
from tests.harness import COMPLETE, run_pytest

DESTRUCTIVE_PROBE = """
import pytest


@pytest.mark.destructive
def test_would_flush(nself_redis):
    nself_redis.flushall()


@pytest.mark.needs_restart
def test_would_restart(nself_target):
    nself_target.restart()
"""


# A project's own test on attach: what it writes under nself_keyspace carries a TTL too.
KEYSPACE_PROBE = """
import time

import pytest


@pytest.mark.datastructures  # selected with the suites below
def test_my_keys(nself_redis, nself_keyspace):
    nself_redis.rpush(nself_keyspace("jobs"), "a", "b")
    nself_redis.hset(nself_keyspace("user"), mapping={"name": "x"})
    assert nself_redis.ttl(nself_keyspace("jobs")) > 0
    assert nself_redis.ttl(nself_keyspace("user")) > 0
    time.sleep(0.2)
"""


def snapshot(client: redis.Redis) -> dict[str, object]:
    keys = sorted(client.scan_iter(count=1000))
    digest = hashlib.sha256()
    ttls = {}
    for key in keys:
        digest.update(key)
        digest.update(client.dump(key) or b"")
        ttls[key] = client.ttl(key)
    return {"dbsize": client.dbsize(), "keys": keys, "values": digest.hexdigest(), "ttls": ttls}


def test_attach_leaves_a_server_with_data_as_it_was(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    client = target.client(decode_responses=False)
    client.mset({f"user:{n}": f"value-{n}" for n in range(500)})
    for n in range(100):
        client.expire(f"user:{n}", 3600)
    client.hset("session:abc", mapping={"user": "1", "data": "{}"})
    client.zadd("ratelimit:sliding:ip", {"a": 1, "b": 2})
    client.rpush("bull:queue:wait", "job1", "job2")
    before = snapshot(client)

    (tmp_path / "test_probe.py").write_text(DESTRUCTIVE_PROBE)
    password = target.endpoint.password.reveal()
    result = run_pytest(
        [
            "--pyargs",
            "pytest_nself_redis.suites",
            "test_probe.py",
            "--nself-project",
            str(COMPLETE),
            "--nself-env",
            "staging",
            "--nself-target",
            "attach",
            "-rs",
            "--nself-redis-url",
            f"redis://:{password}@127.0.0.1:{target.endpoint.port}",
        ],
        tmp_path,
    )
    assert result.status in (0, 1), result.output[-3000:]
    probes = result.outcomes("staging")
    assert probes["test_would_flush"] == "skipped"
    assert probes["test_would_restart"] == "skipped"
    assert (
        "skipped on the attach target (pass --nself-allow-destructive"
        in result.case("test_would_flush").message
    )
    after = snapshot(client)
    assert after["dbsize"] == before["dbsize"]
    assert after["keys"] == before["keys"]
    assert after["values"] == before["values"]
    ttls_before, ttls_after = before["ttls"], after["ttls"]
    assert isinstance(ttls_before, dict)
    assert isinstance(ttls_after, dict)
    for key, ttl in ttls_before.items():
        assert (ttl == -1) == (ttls_after[key] == -1), key


def test_allow_destructive_runs_them_on_attach(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")  # a throwaway server of this test's own
    target.client().set("doomed", "1")
    (tmp_path / "test_probe.py").write_text(DESTRUCTIVE_PROBE)
    password = target.endpoint.password.reveal()
    result = run_pytest(
        [
            "test_probe.py",
            "-k",
            "would_flush",
            "--nself-project",
            str(COMPLETE),
            "--nself-env",
            "staging",
            "--nself-target",
            "attach",
            "--nself-allow-destructive",
            "--nself-redis-url",
            f"redis://:{password}@127.0.0.1:{target.endpoint.port}",
        ],
        tmp_path,
    )
    assert result.outcomes("staging") == {"test_would_flush": "passed"}, result.output[-2000:]
    assert target.client().dbsize() == 0


def test_every_key_the_suites_write_on_attach_carries_a_ttl(tmp_path: Path, launch: Launcher) -> None:
    """Watched while the suites run: no key under nself-harness: is ever without a TTL, so a run
    killed mid-test (SIGKILL, a lost connection) leaves nothing on the server for ever. (BullMQ's
    own keys, written by Node, are left out: they are deleted after its round trip.)"""
    from tests.doctor.test_robustness import KeyWatch

    target = launch(COMPLETE, "staging")
    password = target.endpoint.password.reveal()
    (tmp_path / "test_mine.py").write_text(KEYSPACE_PROBE)
    with KeyWatch(target.client()) as watch:
        result = run_pytest(
            [
                "--pyargs",
                "pytest_nself_redis.suites",
                "test_mine.py",
                "--nself-project",
                str(COMPLETE),
                "--nself-env",
                "staging",
                "--nself-target",
                "attach",
                "--nself-redis-url",
                f"redis://:{password}@127.0.0.1:{target.endpoint.port}",
                "-m",
                "health or datastructures or sessions or monitoring or queue or latency or ratelimit "
                "or pubsub",
                "-k",
                "not bullmq",
            ],
            tmp_path,
        )
    assert result.status == 0, result.explain()
    outcomes = result.outcomes("staging")
    for name in (
        "test_my_keys",
        "test_exactly_n_then_denied",
        "test_key_ttl_semantics",
        "test_every_subscriber_receives",
    ):
        assert outcomes.get(name) == "passed", (name, result.output[-3000:])
    assert watch.seen.is_set(), "the watch saw no key: it proves nothing"
    assert watch.bare == set(), f"keys written without a TTL: {sorted(watch.bare)[:10]}"
    assert sorted(target.client().scan_iter(match="nself-harness:*")) == []


@pytest.mark.parametrize("run_id", ["*", "a?b", "Prod-1", "x:y", "a" * 33])
def test_a_run_id_that_could_widen_a_scan_pattern_is_refused(tmp_path: Path, run_id: str) -> None:
    """NSELF_RUN_ID goes into the key prefix the run SCANs and deletes (nself-harness:<id>:*)."""
    result = run_pytest(
        ["--pyargs", "pytest_nself_redis.suites", "--nself-project", str(COMPLETE), "-m", "health"],
        tmp_path,
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 4, result.output[-2000:]
    assert "Traceback" not in result.output
    assert result.output.count("nself-redis: ") == 1, result.output[-2000:]
    assert f"NSELF_RUN_ID={run_id!r} (environment)" in result.output, result.output[-2000:]
    assert "1 to 32 of a-z, 0-9 and -" in result.output
