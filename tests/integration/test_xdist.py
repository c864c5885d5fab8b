"""Under ``pytest -n`` the controller writes every report, once, from every worker's results:
the same tests and outcomes as without -n, the env's header, every latency command, and no
file written by a worker. Multi-env runs start one server per env per worker."""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from pytest_nself_redis.latency.budgets import COMMANDS
from tests.conftest import Launcher
from tests.data.conftest import attach_args, attach_url
from tests.harness import (
    COMPLETE,
    COMPLETE_WITHOUT_TLS,
    NSELF_099,
    REPO,
    RunResult,
    assert_nothing_left,
    leftover_dirs,
    run_pytest,
    run_suites,
)
from tests.integration.test_bad_input import assert_clear_failure
from tests.integration.test_reports import html_data

QUICK = ("--nself-target", "process", "-m", "health or config or auth")

# Observes (never changes) every file a pytest process opens for writing under the watched
# folder: a Python audit hook, installed as each process (controller and workers) configures.
WRITE_SPY = """
import os, sys

def pytest_configure(config):
    role = getattr(config, "workerinput", {}).get("workerid", "controller")
    watched = os.path.realpath(os.environ["WRITE_SPY_DIR"]) + os.sep
    log = os.environ["WRITE_SPY_LOG"]

    def hook(event, args):
        if event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.path.realpath(os.fsdecode(args[0]))
        mode, flags = args[1], args[2]
        writes = any(c in mode for c in "wax+") if mode else bool(flags & (os.O_WRONLY | os.O_RDWR))
        if writes and path.startswith(watched):
            with open(log, "a") as handle:
                handle.write(f"{role} {os.path.basename(path)}\\n")

    sys.addaudithook(hook)
"""


def spied(tmp_path: Path) -> dict[str, str]:
    """Environment for a run whose report writes are logged (with ``-p write_spy``)."""
    (tmp_path / "write_spy.py").write_text(WRITE_SPY)
    return {"WRITE_SPY_DIR": str(tmp_path / "reports"), "WRITE_SPY_LOG": str(tmp_path / "writes.log")}


def writers(tmp_path: Path) -> Counter[tuple[str, str]]:
    log = tmp_path / "writes.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter(tuple(line.split(" ", 1)) for line in lines)  # type: ignore[misc]


