"""Layers point one way, and pytest and Docker stay where they belong.

A module may import its own layer and the layers below, never one above: the checks
build on the mechanics, not the other way round, so doctor (no pytest) and the CLI
(fast ``--version``) can load what they need alone. Imports inside functions and under
``TYPE_CHECKING`` count too, as does ``importlib.import_module`` of a literal name.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nself_redis.checks.registry import SUITE_MODULES
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.doctor.choices import DOCTOR_SUITES
from pytest_nself_redis.project.model import NselfProject
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS, REPO, base_env

ROOT = "pytest_nself_redis"
# The suites live at the top of the repository and ship as pytest_nself_redis.suites.
SOURCES = {ROOT: REPO / ROOT, f"{ROOT}.suites": REPO / "suites"}

# Each top-level module or package of pytest_nself_redis, by layer, lowest first.
LAYERS: dict[str, int] = {
    # Foundations every layer may use.
    "errors": 0,
    "secrets": 0,
    "durations": 0,
    "lazy": 0,
    # What the project's env files say.
    "project": 1,
    # The compose deployment made from them.
    "compose": 2,
    # One env's context; the contract / deployment / live comparison of its promises.
    "context": 3,
    "layers": 3,
    # What closes a broken promise (made by layers and the checks, shown by every report).
    "remedy": 3,
    # A server to talk to: launched or attached targets, the live server
    # (server and expiring are moving into live).
    "targets": 4,
    "live": 4,
    # Mechanics the checks measure with.
    "durability": 5,
    "latency": 5,
    "ratelimit": 5,
    "node": 5,
    "sentinel": 5,
    # The package itself re-exports the rate limiters (lazily).
    "": 5,
    "checks": 6,
    # What runs the checks and shows their results.
    "reporting": 7,
    "doctor": 7,
    # The nself plugin folders and their installer (nself runs the CLI).
    "nself_plugin": 7,
    "plugin": 8,
    "suites": 8,
    "cli": 9,
}

# Third-party packages only some modules may import: the rest runs without them.
PYTEST = frozenset({"pytest", "_pytest", "pytest_html", "pytest_metadata", "pytest_benchmark", "xdist"})
DOCKER = frozenset({"docker", "testcontainers"})
ONLY_IN = {
    "pytest": (PYTEST, (f"{ROOT}.plugin", f"{ROOT}.suites", f"{ROOT}.cli.check")),
    "docker": (
        DOCKER,
        (f"{ROOT}.targets.docker", f"{ROOT}.targets.docker_engine", f"{ROOT}.targets.topology.docker"),
    ),
    # A test-only dependency (the dev extra): the package never imports it.
    "hypothesis": (frozenset({"hypothesis"}), ()),
}

# Imports that break the rules today, each fixed by a later step of the same refactor;
# the test fails when one is fixed and still listed, so this set only shrinks.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


def _modules() -> dict[str, Path]:
    found = {}
    for package, directory in SOURCES.items():
        for path in directory.rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            parts = path.relative_to(directory).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def _literal_module(call: ast.Call) -> str | None:
    """The module an ``importlib.import_module(...)`` call names, as far as it is literal."""
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if name not in ("import_module", "__import__") or not call.args:
        return None
    argument = call.args[0]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    if isinstance(argument, ast.JoinedStr) and argument.values:
        head = argument.values[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            return head.value.rpartition(".")[0] or None
    return None


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every module ``module`` imports, anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in MODULES else base
        elif isinstance(node, ast.Call) and (named := _literal_module(node)) is not None:
            yield named


def _layer_name(module: str) -> str:
    return module.removeprefix(ROOT).removeprefix(".").split(".")[0]


def violations() -> set[tuple[str, str]]:
    """(importer, imported) pairs that break a rule: a layer above, or a package out of place."""
    found = set()
    for module, path in MODULES.items():
        layer = LAYERS[_layer_name(module)]
        for imported in _imports(module, path):
            top = imported.split(".")[0]
            if top == ROOT:
                if LAYERS[_layer_name(imported)] > layer:
                    found.add((module, imported))
                continue
            for family, (packages, allowed) in ONLY_IN.items():
                if top in packages and not any(
                    module == place or module.startswith(f"{place}.") for place in allowed
                ):
                    found.add((module, family))
    return found


def test_every_module_has_a_layer() -> None:
    missing = sorted({_layer_name(module) for module in MODULES} - set(LAYERS))
    assert not missing, f"give these a layer in LAYERS: {missing}"


def test_no_module_imports_a_layer_above_or_a_package_out_of_place() -> None:
    found = violations()
    new = sorted(found - KNOWN_VIOLATIONS)
    assert not new, "\n".join(f"{importer} imports {imported}" for importer, imported in new)
    fixed = sorted(KNOWN_VIOLATIONS - found)
    assert not fixed, f"fixed, so remove from KNOWN_VIOLATIONS: {fixed}"


def test_no_two_parts_import_each_other() -> None:
    """Within a layer too (plugin and suites, reporting and doctor): a loop between two parts
    means neither can be understood, tested or loaded without the other."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        part = _layer_name(module)
        graph.setdefault(part, set()).update(
            other
            for imported in _imports(module, path)
            if imported.split(".")[0] == ROOT and (other := _layer_name(imported)) != part
        )

    def loop_from(part: str, trail: tuple[str, ...]) -> tuple[str, ...] | None:
        for other in sorted(graph.get(part, ())):
            if other in trail:
                return (*trail[trail.index(other) :], other)
            if (found := loop_from(other, (*trail, other))) is not None:
                return found
        return None

    for part in sorted(graph):
        found = loop_from(part, (part,))
        assert found is None, " -> ".join(name or ROOT for name in found)


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The rules are only as good as the import finder: a lazy, a relative, a type-only and an
    importlib import are each found."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import importlib\n"
        "from . import options\n"
        "from ..checks.base import CheckResult\n"
        "if TYPE_CHECKING:\n"
        "    import _pytest.config\n"
        "def later():\n"
        "    import docker\n"
        "    importlib.import_module(f'pytest_benchmark.{later.__name__}')\n"
    )
    found = set(_imports(f"{ROOT}.plugin.probe", source))
    assert {
        f"{ROOT}.plugin.options",
        f"{ROOT}.checks.base",
        "_pytest.config",
        "docker",
        "pytest_benchmark",
    } <= found


