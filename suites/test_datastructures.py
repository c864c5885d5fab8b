"""datastructures: lists, sets, sorted sets, hashes, streams, HyperLogLog, strings and
key TTL semantics, each as Redis documents it (keys under the run's own prefix)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_nself_redis.checks import CheckContext, expect_result
from pytest_nself_redis.checks import datastructures as checks

pytestmark = pytest.mark.datastructures


def test_lists_behave(nself_checks: CheckContext) -> None:
    expect_result(checks.lists_behave(nself_checks))


def test_sets_behave(nself_checks: CheckContext) -> None:
    expect_result(checks.sets_behave(nself_checks))


def test_sorted_sets_behave(nself_checks: CheckContext) -> None:
    expect_result(checks.sorted_sets_behave(nself_checks))


def test_hashes_behave(nself_checks: CheckContext) -> None:
    expect_result(checks.hashes_behave(nself_checks))


def test_streams_behave(nself_checks: CheckContext) -> None:
    expect_result(checks.streams_behave(nself_checks))


def test_hyperloglog_within_standard_error(
    nself_checks: CheckContext, record_property: Callable[[str, object], None]
) -> None:
    result = expect_result(checks.hyperloglog_within_standard_error(nself_checks))
    if isinstance(result.measured, dict):
        record_property("pfcount", result.measured["pfcount"])
        record_property("pfcount_error", result.measured["error"])


def test_key_ttl_semantics(nself_checks: CheckContext) -> None:
    expect_result(checks.key_ttl_semantics(nself_checks))


def test_strings_are_binary_safe(nself_checks: CheckContext) -> None:
    expect_result(checks.strings_are_binary_safe(nself_checks))
