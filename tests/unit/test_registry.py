"""The one registry of checks: a check is declared once, named by the registry, and every
suite test runs a declared check by its id (no check without a test, no test of an unknown id).

Checks declared here for the test are removed again; none touches a server (the client is
never used), so the registry's own rules are what is tested.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pytest_nself_redis.checks import REGISTRY, CheckContext, Outcome, Status, check
from pytest_nself_redis.checks.registry import SUITE_MODULES, check_of
from pytest_nself_redis.checks.results import error, ok, skipped
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.doctor.choices import DOCTOR_SUITES
from pytest_nself_redis.doctor.runner import doctor_checks
from pytest_nself_redis.plugin.verdicts import family
from pytest_nself_redis.project.model import NselfProject
from tests.harness import COMPLETE, REPO, base_env

PACKAGE = "pytest_nself_redis.checks"
OOM = "OOM command not allowed when used memory > 'maxmemory'"


@pytest.fixture
def context() -> CheckContext:
    env = load_env_context(NselfProject.open(COMPLETE), "staging")
    client = redis.Redis(port=1)  # never used: the checks below do not talk to a server
    return CheckContext(env.settings, env.service, client, lambda **_: client, env=env)


@pytest.fixture
def declared() -> Iterator[list[str]]:
    """Ids this test declares, removed afterwards."""
    ids: list[str] = []
    yield ids
    for check_id in ids:
        REGISTRY.remove(check_id)


def test_a_check_is_named_by_the_registry(context: CheckContext, declared: list[str]) -> None:
    @check("health.zz_named", safe=True)
    def named(context: CheckContext) -> Outcome:
        """a check that does not know its id"""
        return ok("fine", "here:1", {"n": 1})

    declared.append("health.zz_named")
    entry = REGISTRY["health.zz_named"]
    assert (entry.suite, entry.title, entry.safe) == ("health", "a check that does not know its id", True)
    result = REGISTRY.run("health.zz_named", context)
    assert (result.id, result.suite, result.status) == ("health.zz_named", "health", Status.OK)
    assert (result.message, result.source, result.measured) == ("fine", "here:1", {"n": 1})
    assert named(context) == ok("fine", "here:1", {"n": 1})  # still callable as it was written


def test_a_family_is_declared_once_with_its_parameters(context: CheckContext, declared: list[str]) -> None:
    seen: list[tuple[Any, Any]] = []

    @check("health.zz_family.{}", params={"Alpha": 1, "beta": 2}, title="{} is counted")
    def counted(context: CheckContext, value: int, *, extra: str = "none") -> Outcome:
        seen.append((value, extra))
        return ok(f"{value}")

    declared.extend(["health.zz_family.alpha", "health.zz_family.beta"])
    members = REGISTRY.members("health.zz_family.{}")
    assert [(entry.id, entry.label, entry.title) for entry in members] == [
        ("health.zz_family.alpha", "Alpha", "Alpha is counted"),
        ("health.zz_family.beta", "beta", "beta is counted"),
    ]
    assert REGISTRY.run("health.zz_family.beta", context, extra="given").message == "2"
    assert seen == [(2, "given")]
    params = family("health.zz_family.{}")
    assert [(param.values, param.id) for param in params] == [
        (("health.zz_family.alpha",), "Alpha"),
        (("health.zz_family.beta",), "beta"),
    ]


def test_a_check_of_what_it_needs_judges_it_or_returns_why_there_is_none(
    context: CheckContext, declared: list[str]
) -> None:
    """The check takes its need's inputs (a ``launch`` puts it on another server); when the
    need answers with an outcome, that outcome stands and the function is not called."""
    judged: list[int] = []

    def rounds(context: CheckContext, *, launch: int | None = None) -> int | Outcome:
        return skipped("nothing launched here") if launch is None else launch * 10

    @check_of("health.zz_needs", rounds, safe=True)
    def needs(context: CheckContext, measured: int) -> Outcome:
        """a check of what its need measured"""
        judged.append(measured)
        return error(f"Seen: {OOM} after {measured}")

    declared.append("health.zz_needs")
    entry = REGISTRY["health.zz_needs"]
    assert (entry.title, entry.safe, entry.takes("launch"), entry.launches) == (
        "a check of what its need measured",
        True,
        True,
        True,
    )
    assert REGISTRY.run("health.zz_needs", context).message == "nothing launched here"
    assert judged == []
    context.causes["health.memory"] = True
    result = REGISTRY.run("health.zz_needs", context, launch=4)
    assert (result.message, result.blocked_by) == (f"Seen: {OOM} after 40", None)
    assert judged == [40]


def test_an_id_is_declared_once(declared: list[str]) -> None:
    def again(context: CheckContext) -> Outcome:
        return ok("")

    check("health.zz_once")(again)
    declared.append("health.zz_once")
    with pytest.raises(ValueError, match="declared twice"):
        check("health.zz_once")(again)
    with pytest.raises(ValueError, match="a family's id has one"):
        check("health.zz_{}")(again)
    with pytest.raises(ValueError, match="a family's id has one"):
        check("health.zz_plain", params=("a",))(again)


def test_a_refusal_is_blocked_by_its_root_cause_unless_the_check_ran_elsewhere(
    context: CheckContext, declared: list[str]
) -> None:
    """The env's server is full (health.memory failed): a check of that server quoting OOM is
    blocked by it; a check on a server it launched itself is not, whatever it quotes."""

    @check("health.zz_here")
    def here(context: CheckContext) -> Outcome:
        return error(f"Seen: {OOM}")

    @check("health.zz_elsewhere")
    def elsewhere(context: CheckContext, *, launch: Any = None) -> Outcome:
        return error(f"Seen: {OOM}")

    declared.extend(["health.zz_here", "health.zz_elsewhere"])
    context.causes["health.memory"] = True
    blocked = REGISTRY.run("health.zz_here", context)
    assert blocked.blocked_by == "health.memory"
    assert blocked.message == f"blocked by health.memory: Seen: {OOM}"
    alone = REGISTRY.run("health.zz_elsewhere", context)
    assert (alone.blocked_by, alone.message) == (None, f"Seen: {OOM}")


def _suite_strings() -> set[str]:
    """Every string constant in the bundled suites."""
    found = set()
    for path in (REPO / "suites").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_every_check_has_a_suite_test_and_every_suite_test_a_check() -> None:
    named = {entry.family or check_id for check_id, entry in REGISTRY.items()}
    strings = _suite_strings()
    assert sorted(named - strings) == [], "declared checks no suite test runs"
    suites = {entry.suite for entry in REGISTRY.values()}
    unknown = sorted(
        text for text in strings if text.split(".", 1)[0] in suites and "." in text and text not in named
    )
    assert unknown == [], "ids in the suites that no check declares"


def _declared_in(module: str, suite: str) -> bool:
    """Whether importing ``suite``'s modules (``SUITE_MODULES``) imports ``module``."""
    listed = (f"{PACKAGE}.{name}" for name in SUITE_MODULES[suite])
    return any(module == place or module.startswith(f"{place}.") for place in listed)


