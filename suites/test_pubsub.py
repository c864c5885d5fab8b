"""pubsub: delivery to every subscriber, patterns, order per publisher, unsubscribe,
PUBLISH to nobody, a 1 MiB message, many channels (channels namespaced per run)."""

from __future__ import annotations

import pytest

from pytest_nself_redis.checks import CheckContext
from pytest_nself_redis.plugin.verdicts import run_check

pytestmark = pytest.mark.pubsub


def test_every_subscriber_receives(nself_checks: CheckContext) -> None:
    run_check("pubsub.fan_out", nself_checks)


def test_pattern_subscriptions_match(nself_checks: CheckContext) -> None:
    run_check("pubsub.patterns", nself_checks)


def test_order_per_publisher(nself_checks: CheckContext) -> None:
    run_check("pubsub.order", nself_checks)


def test_unsubscribe_stops_delivery(nself_checks: CheckContext) -> None:
    run_check("pubsub.unsubscribe", nself_checks)


def test_publish_to_nobody_counts_zero(nself_checks: CheckContext) -> None:
    run_check("pubsub.no_subscriber", nself_checks)


def test_large_message_arrives_intact(nself_checks: CheckContext) -> None:
    run_check("pubsub.large_message", nself_checks)


def test_many_channels_on_one_connection(nself_checks: CheckContext) -> None:
    run_check("pubsub.many_channels", nself_checks)
