"""The wheel holds every package and the suites (they ship inside the package)."""

from __future__ import annotations

import tomllib

from tests.harness import REPO


def test_every_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "pytest_nself_redis").rglob("__init__.py")
        if "node_modules" not in path.parts
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["pytest_nself_redis.suites"] == "suites"
    assert "pytest_nself_redis.suites" in listed
