"""pubsub: delivery to every subscriber, patterns, order per publisher, unsubscribe,
PUBLISH to nobody, a 1 MiB message, many channels (channels namespaced per run)."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext, expect_result
from pytest_nself_redis.checks import pubsub as checks

pytestmark = pytest.mark.pubsub


def test_every_subscriber_receives(nself_checks: CheckContext) -> None:
    expect_result(checks.every_subscriber_receives(nself_checks))


def test_pattern_subscriptions_match(nself_checks: CheckContext) -> None:
    expect_result(checks.pattern_subscriptions_match(nself_checks))


def test_order_per_publisher(nself_checks: CheckContext) -> None:
    expect_result(checks.order_per_publisher(nself_checks))


def test_unsubscribe_stops_delivery(nself_checks: CheckContext) -> None:
    expect_result(checks.unsubscribe_stops_delivery(nself_checks))


def test_publish_to_nobody_counts_zero(nself_checks: CheckContext) -> None:
    expect_result(checks.publish_to_nobody_counts_zero(nself_checks))


def test_large_message_arrives_intact(nself_checks: CheckContext) -> None:
    expect_result(checks.large_message_arrives_intact(nself_checks))


def test_many_channels_on_one_connection(nself_checks: CheckContext) -> None:
    expect_result(checks.many_channels_on_one_connection(nself_checks))
