"""``nself-redis nself-plugin``: where the nself plugin folder is, or a copy of it where nself looks."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_nself_redis import nself_plugin


def run_nself_plugin(options: argparse.Namespace, extra: list[str]) -> int:
    if options.install:
        print(nself_plugin.install(options.generation, Path(options.install)))
    else:
        print(nself_plugin.folder(options.generation))
    return 0
