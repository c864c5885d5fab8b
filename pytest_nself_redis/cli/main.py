"""The ``nself-redis`` command.

Imports only the subcommands' declarations (``cli.commands``); the chosen command's
module is imported when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytest_nself_redis import __version__
from pytest_nself_redis.cli.commands import declare
from pytest_nself_redis.errors import ExitStatus, HarnessError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nself-redis",
        description="Conformance and health harness for the Redis of an nself project.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    declare(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    options, extra = parser.parse_known_args(arguments)
    if options.command is None:
        parser.print_help(sys.stderr)
        return int(ExitStatus.USAGE)
    if extra and options.command != "check":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(options.handler(options, extra))
    except HarnessError as error:
        print(f"nself-redis: {error}", file=sys.stderr)
        return int(error.exit_status)
    except KeyboardInterrupt:
        print("nself-redis: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
