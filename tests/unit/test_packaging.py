"""The wheel holds every module, the suites (they ship inside the package) and the data files,
with the version written once, in the package, and only runtime dependencies."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile

import pytest

import pytest_nself_redis
from tests.harness import REPO

TIMEOUT = 300
# Not part of a checkout's sources: never copied into the build.
_LEFT_OUT = (".git", ".venv", "build", "dist", "*.egg-info", "node_modules", "reports", "examples")
# A subpackage added to the build's copy only.
PROBE = "unlisted_probe"
DATA_FILES = (
    "pytest_nself_redis/py.typed",
    "pytest_nself_redis/doctor/schema.json",
    "pytest_nself_redis/node/package.json",
    "pytest_nself_redis/node/package-lock.json",
    "pytest_nself_redis/node/bullmq_roundtrip.cjs",
    "pytest_nself_redis/nself_plugin/v0/plugin.json",
    "pytest_nself_redis/nself_plugin/v0/lib/nself-redis.sh",
    "pytest_nself_redis/nself_plugin/v1/plugin.json",
    "pytest_nself_redis/nself_plugin/v1/lib/nself-redis.sh",
    "pytest_nself_redis/nself_plugin/v1/compose.yml",
    "pytest_nself_redis/nself_plugin/v1/Dockerfile",
    *(f"pytest_nself_redis/nself_plugin/v0/actions/{action}.sh" for action in ("doctor", "check", "probe")),
    "pytest_nself_redis/nself_plugin/v1/bin/nself-redis-check",
)
# nself runs these: pip keeps a file executable when the wheel records it so.
EXECUTABLES = [name for name in DATA_FILES if "/actions/" in name or "/bin/" in name]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from a copy of the checkout (setuptools builds in the source tree), with
    one subpackage more than the checkout."""
    source = tmp_path_factory.mktemp("source") / "checkout"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*_LEFT_OUT, "__pycache__", ".*_cache"))
    (source / "pytest_nself_redis" / PROBE).mkdir()
    (source / "pytest_nself_redis" / PROBE / "__init__.py").write_text('"""Not listed anywhere."""\n')
    dist = tmp_path_factory.mktemp("dist")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (built,) = dist.glob("pytest_nself_redis-*.whl")
    return zipfile.ZipFile(built)


def _sources() -> set[str]:
    """Where each module of the checkout belongs in the wheel."""
    package = {path.relative_to(REPO).as_posix() for path in (REPO / "pytest_nself_redis").rglob("*.py")}
    suites = {f"pytest_nself_redis/suites/{path.name}" for path in (REPO / "suites").glob("*.py")}
    return package | suites


def test_every_module_suite_and_data_file_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    missing = sorted((_sources() | set(DATA_FILES)) - names)
    assert not missing, f"not in the wheel: {missing}"
    assert "pytest_nself_redis/suites/test_health.py" in names
    assert not [name for name in names if name.startswith(("tests/", "suites/", "examples/"))]


def test_the_nself_plugin_scripts_stay_executable(wheel: zipfile.ZipFile) -> None:
    for name in EXECUTABLES:
        mode = wheel.getinfo(name).external_attr >> 16
        assert mode & 0o111, f"{name} is not executable in the wheel ({oct(mode)})"


def test_every_file_of_the_plugin_folders_ships(wheel: zipfile.ZipFile) -> None:
    """A file added to a plugin folder and forgotten in package-data would be missing for users."""
    shipped = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "pytest_nself_redis" / "nself_plugin").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert not shipped - set(wheel.namelist())


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (path,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(wheel.read(path))


def test_the_version_is_the_packages_own(wheel: zipfile.ZipFile) -> None:
    assert _metadata(wheel)["Version"] == pytest_nself_redis.__version__


def test_hypothesis_is_only_a_dev_dependency(wheel: zipfile.ZipFile) -> None:
    """The package never imports it (tests/unit/test_import_layers.py); its tests do."""
    requirements = _metadata(wheel).get_all("Requires-Dist") or []
    hypothesis = [line for line in requirements if line.startswith("hypothesis")]
    assert hypothesis, requirements
    assert all('extra == "dev"' in line for line in hypothesis), hypothesis
    assert any(line.startswith("pytest-benchmark") and "extra" not in line for line in requirements)


def test_a_new_subpackage_ships_without_being_listed(wheel: zipfile.ZipFile) -> None:
    """Packages are discovered: the build's copy gained one no configuration names."""
    assert f"pytest_nself_redis/{PROBE}/__init__.py" in wheel.namelist()
