"""Remedies are made where the knowledge is, say the exact edit, and never hold a secret; the
verdict puts the worst consequence first; the shell wrapper `fix` writes is read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_nself_redis.checks.results import Status, error, ok
from pytest_nself_redis.compose.shell import unwrap_shell
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.layers import compare_layers, config_promises
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.remedy import Consequence, Layer, Remedy, new_secret, set_setting
from pytest_nself_redis.reporting.verdict import EnvVerdict, Finding, verdict_html, verdict_lines
from tests.harness import COMPLETE, NSELF_099, NSELF_14

SCRIPT = 'exec redis-server --save "900 1" --requirepass "$REDIS_PASSWORD" "$@"'


def test_the_wrapper_fix_writes_is_read_as_the_redis_server_command() -> None:
    command = ("sh", "-c", SCRIPT, "redis-server", "--port", "7000")
    assert unwrap_shell(command, {"REDIS_PASSWORD": "p w"}) == (
        "redis-server",
        "--save",
        "900 1",
        "--requirepass",
        "p w",
        "--port",
        "7000",
    )
    assert unwrap_shell(("/bin/sh", "-c", "redis-server --timeout ${T}"), {"T": "5"}) == (
        "redis-server",
        "--timeout",
        "5",
    )


@pytest.mark.parametrize(
    "script",
    [
        "echo ready | redis-server",  # a pipe: more than one command
        "redis-server --port 1; sleep 9",  # a list
        "redis-server --requirepass pre$REDIS_PASSWORD",  # a reference inside a word
        "redis-server --requirepass $(cat /run/secret)",  # a substitution
        "sleep 1000",  # another program
        "",
    ],
)
def test_anything_else_a_shell_does_is_left_as_written(script: str) -> None:
    assert unwrap_shell(("sh", "-c", script), {"REDIS_PASSWORD": "x"}) is None


def test_a_remedy_survives_the_trip_through_test_properties() -> None:
    remedy = Remedy(Layer.DEPLOYMENT, "add --maxmemory 512mb", Consequence.AVAILABILITY, "a.yml:3", "cmd")
    properties = {"other": "x", **remedy.properties()}
    assert Remedy.from_properties(properties) == remedy
    assert Remedy.from_properties({"layer": "env", "edit": "x"}) is None  # not ours: no prefix


def test_an_env_edit_names_the_file_and_line_or_the_env_file() -> None:
    settings = load_env_context(NselfProject.open(NSELF_099), "staging").settings
    assert set_setting(settings.maxmemory, "384mb", Consequence.AVAILABILITY, "staging").edit == (
        ".env.staging:2: REDIS_MAXMEMORY=384mb"
    )
    assert set_setting(settings.timeout, "60", Consequence.TUNING, "staging").edit == (
        ".env.dev:7: REDIS_TIMEOUT=60"  # where the value staging gets is set (its cascade starts there)
    )
    assert set_setting(settings.aof_fsync, "always", Consequence.DATA_LOSS, "staging").edit == (
        ".env.staging: add REDIS_AOF_FSYNC=always"  # set nowhere: the env's own file
    )
    with pytest.raises(ValueError, match="secret"):
        set_setting(settings.password, "hunter2hunter2", Consequence.SECURITY, "staging")
    fresh = new_secret(settings.password, Consequence.SECURITY, "too short")
    assert fresh.layer is Layer.ENV
    assert settings.password.value.reveal() not in fresh.edit


def test_only_a_failed_or_warned_outcome_keeps_its_remedy() -> None:
    remedy = Remedy(Layer.SERVER, "restart", Consequence.TUNING)
    assert error("broken", remedy=remedy).named("config.x").remedy == remedy
    kept = ok("kept").named("config.x")
    assert kept.status is Status.OK
    assert kept.remedy is None


def test_a_deployment_gap_names_the_flag_the_command_lacks_and_the_fix_command() -> None:
    context = load_env_context(NselfProject.open(NSELF_099), "staging")
    verdicts = {
        promise.id: compare_layers(promise, context.service, None)
        for promise in config_promises(context.settings).values()
    }
    save = verdicts["save"].remedy
    assert save is not None
    assert save.layer is Layer.DEPLOYMENT
    assert save.consequence is Consequence.DATA_LOSS
    assert save.edit == "add --save '900 1' to the redis command (docker-compose.yml:19)"
    assert save.fixed_by == "nself-redis fix --env staging"
    assert verdicts["requirepass"].remedy is None  # kept: nothing to do


def test_nself_14_maxclients_is_replaced_not_added() -> None:
    context = load_env_context(NselfProject.open(NSELF_14), "dev")
    verdict = compare_layers(config_promises(context.settings)["maxclients"], context.service, None)
    assert verdict.remedy is not None
    assert verdict.remedy.edit == (
        "set --maxclients 10000 instead of --maxclients 50 in the redis command (docker-compose.yml:17)"
    )


def test_a_maxmemory_without_headroom_below_the_container_limit_is_an_env_edit() -> None:
    context = load_env_context(NselfProject.open(NSELF_14), "staging")  # 768mb in a 512M container
    verdict = compare_layers(config_promises(context.settings)["maxmemory"], context.service, None)
    assert verdict.remedy is not None
    assert verdict.remedy.layer is Layer.ENV
    assert verdict.remedy.edit.startswith(
        ".env.staging:4: REDIS_MAXMEMORY=384mb, or .env.local:3: REDIS_MEMORY=1024M (at most 75 % of "
        "the container's memory limit 512M (docker-compose.yml:25)"
    )
    assert verdict.remedy.fixed_by is None


def test_a_server_that_departs_from_its_deployment_is_a_server_or_host_remedy() -> None:
    context = load_env_context(NselfProject.open(COMPLETE), "staging")
    promises = config_promises(context.settings)
    policy = compare_layers(promises["maxmemory-policy"], context.service, "allkeys-random").remedy
    assert policy is not None
    assert policy.layer is Layer.SERVER
    assert "CONFIG SET maxmemory-policy 'noeviction'" in policy.edit
    lowered = compare_layers(promises["maxclients"], context.service, "100").remedy  # fd limit
    assert lowered is not None
    assert lowered.layer is Layer.HOST
    assert "ulimit -n 2032" in lowered.edit
    password = context.settings.password.value.reveal()
    secret = compare_layers(promises["requirepass"], context.service, "not-it").remedy
    assert secret is not None
    assert password not in secret.edit
    assert "REDIS_PASSWORD's value" in secret.edit


def test_the_override_judged_against_a_copy_keeps_every_promise(tmp_path: Path) -> None:
    from pytest_nself_redis.compose.override import plan_override

    project = tmp_path / "p"
    shutil.copytree(NSELF_14, project)
    context = load_env_context(NselfProject.open(project), "dev")
    (project / "docker-compose.override.yml").write_text(
        plan_override(context.settings, context.service).text("t")
    )
    (project / ".nself" / "compose-files.txt").write_text("docker-compose.yml\ndocker-compose.override.yml\n")
    fixed = load_env_context(NselfProject.open(project), "dev")
    assert fixed.service.command[:2] == ("sh", "-c")
    assert fixed.service.args.value("requirepass") == context.settings.password.value.reveal()
    assert fixed.service.literal_passwords == ()  # the base's literals no longer run
    for promise in config_promises(fixed.settings).values():
        assert compare_layers(promise, fixed.service, None).ok, promise.id


def _finding(check: str, outcome: str, consequence: Consequence | None, suite: str = "config") -> Finding:
    remedy = Remedy(Layer.DEPLOYMENT, f"fix {check}", consequence, fixed_by="x") if consequence else None
    return Finding(f"suites/test_x.py::test_{check}", suite, outcome, f"{check} broke", check, remedy)


def test_the_fix_first_list_puts_data_loss_and_security_before_tuning() -> None:
    verdict = EnvVerdict(
        "staging",
        {"failed": 4, "passed": 3},
        [
            _finding("loglevel", "failed", Consequence.TUNING),
            _finding("healthcheck", "warning", Consequence.SECURITY),
            _finding("maxclients", "failed", Consequence.AVAILABILITY),
            _finding("crash", "failed", None, suite="persistence"),  # no remedy: its suite's cost
            _finding("password", "failed", Consequence.SECURITY),
        ],
    )
    assert [finding.check for finding in verdict.fix_first()] == [
        "crash",
        "password",
        "maxclients",
        "loglevel",
        "healthcheck",
    ]
    assert verdict.failures_by_layer() == {
        "env": 0,
        "deployment": 3,
        "server": 0,
        "host": 0,
        "no remedy named": 1,
    }
    page = verdict_html(verdict)
    assert page.index("test_crash") < page.index("test_password") < page.index("test_loglevel")
    assert 'href="#suites%2Ftest_x.py%3A%3Atest_crash"' in page
    lines = verdict_lines(verdict)
    assert lines[0] == "staging: FAIL (4 failed, 3 passed, 0 skipped)"
    assert lines[3] == "  1. [data loss] crash — no remedy named"
    assert lines[-1] == "  `nself-redis fix --env staging` prints a compose override that closes 3 of these"
