"""Package discovery, plus the suites.

The suites live at the top of the repository (suites/) and ship inside the package as
``pytest_nself_redis.suites`` (package-dir in pyproject.toml), so the CLI and ``pytest
--pyargs`` find them. setuptools' ``packages.find`` cannot name a package from another
directory, so the list is found here, with the suites added; everything else is in
pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["pytest_nself_redis", "pytest_nself_redis.*"]),
        "pytest_nself_redis.suites",
    ]
)