def junit_cases(path: Path) -> dict[str, str]:
    """Test id → outcome of one JUnit file."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        found[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return found


def suite_properties(path: Path) -> dict[str, str]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    properties = suite.find("properties")
    assert properties is not None
    return {p.get("name", ""): p.get("value", "") for p in properties.iter("property")}


def html_cases(path: Path) -> dict[str, list[str]]:
    """Test id → the results pytest-html shows for it."""
    return {
        test_id: sorted(row["result"] for row in rows) for test_id, rows in html_data(path)["tests"].items()
    }


@pytest.fixture(scope="module")
def without_n(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    result = run_suites(COMPLETE, tmp_path_factory.mktemp("serial"), "--nself-env", "staging", *QUICK)
    assert result.status == 0, result.explain()
    return result


@pytest.mark.parametrize("dist", [(), ("--dist", "load")], ids=["default", "dist-load"])
def test_reports_under_n_hold_every_workers_results(
    tmp_path: Path, without_n: RunResult, dist: tuple[str, ...], run_id: str
) -> None:
    """``--dist load`` splits a suite module across the workers; the default keeps it whole."""
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        *QUICK,
        "-n",
        "2",
        *dist,
        "-v",
        "-p",
        "write_spy",
        env={**spied(tmp_path), "NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.explain()
    ran_on = Counter(
        re.findall(r"^\[(gw\d+)\] \[[ \d]+%\] \w+ \S*?(test_\w+\.py)::", result.stdout, re.MULTILINE)
    )
    assert len({worker for worker, _ in ran_on}) == 2, result.stdout[-3000:]
    if not dist:  # each suite module whole on one worker
        modules = [module for _, module in ran_on]
        assert len(modules) == len(set(modules)) == 3, ran_on
    junit, html = "junit-staging.xml", "report-staging.html"
    expected = junit_cases(without_n.reports / junit)
    assert len(expected) >= 30
    assert junit_cases(result.reports / junit) == expected
    assert html_cases(result.reports / html) == html_cases(without_n.reports / html)
    assert len(html_cases(result.reports / html)) == len(expected)
    header = suite_properties(result.reports / junit)
    assert header["target"].startswith("process ")
    assert header["server version"].startswith("7.")
    assert header["xdist workers"] == "gw0, gw1"
    assert html_data(result.reports / html)["environment"]["server version"].startswith("7.")
    written = writers(tmp_path)
    assert set(written) == {("controller", junit), ("controller", html)}, written
    assert written[("controller", junit)] == 1
    assert result.stdout.count(f"report: {result.reports / junit}") == 1
    assert "staging: process " in result.stdout
    assert_nothing_left(run_id, docker=False)


def test_benchmark_json_under_n_holds_every_latency_command(tmp_path: Path) -> None:
    """``--dist load`` hands each worker some of the latency tests; one JSON holds them all."""
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "latency",
        "-n",
        "2",
        "--dist",
        "load",
        "-p",
        "write_spy",
        env=spied(tmp_path),
    )
    # A budget a loaded machine misses fails its test, not the JSON: it holds what was measured.
    assert result.status in (0, 1), result.output[-3000:]
    assert "INTERNALERROR" not in result.output
    document = json.loads((result.reports / "benchmark-staging.json").read_text())
    commands = [entry["extra_info"]["command"] for entry in document["benchmarks"]]
    assert sorted(commands) == sorted(COMMANDS)
    assert document["nself_latency"]["env"] == "staging"
    assert result.reports.joinpath("report-staging.html").read_text().count("<svg") >= len(COMMANDS)
    written = writers(tmp_path)
    assert {role for role, _ in written} == {"controller"}, written
    assert written[("controller", "benchmark-staging.json")] == 1


def test_envs_spread_over_workers_one_server_per_env_per_worker(tmp_path: Path, run_id: str) -> None:
    envs = ("dev", "staging", "prod")
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        ",".join(envs),
        "--nself-target",
        "process",
        "-m",
        "health or config",
        "-n",
        "auto",
        "-v",
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.explain()
    # -n auto on the bundled suites: two workers per core.
    assert workers(result) == 2 * len(os.sched_getaffinity(0)), result.stdout[:2000]
    per_env = {env: junit_cases(result.reports / f"junit-{env}.xml") for env in envs}
    sizes = {env: len(cases) for env, cases in per_env.items()}
    assert len(set(sizes.values())) == 1, sizes
    assert all(f"[{env}" in test_id for env, cases in per_env.items() for test_id in cases)
    summary = re.search(r"^=+ (\d+) passed(?:, (\d+) skipped)?", result.stdout, re.MULTILINE)
    assert summary is not None
    assert sum(sizes.values()) == int(summary[1]) + int(summary[2] or 0)
    launches = Counter(re.findall(r"^launch (\S+) \(process, (gw\d+)\)", result.stdout, re.MULTILINE))
    assert {env for env, _ in launches} == set(envs), result.stdout[-3000:]
    assert set(launches.values()) == {1}, launches
    assert_nothing_left(run_id, docker=False)


def workers(result: RunResult) -> int:
    started = re.search(r"^(\d+) workers? \[", result.stdout, re.MULTILINE)
    assert started is not None, result.stdout[:2000]
    return int(started[1])


def test_n_auto_typed_in_a_checkout_starts_two_workers_per_core(tmp_path: Path) -> None:
    """Where the suites come from the ini's testpaths (a checkout, as the figures run them):
    pytest-xdist's own count came first there, so -n auto started one worker per core."""
    args = ["-n", "auto", "--nself-env", "staging", "--nself-target", "process", "-m", "health"]
    result = run_pytest([*args, f"--nself-reports={tmp_path / 'reports'}"], REPO)
    assert result.status == 0, result.explain()
    assert workers(result) == 2 * len(os.sched_getaffinity(0))


