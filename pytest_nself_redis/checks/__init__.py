"""The checks behind the suites and `doctor`: each declared once in ``registry.REGISTRY``
(see ``registry`` for how, ``base`` for what a check may look at, ``results`` for what it returns).

Nothing is imported until named: the registry imports a suite's check modules the first time one
of its checks is asked for (``registry.SUITE_MODULES``), so doctor loads only the suites it runs
and the formats load only the result types. A check module is imported as usual
(``from pytest_nself_redis.checks import auth``).
"""

from typing import TYPE_CHECKING

from pytest_nself_redis.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_nself_redis.checks.base import CheckContext, VariantFactory
    from pytest_nself_redis.checks.registry import REGISTRY, RegisteredCheck, check
    from pytest_nself_redis.checks.results import CheckResult, Outcome, Status

__all__ = [
    "REGISTRY",
    "CheckContext",
    "CheckResult",
    "Outcome",
    "RegisteredCheck",
    "Status",
    "VariantFactory",
    "check",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CheckContext": "base",
        "VariantFactory": "base",
        "REGISTRY": "registry",
        "RegisteredCheck": "registry",
        "check": "registry",
        "CheckResult": "results",
        "Outcome": "results",
        "Status": "results",
    },
)
