"""doctor stays a report whatever the server does: odd INFO replies are one check's error,
a stalling server is cut off by one whole-run deadline, bad numbers are a usage error, and a
signal mid-run leaves no key behind."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Launcher
from tests.data.proxy import InfoRewritingProxy, Rewrite, drop_field, set_field
from tests.doctor.test_doctor import as_json, by_id, doctor
from tests.harness import COMPLETE


@pytest.mark.parametrize(
    ("rewrite", "check_id", "reason"),
    [
        (drop_field("role"), "health.primary", "INFO has no role"),
        (set_field("loading", "abc"), "health.loading", "INFO loading='abc' is not a number"),
    ],
    ids=["no-role", "loading-abc"],
)
def test_odd_info_is_one_checks_error(launch: Launcher, rewrite: Rewrite, check_id: str, reason: str) -> None:
    target = launch(COMPLETE, "prod")
    password = target.endpoint.password.reveal()
    with InfoRewritingProxy(target.endpoint.port, rewrite) as proxy:
        url = f"redis://:{password}@127.0.0.1:{proxy.port}"
        completed = doctor("--redis-url", url, "--json", "--suite", "health")
        nagios = doctor("--redis-url", url, "--nagios", "--suite", "health")
    assert "Traceback" not in completed.stderr + nagios.stderr, completed.stderr + nagios.stderr
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    check = by_id(as_json(completed))[check_id]
    assert check["status"] == "error", check
    assert reason in check["message"], check["message"]
    assert nagios.returncode == 2, nagios.stdout + nagios.stderr
    assert nagios.stdout.startswith("REDIS CRITICAL - "), nagios.stdout
    assert password not in completed.stdout + nagios.stdout + json.dumps(completed.stderr)


def test_a_check_that_raises_is_that_checks_error(launch: Launcher) -> None:
    """INFO maxclients:abc makes monitoring.connections_alert raise ValueError inside the check:
    the runner reports it as that check's error (type and message) and goes on."""
    target = launch(COMPLETE, "prod")
    password = target.endpoint.password.reveal()
    with InfoRewritingProxy(target.endpoint.port, set_field("maxclients", "abc")) as proxy:
        url = f"redis://:{password}@127.0.0.1:{proxy.port}"
        completed = doctor("--redis-url", url, "--json", "--suite", "health", "--suite", "monitoring")
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    checks = by_id(as_json(completed))
    alert = checks["monitoring.connections_alert"]
    assert alert["status"] == "error"
    assert "could not complete (ValueError: " in alert["message"], alert["message"]
    assert "INFO maxclients='abc' is not a number" in checks["health.clients"]["message"]
    assert checks["monitoring.metrics"]["status"] == "ok"  # the run went on