def test_every_check_is_declared_where_its_suite_is_loaded_from() -> None:
    """Doctor imports a suite's checks from SUITE_MODULES alone: a check declared in a module not
    listed under its suite would silently vanish from doctor (and from a suite run alone). Every
    module of the package is imported first, so a module no table names still declares its checks."""
    package = importlib.import_module(PACKAGE)
    for module in pkgutil.walk_packages(package.__path__, f"{PACKAGE}."):
        importlib.import_module(module.name)
    ours = [entry for entry in REGISTRY.values() if entry.function.__module__.startswith(PACKAGE)]
    assert len(ours) > 100, "the registry was not loaded"
    unlisted = sorted(
        f"{entry.id} ({entry.function.__module__})"
        for entry in ours
        if entry.suite not in SUITE_MODULES or not _declared_in(entry.function.__module__, entry.suite)
    )
    assert unlisted == [], "add these checks' modules under their suite in registry.SUITE_MODULES"
    assert sorted(SUITE_MODULES) == sorted({entry.suite for entry in ours}), "a suite no check declares"


LOAD_ALONE = """
import json, sys
from pytest_nself_redis.doctor.runner import doctor_checks
ids = doctor_checks(tuple(sys.argv[1:]))
loaded = sorted(name for name in sys.modules if name.startswith("pytest_nself_redis.checks."))
print(json.dumps({"ids": ids, "loaded": loaded}))
"""


def _load_alone(*suites: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LOAD_ALONE, *suites],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base_env(),
    )


def test_a_suite_loads_alone_with_every_check_in_order() -> None:
    """In a fresh interpreter, doctor's suites (each alone, and all of them) load only their own
    modules and find the same checks in the same order as a registry with everything loaded."""
    runs = {suite: _load_alone(suite) for suite in DOCTOR_SUITES}
    runs["all"] = _load_alone(*DOCTOR_SUITES)
    for name, process in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        found = json.loads(stdout)
        suites = DOCTOR_SUITES if name == "all" else (name,)
        assert found["ids"] == doctor_checks(suites), name
        assert found["ids"], f"{name}: no check found, the test proves nothing"
        others = [suite for suite in SUITE_MODULES if suite not in suites]
        stray = [module for module in found["loaded"] if any(_declared_in(module, other) for other in others)]
        assert stray == [], f"doctor --suite {name} imported other suites' checks"
