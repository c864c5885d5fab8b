"""Which bundled suites a run collects: what makes ``pytest --nself-env staging`` work.

pytest collects what the user names. In an nself project the user names nothing
(there are no test files there), so without this the headline command would find
no tests. When the user asks for the harness (any ``--nself-*`` flag, or
``nself_env`` / ``nself_project`` in an ini file) and names no test paths, the
bundled suites are what runs; ``--nself-suites`` adds bundled suites to named
paths, or limits them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from pytest_nself_redis.reporting.environment import SUITES

SUITES_PACKAGE = "pytest_nself_redis.suites"
ALL, NONE = "all", "none"
# ini keys that mark a project as an nself project the harness should check.
PROJECT_INI_KEYS = ("nself_env", "nself_project")


def suites_dir() -> Path:
    """Where the bundled suites are: the installed package, or suites/ of a checkout."""
    return Path(str(resources.files(SUITES_PACKAGE)))


def parse_suites(raw: str | None) -> tuple[str, ...] | None:
    """``all`` | ``none`` | ``auth,config``: the suite names, or None when unset."""
    if raw is None:
        return None
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    if names == [ALL]:
        return SUITES
    if names == [NONE]:
        return ()
    unknown = [name for name in names if name not in SUITES]
    if unknown or not names:
        raise pytest.UsageError(
            f"nself-redis: --nself-suites {raw!r}: unknown suite {', '.join(unknown) or '(empty)'}; "
            f"choose all, none or a comma list of: {', '.join(SUITES)}"
        )
    return tuple(dict.fromkeys(names))


def harness_requested(config: pytest.Config, option_dests: Sequence[str]) -> bool:
    """True when the command line carries an nself option or an ini file names the project."""
    if any(config.getoption(dest) is not None for dest in option_dests):
        return True
    return any(config.getini(key) not in (None, "", []) for key in PROJECT_INI_KEYS)


def _named_path(arg: str, pyargs: bool) -> Path | None:
    """The file or folder a collection argument names (a module name under ``--pyargs``)."""
    path = Path(arg.split("::", 1)[0])
    if path.exists():
        return path.resolve()
    if pyargs:
        try:
            spec = importlib.util.find_spec(arg)
        except (ImportError, ValueError):
            return None
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations))).resolve()
        if spec is not None and spec.origin:
            return Path(spec.origin).resolve()
    return None


@dataclass(frozen=True)
class Collection:
    """What pytest collects: ``args``; of the bundled suites' tests, only those of ``suites``
    (None: all of them)."""

    args: list[str]
    suites: tuple[str, ...] | None = None

    def runs_bundled_suites(self, pyargs: bool) -> bool:
        """Whether the bundled suites (their folder, or a module of it) are among what runs."""
        folder = suites_dir().resolve()
        named = [path for arg in self.args if (path := _named_path(arg, pyargs))]
        return any(path == folder or folder in path.parents for path in named)

    def deselects(self, path: Path, suite: str) -> bool:
        """A bundled test of a suite that was not chosen (the suites' folder is collected whole,
        so test ids read ``test_auth.py::...`` wherever the package is installed; a module
        named on the command line runs whole)."""
        if self.suites is None or suite in self.suites or path.parent != suites_dir():
            return False
        return all(Path(arg.split("::", 1)[0]).resolve() != path.resolve() for arg in self.args)


def choose_collection(config: pytest.Config, suites: tuple[str, ...] | None, requested: bool) -> Collection:
    """What pytest should collect, given what the user named.

    Named paths (command line or ini ``testpaths``) run as named, plus the suites
    ``--nself-suites`` lists. With nothing named, every bundled suite runs when the
    harness was asked for (or the listed ones), else pytest's own default.
    """
    args = list(config.args)
    named = config.args_source is not pytest.Config.ArgsSource.INVOCATION_DIR
    if suites is None:
        suites = () if named or not requested else SUITES
    if not suites:
        return Collection(args)
    folder = suites_dir()
    if not named:
        return Collection([str(folder)], suites)
    resolved = folder.resolve()
    named_paths = [path for arg in args if (path := _named_path(arg, config.option.pyargs))]
    if any(path == resolved or path in resolved.parents for path in named_paths):
        return Collection(args, suites)  # the suites' folder is named already (a checkout)
    return Collection([*args, str(folder)], suites)
