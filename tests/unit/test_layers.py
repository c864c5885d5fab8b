"""The three-layer comparison names the layer that broke."""

from __future__ import annotations

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.layers import DEPLOYMENT, LIVE, compare_layers, config_promises
from pytest_nself_redis.project.model import NselfProject
from tests.harness import COMPLETE, NSELF_099


def test_deployment_layer_names_setting_file_and_line() -> None:
    context = load_env_context(NselfProject.open(NSELF_099), "staging")
    promise = config_promises(context.settings)["maxmemory"]
    verdict = compare_layers(promise, context.service, "0")
    assert verdict.broken_layer == DEPLOYMENT
    assert verdict.message == (
        "Promise: Redis caps its memory at 512mb — REDIS_MAXMEMORY=512mb (.env.staging:2). "
        "Broken at the deployment layer: the compose command (docker-compose.yml:19) sets no "
        "--maxmemory, so Redis uses its default 0 (no limit); live maxmemory=0 (no limit)."
    )


def test_live_layer_when_the_server_departs_from_the_deployment() -> None:
    context = load_env_context(NselfProject.open(COMPLETE), "staging")
    promise = config_promises(context.settings)["maxmemory-policy"]
    verdict = compare_layers(promise, context.service, "allkeys-random")
    assert verdict.broken_layer == LIVE
    assert "running server reports maxmemory-policy=allkeys-random" in verdict.message


def test_kept_promise() -> None:
    context = load_env_context(NselfProject.open(COMPLETE), "staging")
    promise = config_promises(context.settings)["save"]
    assert compare_layers(promise, context.service, "900 1").ok


def test_the_password_is_never_in_a_verdict() -> None:
    context = load_env_context(NselfProject.open(COMPLETE), "staging")
    promise = config_promises(context.settings)["requirepass"]
    password = context.settings.password.value.reveal()
    for live in (password, "other-password", None):
        verdict = compare_layers(promise, context.service, live)
        assert password not in verdict.message
        assert "other-password" not in verdict.message
