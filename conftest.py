"""Repository-wide pytest setup.

``pytester`` is enabled here (plugins may only be declared in the rootdir
conftest) for the harness's own tests in tests/, which run pytest sessions of the
plugin against real servers.
"""

pytest_plugins = ["pytester"]