@pytest.mark.parametrize("case", ["own tests", "count set", "attached"])
def test_n_auto_keeps_pytest_xdists_count_elsewhere(tmp_path: Path, launch: Launcher, case: str) -> None:
    """Two workers per core only for the bundled suites on servers the run launches: a project's
    own tests keep one per core, an attached server (someone's production) gets no more clients
    than pytest-xdist would start, and a count the user set (PYTEST_XDIST_AUTO_NUM_WORKERS)
    holds."""
    cores = len(os.sched_getaffinity(0))
    if case == "own tests":
        (tmp_path / "test_own.py").write_text("def test_one():\n    pass\n")
        result, expected = run_pytest(["-n", "auto", "test_own.py"], tmp_path), cores
    elif case == "attached":
        url = attach_url(launch(COMPLETE_WITHOUT_TLS, "prod"))
        result = run_suites(COMPLETE_WITHOUT_TLS, tmp_path, *attach_args(url, "prod", "health"), "-n", "auto")
        expected = cores
    else:
        args = ("--nself-target", "process", "-m", "health", "-n", "auto")
        result = run_suites(COMPLETE, tmp_path, *args, env={"PYTEST_XDIST_AUTO_NUM_WORKERS": "3"})
        expected = 3
    assert result.status == 0, result.explain()
    assert workers(result) == expected


def test_each_units_seconds_are_kept_and_the_longest_env_goes_out_first(tmp_path: Path, run_id: str) -> None:
    """A run records every unit's seconds in pytest's cache; the next run hands out the env with
    the most recorded work first (dev comes first in the collection: without the record, the
    workers would start with it)."""
    cache = tmp_path / "cache"
    args = ["--nself-env", "dev,prod", "--nself-target", "process", "-m", "health or config", "-n", "2"]
    args += ["-p", "cacheprovider", "-o", f"cache_dir={cache}"]
    env = {"NSELF_RUN_ID": run_id}
    first = run_suites(COMPLETE, tmp_path, *args, env=env)
    assert first.status == 0, first.output[-3000:]
    record = cache / "v" / "nself-redis" / "unit-seconds"
    seconds = json.loads(record.read_text())
    units = {f"test_{suite}.py::[{name}]" for suite in ("health", "config") for name in ("dev", "prod")}
    assert set(seconds) == units, seconds
    assert all(value > 0 for value in seconds.values()), seconds
    record.write_text(json.dumps({unit: 50.0 if "[prod]" in unit else 1.0 for unit in units}))
    second = run_suites(COMPLETE, tmp_path, *args, "-v", env=env)
    assert second.status == 0, second.output[-3000:]
    launches = re.findall(r"^launch (\S+) \(process, (gw\d+)\)", second.stdout, re.MULTILINE)
    firsts = {worker: name for name, worker in reversed(launches)}
    assert firsts == {"gw0": "prod", "gw1": "prod"}, launches
    # The record now holds this run's seconds again, not the ones written in.
    assert json.loads(record.read_text()).keys() == units
    assert 50.0 not in json.loads(record.read_text()).values()
    assert_nothing_left(run_id, docker=False)


KEYSPACE_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(6))
def test_keyspace(nself_keyspace, record_property, n):
    record_property("prefix", nself_keyspace.prefix)
