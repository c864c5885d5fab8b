"""datastructures: lists, sets, sorted sets, hashes, streams, HyperLogLog, strings and
key TTL semantics, each as Redis documents it (keys under the run's own prefix)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.plugin.verdicts import record_measured, run_check

pytestmark = pytest.mark.datastructures


def test_lists_behave(nself_checks: CheckContext) -> None:
    run_check("datastructures.lists", nself_checks)


def test_sets_behave(nself_checks: CheckContext) -> None:
    run_check("datastructures.sets", nself_checks)


def test_sorted_sets_behave(nself_checks: CheckContext) -> None:
    run_check("datastructures.sorted_sets", nself_checks)


def test_hashes_behave(nself_checks: CheckContext) -> None:
    run_check("datastructures.hashes", nself_checks)


def test_streams_behave(nself_checks: CheckContext) -> None:
    run_check("datastructures.streams", nself_checks)


def test_hyperloglog_within_standard_error(
    nself_checks: CheckContext, record_property: Callable[[str, object], None]
) -> None:
    report = record_measured(record_property, pfcount="pfcount", pfcount_error="error")
    run_check("datastructures.hyperloglog", nself_checks, report=report)


def test_key_ttl_semantics(nself_checks: CheckContext) -> None:
    run_check("datastructures.ttl", nself_checks)


def test_strings_are_binary_safe(nself_checks: CheckContext) -> None:
    run_check("datastructures.strings", nself_checks)
