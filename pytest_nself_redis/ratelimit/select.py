"""Which limiters the ratelimit suite checks: the built-ins plus yours.

Yours come from ``--nself-limiter MODULE:NAME`` (ini ``nself_limiter``, env
``NSELF_LIMITER``) or from a ``nself_limiters`` fixture in your conftest.py. ``NAME``
may be a ``LimiterSpec``, a sequence of them, or a limiter class / factory with
``name`` and ``kind`` attributes that builds a limiter from
``(client, *, namespace, limit, window, clock=None)``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.ratelimit.base import LimiterSpec
from pytest_nself_redis.ratelimit.limiters import BUILTIN_LIMITERS


class LimiterLoadError(HarnessError):
    """``--nself-limiter`` names something that is not a limiter we can build."""


def as_specs(value: Any, origin: str) -> list[LimiterSpec]:
    """Normalise what a user hands us into specs, or say exactly what is wrong."""
    if isinstance(value, LimiterSpec):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [spec for item in value for spec in as_specs(item, origin)]
    if callable(value):
        kind = getattr(value, "kind", None)
        name = getattr(value, "name", None) or getattr(value, "__name__", None)
        if kind is None:
            raise LimiterLoadError(
                f"{origin}: {value!r} has no 'kind' attribute; give it kind = 'fixed' | 'sliding' | "
                "'approximate' | 'bucket', or wrap it in pytest_nself_redis.ratelimit.LimiterSpec"
            )
        try:
            return [
                LimiterSpec(
                    str(name),
                    kind,
                    value,
                    ttl_windows=float(getattr(value, "ttl_windows", 1.0)),
                    description=str(getattr(value, "description", "") or ""),
                )
            ]
        except ValueError as error:
            raise LimiterLoadError(f"{origin}: {error}") from None
    raise LimiterLoadError(
        f"{origin}: {value!r} is not a limiter: expected a LimiterSpec, a list of them, or a "
        "limiter class/factory with name and kind"
    )


def load_limiters(path: str, search: Iterable[Path] = ()) -> list[LimiterSpec]:
    """Import ``MODULE:NAME``; ``search`` dirs are tried when the module is not importable."""
    module_name, _, attribute = path.partition(":")
    origin = f"--nself-limiter {path}"
    if not module_name or not attribute:
        raise LimiterLoadError(f"{origin}: expected MODULE:NAME, e.g. myapp.limits:login_limiter")
    try:
        module = _import(module_name, search)
    except ImportError as error:
        raise LimiterLoadError(f"{origin}: cannot import {module_name!r} ({error})") from None
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise LimiterLoadError(f"{origin}: module {module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    return as_specs(value, origin)


def _import(module_name: str, search: Iterable[Path]) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise
        for directory in search:
            entry = str(directory)
            if entry in sys.path:
                continue
            sys.path.insert(0, entry)
            try:
                return importlib.import_module(module_name)
            except ModuleNotFoundError as retry_error:
                sys.path.remove(entry)
                if retry_error.name is None or not module_name.startswith(retry_error.name):
                    raise
        raise


def default_limiters(option: str | None, search: Iterable[Path] = ()) -> list[LimiterSpec]:
    """The built-ins, then the ``--nself-limiter`` ones; names must be unique."""
    specs = [*BUILTIN_LIMITERS, *(load_limiters(option, search) if option else [])]
    return unique(specs)


def unique(specs: Iterable[LimiterSpec]) -> list[LimiterSpec]:
    seen: dict[str, LimiterSpec] = {}
    for spec in specs:
        if spec.name in seen and seen[spec.name] is not spec:
            raise LimiterLoadError(f"two limiters are named {spec.name!r}; give each its own name")
        seen[spec.name] = spec
    return list(seen.values())
