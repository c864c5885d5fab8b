"""Repository root of pytest-nself-redis.

In a checkout, ``pytest`` here runs the bundled suites (suites/) against
examples/complete (see [tool.pytest.ini_options] in pyproject.toml); the harness's
own tests live in tests/ and bring their fixtures in tests/conftest.py.

Keep this file free of ``pytest_plugins``: with an editable install, the suites
run from this checkout for any project, and pytest refuses ``pytest_plugins`` in
a conftest outside the rootdir of that project.
"""
