"""The pytest plugin (entry point ``pytest11``): options, fixtures, markers, reports.

Inert unless a collected test uses an nself fixture: the harness's own tests and
unrelated projects see only the options.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.plugin import fixtures
from pytest_nself_redis.plugin.bundled import Collection, choose_collection, harness_requested, parse_suites
from pytest_nself_redis.plugin.options import OPTIONS, HarnessOptions, add_options, origin_of
from pytest_nself_redis.plugin.redaction import ScrubbingLogRecords
from pytest_nself_redis.plugin.reporting import HarnessReporting
from pytest_nself_redis.plugin.roles import distributing, leave_stop_message, worker_id
from pytest_nself_redis.plugin.run import ENV_FIXTURE, RUN_KEY, NselfRun, get_run
from pytest_nself_redis.plugin.work_units import UnitSeconds
from pytest_nself_redis.reporting.environment import SUITES, suite_of

SAFETY_MARKERS = {
    "destructive": "changes config or data beyond its own keys",
    "needs_restart": "needs lifecycle control (restart, crash) of the server",
    "load": "puts load on the server (many connections and processes at once)",
}
_LOGS = pytest.StashKey[ScrubbingLogRecords]()
_COLLECTION = pytest.StashKey[Collection]()
# Whether the user chose how pytest-xdist distributes (--dist).
_DIST_CHOSEN = pytest.StashKey[bool]()
# ``-n auto`` on the bundled suites: more per core loads the machine the latency checks time.
WORKERS_PER_CORE = 2


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, object, object]:
    """Seen before pytest-xdist turns ``-n`` into ``--dist load``: did the user pick a --dist?"""
    option = config.option
    chosen = getattr(option, "dist", "no") != "no" or bool(getattr(option, "distload", False))
    config.stash[_DIST_CHOSEN] = chosen
    return (yield)


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before pytest-xdist's own count
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` on a run of the bundled suites: two workers per core (``scheduling``). Each
    worker spends much of its time waiting on its own servers (replies, restarts, fills), so one
    per core leaves the cores idle. ``-n logical``, a set ``PYTEST_XDIST_AUTO_NUM_WORKERS``, an
    attached server (someone's production: no more clients on it than pytest-xdist would start)
    and any other run keep pytest-xdist's count."""
    if config.option.numprocesses != "auto" or os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    try:
        options = HarnessOptions.from_config(config)
        requested = harness_requested(config, [spec.dest for spec in OPTIONS])
        collection = choose_collection(config, parse_suites(options.suites), requested)
    except (HarnessError, pytest.UsageError):
        return None  # pytest_configure says what is wrong
    if options.redis_url or not collection.runs_bundled_suites(config.option.pyargs):
        return None
    return auto_workers()


def auto_workers() -> int:
    """What ``-n auto`` starts on a run of the bundled suites here: ``WORKERS_PER_CORE`` for each
    core this process may run on, counted as pytest-xdist counts them (no affinity call on macOS)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return WORKERS_PER_CORE * cores


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``pytest -n`` with no ``--dist`` on a run of the bundled suites: each env's suite modules
    whole on one worker, env by env (``scheduling``)."""
    collection = config.stash.get(_COLLECTION, None)
    if config.stash.get(_DIST_CHOSEN, True) or collection is None:
        return None
    if not collection.runs_bundled_suites(config.option.pyargs):
        return None
    from pytest_nself_redis.plugin.scheduling import SuiteScheduling

    try:
        envs = get_run(config).env_names()
    except HarnessError:
        envs = ()  # the workers stop the run with the message
    return SuiteScheduling(config, log, envs)


def pytest_configure(config: pytest.Config) -> None:
    for suite in SUITES:
        config.addinivalue_line("markers", f"{suite}: nself-redis {suite} suite")
    for marker, meaning in SAFETY_MARKERS.items():
        config.addinivalue_line(
            "markers", f"{marker}: {meaning}; skipped on attach unless --nself-allow-destructive"
        )
    options = HarnessOptions.from_config(config)
    if options.port and distributing(config):
        raise pytest.UsageError(
            f"nself-redis: {origin_of('--nself-port', config)}={options.port} puts the env's server on "
            "that one port, but under -n each pytest-xdist worker starts its own server: drop the "
            "port or -n"
        )
    requested = harness_requested(config, [spec.dest for spec in OPTIONS])
    collection = choose_collection(config, parse_suites(options.suites), requested)
    config.args[:] = collection.args
    config.stash[_COLLECTION] = collection
    run = NselfRun(config, options)
    config.stash[RUN_KEY] = run
    config.pluginmanager.register(fixtures, "nself-redis-fixtures")
    config.pluginmanager.register(HarnessReporting(run), "nself-redis-reporting")
    if worker_id(config) is None and collection.runs_bundled_suites(config.option.pyargs):
        config.pluginmanager.register(UnitSeconds(config, run.env_names), "nself-redis-unit-seconds")
    logs = ScrubbingLogRecords(run.redactor)
    logs.install()
    config.stash[_LOGS] = logs


def pytest_unconfigure(config: pytest.Config) -> None:
    logs = config.stash.get(_LOGS, None)
    if logs is not None:
        logs.uninstall()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ENV_FIXTURE not in metafunc.fixturenames:
        return
    run = get_run(metafunc.config)
    try:
        envs = run.env_names()
    except HarnessError as error:
        run.deferred_error = error
        return
    if len(envs) > 1:
        metafunc.parametrize(ENV_FIXTURE, envs, indirect=True, scope="session", ids=list(envs))


def _env_of(item: pytest.Item, default: str) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and ENV_FIXTURE in callspec.params:
        return str(callspec.params[ENV_FIXTURE])
    return default


def _deselect_unchosen_suites(config: pytest.Config, items: list[pytest.Item]) -> None:
    collection = config.stash.get(_COLLECTION, None)
    if collection is None or collection.suites is None:
        return
    unchosen = [
        item
        for item in items
        if collection.deselects(item.path, suite_of({mark.name for mark in item.iter_markers()}))
    ]
    if unchosen:
        config.hook.pytest_deselected(items=unchosen)
        dropped = {id(item) for item in unchosen}
        items[:] = [item for item in items if id(item) not in dropped]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    _deselect_unchosen_suites(config, items)
    nself_items = [item for item in items if ENV_FIXTURE in getattr(item, "fixturenames", ())]
    if not nself_items:
        return
    run = get_run(config)
    run.used = True
    try:
        if run.deferred_error is not None:
            raise run.deferred_error
        run.prepare()
    except HarnessError as error:
        message = run.redactor.scrub(f"nself-redis: {error}")
        leave_stop_message(config, "usage", message)
        raise pytest.UsageError(message) from None
    envs = run.env_names()
    for item in nself_items:
        run.item_envs[item.nodeid] = _env_of(item, envs[0])
        run.item_suites[item.nodeid] = suite_of({mark.name for mark in item.iter_markers()})
        if run.can_be_destructive:
            continue
        for marker, meaning in SAFETY_MARKERS.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(
                    pytest.mark.skip(
                        reason=(
                            f"{marker}: {meaning}; skipped on the attach target "
                            "(pass --nself-allow-destructive to run it against this server)"
                        )
                    )
                )
                break
    if run.options.reports is not None and not config.option.collectonly and worker_id(config) is None:
        reporting = config.pluginmanager.get_plugin("nself-redis-reporting")
        assert isinstance(reporting, HarnessReporting)
        reporting.start(session, list(envs))
