"""The ``nself-redis`` command.

Imports only the subcommands' declarations (``cli.commands``); the chosen command's
module is imported when it runs. ``--version`` alone is answered before even those load.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from pytest_nself_redis import __version__
from pytest_nself_redis.errors import ExitStatus, HarnessError

if TYPE_CHECKING:
    import argparse

PROG = "nself-redis"
# Commands that end within their deadline (doctor; probe, a healthcheck run every few seconds):
# the console script runs them without the cycle collector (``run``).
BOUNDED = frozenset({"doctor", "probe"})


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``chosen`` command's options are declared (every command is listed)."""
    import argparse

    from pytest_nself_redis.cli.commands import declare

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Conformance and health harness for the Redis of an nself project.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    declare(parser.add_subparsers(dest="command", metavar="COMMAND"), chosen)
    return parser


def _parse(parser: argparse.ArgumentParser, arguments: list[str]) -> tuple[argparse.Namespace, list[str]]:
    options, extra = parser.parse_known_args(arguments)
    if extra and options.command not in (None, "check"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return options, extra


def command_of(arguments: Sequence[str]) -> str | None:
    """The command named: the only options before it are --help and --version, so its first word."""
    return next((word for word in arguments if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments == ["--version"]:  # argparse's answer, before any command is declared
        print(f"{PROG} {__version__}")
        return 0
    from pytest_nself_redis.cli.commands import USAGE_STATUS

    command = command_of(arguments)
    parser = build_parser(command)
    try:
        options, extra = _parse(parser, arguments)
    except SystemExit as stop:
        if stop.code == ExitStatus.USAGE and command in USAGE_STATUS:
            return USAGE_STATUS[command]
        raise
    if options.command is None:
        parser.print_help(sys.stderr)
        return int(ExitStatus.USAGE)
    try:
        return int(options.handler(options, extra))
    except HarnessError as error:
        print(f"nself-redis: {error}", file=sys.stderr)
        return int(error.exit_status)
    except KeyboardInterrupt:
        print("nself-redis: interrupted", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The console script: ``main``, then exit without collecting what is about to be freed.

    At exit the interpreter clears every module and collects garbage again and again over
    everything the command imported (some 36,000 objects for doctor); frozen, they are skipped
    (doctor exits some 50 ms sooner). A ``BOUNDED`` command runs without the cycle collector:
    its imports make those objects and no garbage, yet set off collections over them (about
    10 ms of doctor's CPU), and what little cyclic garbage its checks leave is freed at exit.
    Only here, in a process that is ending: ``main`` itself runs inside test sessions too.
    """
    if command_of(sys.argv[1:]) in BOUNDED:
        gc.disable()
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