"""


def test_workers_keep_apart_key_prefixes_under_one_run_id(tmp_path: Path) -> None:
    """Workers attached to one server under one NSELF_RUN_ID would otherwise write (and delete)
    each other's keys."""
    (tmp_path / "test_keyspace.py").write_text(KEYSPACE_TESTS)
    args = ["test_keyspace.py", "--nself-project", str(COMPLETE), "--nself-env", "staging"]
    args += ["--nself-target", "process", "-n", "2", "--dist", "load"]
    result = run_pytest(args, tmp_path, env={"NSELF_RUN_ID": "samerun"})
    assert result.status == 0, result.explain()
    root = ET.parse(result.reports / "junit-staging.xml").getroot()
    prefixes = [p.get("value", "") for p in root.iter("property") if p.get("name") == "prefix"]
    assert len(prefixes) == 6
    assert len(set(prefixes)) == 6, prefixes
    assert {prefix.split(":")[1] for prefix in prefixes} == {"samerun-gw0", "samerun-gw1"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--nself-project", "{tmp}"), "holds no .env files"),
        (("--nself-port", "6390"), "under -n each pytest-xdist worker starts its own server"),
        (("--nself-redis-server={tmp}/refusing-redis-server",), "this server refuses to start"),
    ],
    ids=["not-a-project", "fixed-port", "server-exits-at-start"],
)
def test_a_run_that_cannot_start_under_n_ends_with_the_one_message(
    tmp_path: Path, run_id: str, args: tuple[str, ...], fragment: str
) -> None:
    """Without this a worker ending early was xdist's INTERNALERROR (status 3, a traceback)."""
    refusing = tmp_path / "refusing-redis-server"
    refusing.write_text('#!/bin/sh\necho "this server refuses to start" >&2\nexit 1\n')
    refusing.chmod(0o755)
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "health or config",
        "-n",
        "2",
        *(arg.format(tmp=tmp_path) for arg in args),
        env={"NSELF_RUN_ID": run_id},
    )
    assert_clear_failure(result, fragment)
    assert "INTERNALERROR" not in result.output
    assert_nothing_left(run_id, docker=False)


CRASHING_TESTS = """
import os

def test_answers(nself_redis):
    assert nself_redis.ping()

def test_zz_takes_its_worker_down(nself_redis):
    os._exit(3)
"""


def test_a_crashed_workers_tests_are_still_reported(tmp_path: Path, run_id: str) -> None:
    """The only worker dies before it can send its env's server: the env's reports are still
    written, the crashed test in them as failed."""
    (tmp_path / "test_crash.py").write_text(CRASHING_TESTS)
    args = ["test_crash.py", "--nself-project", str(COMPLETE), "--nself-env", "staging"]
    args += ["--nself-target", "process", "-n", "1", "--max-worker-restart", "0"]
    result = run_pytest(args, tmp_path, env={"NSELF_RUN_ID": run_id})
    assert result.status == 1, result.output[-3000:]
    assert result.outcomes("staging") == {"test_answers": "passed", "test_zz_takes_its_worker_down": "error"}
    notes = suite_properties(result.reports / "junit-staging.xml")
    assert "a worker crashed" in notes["notes.1"], notes
    assert (result.reports / "report-staging.html").is_file()
    for left in leftover_dirs(run_id):  # the crashed worker could not remove its server's folder
        shutil.rmtree(left)


def remedies(path: Path) -> dict[str, dict[str, str]]:
    """Test id → its check and remedy properties (what the verdict is made of)."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        found[f"{case.get('classname')}::{case.get('name')}"] = {
            p.get("name", ""): p.get("value", "")
            for p in case.iter("property")
            if p.get("name", "") == "check" or p.get("name", "").startswith("remedy.")
        }
    return found


def verdict_items(page: Path) -> list[str]:
    section = page.read_text().split('id="nself-verdict"')[1].split("</section>")[0]
    items = sorted(re.findall(r'<li class="nself-fix .*?</li>', section))
    return [*re.findall(r"Verdict: [^<]*", section), *items]


def test_a_failing_run_under_n_gives_the_same_verdict_and_remedies(tmp_path: Path) -> None:
    """Failures, warnings and their remedies cross from the workers whole: the verdict the
    controller writes is the one a run without -n writes."""
    args = ("--nself-env", "staging", "--nself-target", "process", "-m", "health or config or auth")
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    serial = run_suites(NSELF_099, tmp_path / "one", *args)
    spread = run_suites(NSELF_099, tmp_path / "many", *args, "-n", "2")
    assert serial.status == spread.status == 1, spread.output[-3000:]
    junit, html = "junit-staging.xml", "report-staging.html"
    assert junit_cases(spread.reports / junit) == junit_cases(serial.reports / junit)
    assert "failure" in junit_cases(serial.reports / junit).values()
    assert remedies(spread.reports / junit) == remedies(serial.reports / junit)
    assert any(remedies(serial.reports / junit).values())
    assert verdict_items(spread.reports / html) == verdict_items(serial.reports / html)
    assert len(verdict_items(serial.reports / html)) > 1
