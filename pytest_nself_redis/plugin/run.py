"""The state of one pytest session: project, envs, targets and what the reports need."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from pytest_nself_redis.context import (
    EnvContext,
    load_env_context,
    open_project,
    with_password_from_environment,
)
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.live.reads import server_version
from pytest_nself_redis.live.url import check_attach_options, endpoint_from_url
from pytest_nself_redis.plugin.benchmark_json import BenchmarkRecord
from pytest_nself_redis.plugin.options import HarnessOptions
from pytest_nself_redis.plugin.roles import leave_stop_message, worker_id
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.reporting.environment import EnvReport
from pytest_nself_redis.secrets import Redactor
from pytest_nself_redis.sentinel.access import Deployment, LaunchedDeployment, attached_from_url
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.base import INSECURE_NOTE, Target, TargetOptions
from pytest_nself_redis.targets.select import make_target, resolve_kind
from pytest_nself_redis.targets.topology import make_topology

ENV_FIXTURE = "nself_env_name"
RUN_ID_VARIABLE = "NSELF_RUN_ID"
# The run id is part of the key prefix the run SCANs and deletes: no glob character may widen it.
RUN_ID_FORM = re.compile(r"[a-z0-9-]{1,32}")
RUN_KEY = pytest.StashKey["NselfRun"]()
SENTINEL_URL_FLAG = "--nself-sentinel-url"
# Exit status for a run that cannot start (bad project, no Docker, ...): pytest's usage error.
SETUP_EXIT_STATUS = pytest.ExitCode.USAGE_ERROR


@dataclass
class LaunchRecord:
    env: str
    kind: str
    description: str
    ready_seconds: float | None
    # A server a test launched beside the env's own (nself_variant, a Sentinel topology).
    variant: bool = False
    # The pytest-xdist worker that launched it ("" without -n).
    worker: str = ""


@dataclass
class NselfRun:
    config: pytest.Config
    options: HarnessOptions
    # NSELF_RUN_ID names this run's containers, volumes and temp dirs (default: random).
    run_id: str = field(default_factory=lambda: os.environ.get(RUN_ID_VARIABLE) or secrets.token_hex(3))
    redactor: Redactor = field(default_factory=Redactor)
    deferred_error: HarnessError | None = None
    kind: str | None = None
    kind_reason: str = ""
    used: bool = False
    item_envs: dict[str, str] = field(default_factory=dict)
    item_suites: dict[str, str] = field(default_factory=dict)
    env_reports: dict[str, EnvReport] = field(default_factory=dict)
    launches: list[LaunchRecord] = field(default_factory=list)
    # What tests add to their env's reports: HTML fragments, latency runs (benchmark JSON).
    attachments: dict[str, list[str]] = field(default_factory=dict)
    benchmarks: dict[str, BenchmarkRecord] = field(default_factory=dict)
    live_targets: dict[str, Target] = field(default_factory=dict)
    _project: NselfProject | None = None
    _envs: tuple[str, ...] | None = None
    _contexts: dict[str, EnvContext] = field(default_factory=dict)

    # -- project and envs -------------------------------------------------------
    def project(self) -> NselfProject:
        if self._project is None:
            options = self.options
            self._project = open_project(
                options.project, options.version, version_origin=options.version_origin
            )
        return self._project

    def env_names(self) -> tuple[str, ...]:
        if self._envs is None:
            choice = self.project().choose_envs(self.options.env, os.environ)
            self._envs = choice.names
        return self._envs

    def context(self, env: str) -> EnvContext:
        if env not in self._contexts:
            context = load_env_context(self.project(), env, self.options.compose)
            self._contexts[env] = context
            for value in context.redactor.values:
                self.redactor.add(value)
            self.env_reports[env] = EnvReport.from_context(context)
        return self._contexts[env]

    def variant_context(self, env: str, overrides: Mapping[str, str]) -> EnvContext:
        context = load_env_context(self.project(), env, self.options.compose, overrides)
        for value in context.redactor.values:
            self.redactor.add(value)
        return context

    # -- preparation (collection time) -------------------------------------------
    def prepare(self) -> None:
        """Load every env and choose the target, so bad input stops the run before any test."""
        if not RUN_ID_FORM.fullmatch(self.run_id):
            raise HarnessError(
                f"{RUN_ID_VARIABLE}={self.run_id!r} (environment) is not a run id: use 1 to 32 of a-z, 0-9 "
                "and - (it names the run's containers, temp dirs and key prefix)"
            )
        worker = worker_id(self.config)
        if worker is not None and not self.run_id.endswith(f"-{worker}"):
            # Workers of one run may share a server (attach): each keeps its own key prefix.
            self.run_id = f"{self.run_id}-{worker}"
        self.redactor.add_url(self.options.redis_url)
        self.redactor.add_url(self.options.sentinel_url)
        check_attach_options(self.options.redis_url, self.options.redis_ca)
        if self.options.sentinel_url is not None:
            endpoint_from_url(self.options.sentinel_url, url_flag=SENTINEL_URL_FLAG)
        first = None
        for env in self.env_names():
            context = self.context(env)
            first = first or context
        assert first is not None
        self.kind, self.kind_reason = resolve_kind(
            self.options.target, first.service.image, self.target_options()
        )
        if self.kind == "attach":
            self._password_from_environment()
        self._precheck(first)

    def _password_from_environment(self) -> None:
        """Attach: $NSELF_REDIS_PASSWORD / $REDISCLI_AUTH override REDIS_PASSWORD (not in argv)."""
        for env, context in self._contexts.items():
            changed = with_password_from_environment(context, os.environ)
            if changed is not context:
                self._contexts[env] = changed
                self.redactor.add(changed.settings.password.value)
                self.env_reports[env] = EnvReport.from_context(changed)

    def _precheck(self, context: EnvContext) -> None:
        if self.kind == "docker":
            from pytest_nself_redis.targets.docker_engine import docker_client, ensure_image

            client = docker_client(timeout=self.options.timeout)
            try:
                for env in self.env_names():
                    ensure_image(client, self.context(env).service.image)
            finally:
                client.close()
        elif self.kind == "process":
            from pytest_nself_redis.targets.process import find_redis_server, redis_server_args

            find_redis_server(self.options.redis_server)
            for env in self.env_names():
                redis_server_args(self.context(env).service)

    def target_options(self, extra_args: tuple[str, ...] = (), variant: bool = False) -> TargetOptions:
        """Options for a launch; a variant runs beside the env's own server, so it never takes
        the fixed --nself-port (it would collide) and gets a free port instead."""
        return TargetOptions(
            run_id=self.run_id,
            redis_server=self.options.redis_server,
            redis_url=self.options.redis_url,
            redis_ca=self.options.redis_ca,
            host_port=None if variant else self.options.port,
            startup_timeout=self.options.startup_timeout,
            socket_timeout=self.options.timeout,
            extra_args=extra_args,
            insecure=self.options.redis_insecure,
        )

    @property
    def can_be_destructive(self) -> bool:
        return self.kind != "attach" or self.options.allow_destructive

    # -- launching -----------------------------------------------------------------
    def launch(self, context: EnvContext, extra_args: tuple[str, ...] = (), record: bool = True) -> Target:
        """Start a target. The env's own target failing ends the run with its one message;
        a variant failing (``record=False``) fails only the test that asked for it."""
        resources.install_handlers()
        assert self.kind is not None
        try:
            target = make_target(self.kind, context, self.target_options(extra_args, variant=not record))
            try:
                target.start()
            except BaseException:
                target.stop()
                raise
        except HarnessError as error:
            message = self.redactor.scrub(f"nself-redis: {error}")
            if not record:
                raise HarnessError(message) from None
            leave_stop_message(self.config, "exit", message)
            pytest.exit(message, returncode=SETUP_EXIT_STATUS)
        if record:
            self.live_targets[context.name] = target
            report = self.env_reports.get(context.name)
            if report is not None:
                report.target = target.describe()
                report.target_kind = target.kind
                report.ready_seconds = target.ready_seconds
                report.server_version = server_version(target.client())
                if target.endpoint.unverified_tls:
                    report.tls_unverified = INSECURE_NOTE
                if self.kind_reason and target.kind == self.kind:
                    report.notes.append(f"target {target.kind}: {self.kind_reason}")
                report.unreproduced = [self.redactor.scrub(item) for item in target.unreproduced()]
                health = target.health_now()
                if health is not None:
                    report.container_health = self.redactor.scrub(health.describe())
        ready = target.ready_seconds
        self.launches.append(LaunchRecord(context.name, target.kind, target.describe(), ready, not record))
        return target

    def launch_variant(
        self, env: str, extra_args: tuple[str, ...] = (), overrides: Mapping[str, object] | None = None
    ) -> Target:
        """A server like the env's with overridden settings (REDIS_*=...) and ``extra_args`` for
        redis-server; its failure fails only the test that asked for it. The caller stops it."""
        context = self.variant_context(env, {key: str(value) for key, value in (overrides or {}).items()})
        return self.launch(context, extra_args=extra_args, record=False)

    def sentinel(self, context: EnvContext) -> Deployment | None:
        """The env's Sentinel deployment: the running one of --nself-sentinel-url, else a topology
        launched like the env's server (the caller stops it). None: the env promises no Sentinel,
        or the run attaches without a sentinel's URL."""
        if not context.settings.sentinel_enabled.value:
            return None
        if self.options.sentinel_url is not None:
            return attached_from_url(
                self.options.sentinel_url,
                context.settings,
                self.options.timeout,
                SENTINEL_URL_FLAG,
                insecure=self.options.redis_insecure,
                ca_cert=self.options.redis_ca,
            )
        if self.kind not in ("docker", "process"):
            return None
        resources.install_handlers()
        topology = make_topology(self.kind, context, self.target_options(variant=True))
        try:
            topology.start()
        except BaseException:
            topology.stop()
            raise
        self.launches.append(LaunchRecord(context.name, topology.kind, topology.describe(), None, True))
        return LaunchedDeployment(topology)

    # -- what tests add to the reports ---------------------------------------------------
    def add_html(self, env: str, fragment: str) -> None:
        """Self-contained HTML for the env's report summary (charts, tables)."""
        self.attachments.setdefault(env, []).append(fragment)

    def add_benchmark(self, env: str, record: BenchmarkRecord) -> None:
        """Latency runs for the env's benchmark JSON; parts of one env join (under -n, one
        part per worker that ran some of its latency tests)."""
        self.benchmarks.setdefault(env, BenchmarkRecord()).join(record)

    def release(self, target: Target) -> None:
        if self.live_targets.get(target.context.name) is target:
            del self.live_targets[target.context.name]
        target.stop()


def get_run(config: pytest.Config) -> NselfRun:
    return config.stash[RUN_KEY]