FORBIDDEN_AT_STARTUP = ("pytest", "_pytest", "docker", "testcontainers", "hypothesis")


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["doctor", "--help"],
        ["check", "--help"],
        ["cleanup", "--help"],
        ["node-setup", "--help"],
        ["probe", "--help"],
        ["serve", "--help"],
        ["nself-plugin", "--help"],
        ["fix", "--help"],
    ],
    ids=" ".join,
)
def test_the_cli_answers_without_loading_pytest_or_docker(args: list[str], tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", f"{ROOT}.cli.main", *args],
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip(), "nothing printed"
    imported = {
        line.rpartition("|")[2].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert f"{ROOT}.cli" in imported, "the import trace was not read"
    loaded = sorted(name for name in imported if name.split(".")[0] in FORBIDDEN_AT_STARTUP)
    assert not loaded, f"nself-redis {' '.join(args)} imported {loaded[:10]}"
    # --version alone is answered before the commands are declared; every other line needs them.
    assert (f"{ROOT}.cli.commands" in imported) == (args != ["--version"])


# Run the CLI, then write every module the process imported (``-X importtime`` misses the ones
# ``importlib.import_module`` loads, as the registry loads the check modules).
TRACE = """
import atexit, json, runpy, sys
dump = sys.argv.pop(1)
atexit.register(lambda: open(dump, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "nself-redis"
runpy.run_module("pytest_nself_redis.cli", run_name="__main__")
"""
CHECKS = f"{ROOT}.checks"
# What the suites launch or break, never needed to look at a running server.
SUITES_ONLY = (
    f"{ROOT}.sentinel.failover",
    f"{ROOT}.targets.topology",
    f"{ROOT}.targets.docker",
    f"{ROOT}.targets.process",
    f"{ROOT}.durability.backup",
)


def _cli_modules(
    tmp_path: Path, *args: str, environ: dict[str, str] | None = None
) -> tuple[int, str, set[str]]:
    """The exit status, stderr and the modules of one ``nself-redis`` process."""
    dump = tmp_path / "modules.json"
    completed = subprocess.run(
        [sys.executable, "-c", TRACE, str(dump), *args],
        cwd=tmp_path,
        env=base_env(**(environ or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, completed.stderr, set(json.loads(dump.read_text()))


def _check_modules_of(suites: tuple[str, ...]) -> set[str]:
    return {f"{CHECKS}.{name}" for suite in suites for name in SUITE_MODULES[suite]}


@pytest.mark.parametrize("suites", [DOCTOR_SUITES, ("health",)], ids=["every suite", "--suite health"])
def test_doctor_imports_only_the_suites_it_runs(
    tmp_path: Path, launch: Launcher, suites: tuple[str, ...]
) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    url = f"redis://127.0.0.1:{target.endpoint.port}"
    chosen = [word for suite in suites for word in ("--suite", suite)] if len(suites) == 1 else []
    status, stderr, modules = _cli_modules(
        tmp_path,
        *(
            "doctor",
            "--project",
            str(COMPLETE_WITHOUT_TLS),
            "--env",
            "prod",
            "--redis-url",
            url,
            "--json",
            *chosen,
        ),
        environ={"NSELF_REDIS_PASSWORD": target.endpoint.password.reveal()},
    )
    assert status in (0, 1), stderr[-2000:]
    assert _check_modules_of(suites) <= modules, "the trace missed the checks doctor ran"
    loaded = sorted(name for name in modules if name.split(".")[0] in FORBIDDEN_AT_STARTUP)
    assert not loaded, f"doctor imported {loaded[:10]}"
    others = _check_modules_of(tuple(suite for suite in SUITE_MODULES if suite not in suites))
    assert sorted(modules & others) == [], "doctor imported checks of suites it did not run"
    assert sorted(name for name in modules if name.startswith(SUITES_ONLY)) == []
    # The example has no compose file (the service is rendered from the settings): no parser.
    assert "yaml" not in modules, "doctor imported PyYAML with no compose file to read"


def test_doctor_refused_at_the_door_imports_no_check(tmp_path: Path, launch: Launcher) -> None:
    """A server without the password the env promises: doctor says so before any check module
    loads (the answer costs the CLI and one connection, nothing more)."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod", REDIS_PASSWORD="")
    promised = load_env_context(
        NselfProject.open(COMPLETE_WITHOUT_TLS), "prod"
    ).settings.password.value.reveal()
    status, stderr, modules = _cli_modules(
        tmp_path,
        *("doctor", "--project", str(COMPLETE_WITHOUT_TLS), "--env", "prod"),
        *("--redis-url", f"redis://127.0.0.1:{target.endpoint.port}"),
        environ={"NSELF_REDIS_PASSWORD": promised},
    )
    assert status == 2, stderr
    assert "has no password, but one was given" in stderr
    assert f"{ROOT}.cli.doctor" in modules, "the trace was not read"
    assert sorted(_check_modules_of(tuple(SUITE_MODULES)) & modules) == []
