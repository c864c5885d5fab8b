"""Which tests share a pytest-xdist worker, and in what order work goes out (``pytest -n``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from pytest_nself_redis.plugin.bundled import SUITES_PACKAGE, Collection, suites_dir
from pytest_nself_redis.plugin.work_units import (
    bundled_modules,
    env_by_env,
    env_of,
    longest_first,
    scope_of,
    unit_name,
)
from pytest_nself_redis.reporting.environment import SUITES

ENVS = ("dev", "staging", "staging-eu", "prod")


def bundled(module: str) -> bool:
    return module.startswith("suites/")


def test_the_env_is_the_first_parameter_of_a_test_id() -> None:
    assert env_of("suites/test_health.py::test_answers_ping[prod]", ENVS) == "prod"
    assert env_of("suites/test_latency.py::test_round_trips_within_budget[dev-EVALSHA]", ENVS) == "dev"
    # The longest env that fits wins: "staging-eu-..." is staging-eu's, not staging's.
    assert env_of("suites/test_config.py::test_setting[staging-eu-maxmemory]", ENVS) == "staging-eu"
    assert env_of("suites/test_config.py::test_setting[staging-maxmemory]", ENVS) == "staging"
    # One env: test ids carry none.
    assert env_of("suites/test_health.py::test_answers_ping", ("staging",)) == ""
    assert env_of("suites/test_eviction.py::test_policy[allkeys-lru]", ("staging",)) == ""


def test_a_bundled_module_is_one_unit_per_env_and_other_tests_go_one_by_one() -> None:
    first = scope_of("suites/test_latency.py::test_round_trips_within_budget[dev-PING]", ENVS, bundled)
    second = scope_of("suites/test_latency.py::test_slowlog_within_budget[dev]", ENVS, bundled)
    other_env = scope_of("suites/test_latency.py::test_slowlog_within_budget[prod]", ENVS, bundled)
    assert first == second != other_env
    assert scope_of("tests/test_mine.py::test_a[dev]", ENVS, bundled) == "tests/test_mine.py::test_a[dev]"


def test_work_goes_out_env_by_env_keeping_the_order_within_an_env() -> None:
    collection = [
        "suites/test_a.py::t[dev]",
        "suites/test_b.py::t[dev]",
        "suites/test_a.py::t[prod]",
        "suites/test_b.py::t[prod]",
    ]
    units = {scope_of(nodeid, ENVS, bundled): [nodeid] for nodeid in collection}
    # xdist's --loadscope-reorder sorts units largest first, across envs: put them back env by env.
    shuffled = dict(sorted(units.items(), key=lambda item: "b" not in item[0]))
    order = env_by_env(shuffled, collection, ENVS)
    assert [units[scope][0] for scope in order] == [
        "suites/test_b.py::t[dev]",
        "suites/test_a.py::t[dev]",
        "suites/test_b.py::t[prod]",
        "suites/test_a.py::t[prod]",
    ]


def test_only_a_run_of_the_bundled_suites_is_scheduled_by_module() -> None:
    """The harness's own tests (or a user's), run with -n, keep xdist's spreading."""
    folder = suites_dir()
    assert Collection([str(folder)], SUITES).runs_bundled_suites(pyargs=False)
    assert Collection([str(folder / "test_health.py")]).runs_bundled_suites(pyargs=False)
    assert Collection([SUITES_PACKAGE]).runs_bundled_suites(pyargs=True)
    assert not Collection([str(Path(__file__).parent)]).runs_bundled_suites(pyargs=False)


def test_a_one_env_run_names_its_units_with_the_env() -> None:
    """So what a one-env run recorded orders the next multi-env run's units."""
    assert unit_name("suites/test_health.py::test_answers_ping", ("staging",)) == "test_health.py::[staging]"
    # ... by the module's file name, wherever the rootdir puts the suites' folder.
    assert unit_name("test_health.py::test_answers_ping[prod]", ENVS) == "test_health.py::[prod]"


def _units(collection: list[str]) -> dict[str, list[str]]:
    units: dict[str, list[str]] = {}
    for nodeid in collection:
        units.setdefault(scope_of(nodeid, ENVS, bundled), []).append(nodeid)
    return units


def test_with_recorded_seconds_the_longest_env_and_unit_go_first() -> None:
    """prod's one-test Sentinel module took longest last time: prod goes first, and it leads
    prod, though xdist would have sent the many-test module first."""
    collection = [
        "suites/test_a.py::t[dev-1]",
        "suites/test_a.py::t[dev-2]",
        "suites/test_a.py::t[prod-1]",
        "suites/test_a.py::t[prod-2]",
        "suites/test_a.py::t[prod-3]",
        "suites/test_sentinel.py::t[prod]",
    ]
    units = _units(collection)
    seconds = {"test_a.py::[dev]": 3.0, "test_a.py::[prod]": 2.0, "test_sentinel.py::[prod]": 8.0}
    assert longest_first(units, collection, ENVS, seconds) == [
        "suites/test_sentinel.py::[prod]",
        "suites/test_a.py::[prod]",
        "suites/test_a.py::[dev]",
    ]


def test_a_unit_not_seen_before_counts_its_tests_at_the_known_pace() -> None:
    collection = [
        *(f"suites/test_new.py::t[dev-{n}]" for n in range(10)),
        "suites/test_a.py::t[dev]",
        "suites/test_b.py::t[dev]",
    ]
    units = _units(collection)
    # 2 known tests took 4 s: the new module's 10 tests are estimated at 20 s, and lead.
    seconds = {"test_a.py::[dev]": 1.0, "test_b.py::[dev]": 3.0}
    assert longest_first(units, collection, ENVS, seconds) == [
        "suites/test_new.py::[dev]",
        "suites/test_b.py::[dev]",
        "suites/test_a.py::[dev]",
    ]


def test_with_nothing_recorded_work_goes_out_env_by_env_in_collection_order() -> None:
    collection = ["suites/test_a.py::t[dev]", "suites/test_a.py::t[prod]", "suites/test_b.py::t[prod]"]
    units = _units(collection)
    assert longest_first(units, collection, ENVS, {}) == env_by_env(units, collection, ENVS)


def test_the_bundled_modules_are_known_by_path_or_by_the_bare_name_an_installed_run_gives_them(
    tmp_path: Path,
) -> None:
    """Run from a project, pytest names the installed suites' tests ``test_health.py::...``."""
    folder = suites_dir().resolve()
    in_checkout = bundled_modules(SimpleNamespace(rootpath=folder.parent))  # type: ignore[arg-type]
    assert in_checkout(f"{folder.name}/test_health.py")
    assert not in_checkout("tests/test_health.py")
    project = tmp_path / "project"
    project.mkdir()
    from_project = bundled_modules(SimpleNamespace(rootpath=project))  # type: ignore[arg-type]
    assert from_project("test_health.py")
    assert not from_project("test_mine.py")
    (project / "test_health.py").write_text("")  # the user's own module of that name
    assert not bundled_modules(SimpleNamespace(rootpath=project))("test_health.py")  # type: ignore[arg-type]
