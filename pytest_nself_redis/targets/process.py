"""The compose service's command line, run by a local ``redis-server``.

Same directives as the container would get; what only makes sense inside a
container is replaced: the data dir is a temp folder, the server listens on a
free 127.0.0.1 port, and the log goes to a file we can show.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pytest_nself_redis.compose.redis_args import (
    SECRET_DIRECTIVES,
    RedisArgs,
    is_redis_server,
    parse_redis_args,
)
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.host import ServerHost
from pytest_nself_redis.live.loopback import LOOPBACK, free_loopback_port, held_across_stop
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.base import Target, TargetOptions, ensure_port_free
from pytest_nself_redis.targets.container_settings import container_settings
from pytest_nself_redis.targets.readiness import wait_until_ready
from pytest_nself_redis.targets.tls import prepare_tls

# Directives we own on a local run: where it listens, where it writes, how it runs.
_OWNED = {"port", "tls-port", "bind", "dir", "daemonize", "logfile", "pidfile", "supervised", "unixsocket"}


def find_redis_server(explicit: str | None) -> str:
    if explicit:
        path = shutil.which(explicit) or (explicit if os.access(explicit, os.X_OK) else None)
        if path is None:
            raise TargetError(f"redis-server {explicit!r} (--nself-redis-server) is not an executable file")
        return path
    found = shutil.which("redis-server")
    if found is None:
        raise TargetError(
            "redis-server not found on PATH: install it (apt-get install redis-server) "
            "or pass --nself-redis-server PATH; or use --nself-target docker"
        )
    return found


def redis_server_args(service: RedisService) -> RedisArgs:
    """The service's command as redis-server arguments; any other program is refused, since
    only the docker target can run what the image holds."""
    args = service.args
    if not is_redis_server(args.program):
        raise TargetError(
            f"the compose command ({service.command_source}) runs {args.program!r}, not "
            "redis-server; the process target runs only redis-server commands (also behind a one-line "
            "`sh -c 'exec redis-server ...'`): use --nself-target docker"
        )
    return args


@functools.cache
def _dies_with_parent() -> tuple[str, ...]:
    """``setpriv --pdeathsig KILL --`` (util-linux 2.33 or later), put before a server's argv: it
    gets SIGKILL if the harness dies, so no server outlives a killed run. The kernel sends it when
    the thread that spawned the server ends, so a server lives no longer than its launching
    thread (once setpriv has set it, before it runs the server: the launcher waits for the
    server to answer anyway). Where setpriv cannot, nothing (the run's own cleanup still
    removes it)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ()
    try:
        usage = subprocess.run(
            [setpriv, "--help"], env=dict(os.environ), capture_output=True, text=True, timeout=5, check=False
        )  # the environment copied, as in spawn_server: the first launch may be on any thread
    except (OSError, subprocess.SubprocessError):
        return ()
    return (setpriv, "--pdeathsig", "KILL", "--") if "--pdeathsig" in usage.stdout else ()


def spawn_server(argv: Sequence[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start a redis-server (or sentinel) that dies with the harness, its output appended to ``log``.

    No Python runs in the child, so the interpreter can vfork (a fork of a big test session
    costs more than the server's own start) and any thread may launch. The environment goes
    in as a copy: a vforked child shares the process's memory, and without one it would read
    the process's own environment while another thread rewrites it (pytest sets
    PYTEST_CURRENT_TEST on every test phase), and the exec fails with EFAULT ("Bad address").
    umask 077: what the server writes is its owner's only, above all its config file, which
    holds the password and is rewritten by CONFIG REWRITE (Sentinel sends one on every failover).
    """
    with log.open("ab") as output:
        return subprocess.Popen(
            [*_dies_with_parent(), *argv],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(os.environ),
            start_new_session=True,  # Ctrl-C reaches us, not the server: we stop it
            umask=0o077,
        )


def _bind_mounts(volumes: Sequence[str], project_dir: Path) -> list[tuple[str, Path]]:
    mounts = []
    for volume in volumes:
        parts = volume.split(":")
        if len(parts) >= 2 and (parts[0].startswith(("./", "../", "/", "~"))):
            host = Path(parts[0]).expanduser()
            mounts.append((parts[1], host if host.is_absolute() else project_dir / host))
    return sorted(mounts, key=lambda mount: len(mount[0]), reverse=True)


def _map_path(value: str, mounts: list[tuple[str, Path]]) -> str:
    for container_path, host_path in mounts:
        if value == container_path or value.startswith(container_path.rstrip("/") + "/"):
            return str(host_path) + value[len(container_path.rstrip("/")) :]
    return value


def _config_word(value: str) -> str:
    """One argument of a redis.conf line: double-quoted, with \\, " and control characters escaped."""
    escaped = []
    for char in value:
        if char in '\\"':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\x{ord(char):02x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _config_line(name: str, values: list[str]) -> str:
    return " ".join([name, *(_config_word(value) for value in values)])


def _write_private(path: Path, text: str) -> None:
    """Written readable by its owner only, from the first byte (O_EXCL: never an existing file)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


class ProcessTarget(Target):
    kind = "process"

    def __init__(self, context: EnvContext, options: TargetOptions) -> None:
        super().__init__(context, options)
        self.binary = find_redis_server(options.redis_server)
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.argv: list[str] = []
        self._cleanup_token: int | None = None
        self._log_path: Path | None = None
        self.starts = 0

    @property
    def _secret_config(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "secrets.conf"

    @property
    def data_dir(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "data"

    def build_argv(self, port: int, tls_dir: Path | None) -> list[str]:
        service = self.context.service
        args = redis_server_args(service)
        mounts = _bind_mounts(service.volumes, self.context.project.dir)
        if tls_dir is not None:
            mounts.insert(0, ("/tls", tls_dir))
        # Passwords go to a 0600 config file, never argv (/proc/<pid>/cmdline is world-readable);
        # it includes the deployment's own config file first, as redis-server reads one only.
        config = [f"include {_config_word(_map_path(args.config_file, mounts))}"] if args.config_file else []
        argv = [self.binary, str(self._secret_config)]
        tls = args.value("tls-port") not in (None, "0")
        for name, values in args.directives:
            if name in _OWNED:
                continue
            mapped = [_map_path(value, mounts) for value in values]
            if name in SECRET_DIRECTIVES:
                config.append(_config_line(name, mapped))
            else:
                argv += [f"--{name}", *mapped]
        argv += [
            "--bind",
            LOOPBACK,
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--pidfile",
            "",
            "--supervised",
            "no",
        ]
        argv += ["--port", "0", "--tls-port", str(port)] if tls else ["--port", str(port)]
        for name, values in parse_redis_args(["redis-server", *self.options.extra_args]).directives:
            if name in SECRET_DIRECTIVES:
                config.append(_config_line(name, list(values)))
            else:
                argv += [f"--{name}", *values]
        _write_private(self._secret_config, "".join(f"{line}\n" for line in config))
        return argv

    def start(self) -> None:
        self.workdir = resources.make_run_dir(self.options.run_id, "process", self.options.workdir)
        self._cleanup_token = resources.register(f"redis-server in {self.workdir}", self.stop)
        self.data_dir.mkdir()
        if self.options.seed_dir is not None:
            shutil.copytree(self.options.seed_dir, self.data_dir, dirs_exist_ok=True)
        port = self.options.host_port or free_loopback_port()
        if self.options.host_port:
            ensure_port_free(port)
        tls = (self.options.tls or prepare_tls(self.workdir / "tls")) if self._uses_tls() else None
        self._endpoint = self.launched_endpoint(port, tls)
        self.argv = self.build_argv(port, tls.cert.parent if tls and tls.cert else None)
        self._log_path = self.workdir / "redis.log"
        self._spawn()

    def _uses_tls(self) -> bool:
        return self.context.service.args.value("tls-port") not in (None, "0")

    def _spawn(self, wait: bool = True) -> None:
        assert self._log_path is not None
        self.process = spawn_server(self.argv, self._log_path, self.data_dir)
        self.starts += 1
        if not wait:
            return
        self.readiness = wait_until_ready(
            self.probe_client,
            what=f"redis-server on {LOOPBACK}:{self.endpoint.port}",
            timeout=self.options.startup_timeout,
            is_running=lambda: self.process is not None and self.process.poll() is None,
            log_tail=self.log_tail,
            address=(self.endpoint.host, self.endpoint.port),
            explain_exit=self._explain_exit,
        )
        self.ready_seconds = self.readiness.seconds

    def _explain_exit(self, tail: str) -> str:
        if "Address already in use" in tail:
            return f" because port {LOOPBACK}:{self.endpoint.port} is already taken"
        if "Bad directive" in tail or "FATAL CONFIG FILE ERROR" in tail:
            return " because the command line holds a directive this redis-server rejects"
        return ""

    def _wait_exit(self, timeout: float) -> None:
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def terminate(self) -> None:
        self.close_clients()
        if self.process is not None and self.process.poll() is None:
            with held_across_stop(self.endpoint):  # until ``resume`` listens there again
                self.process.send_signal(signal.SIGTERM)
                self._wait_exit(timeout=30)

    def kill(self) -> None:
        self.close_clients()
        if self.process is not None and self.process.poll() is None:
            with held_across_stop(self.endpoint):
                self.process.send_signal(signal.SIGKILL)
                self._wait_exit(timeout=10)

    def resume(self, wait: bool = True) -> None:
        if self.process is not None and self.process.poll() is None:
            raise TargetError("resume() needs the server stopped first")
        self._spawn(wait)

    def stop(self) -> None:
        self.close_clients()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self._cleanup_token is not None:
            resources.unregister(self._cleanup_token)
            self._cleanup_token = None

    def server_host(self) -> ServerHost | None:
        """This machine, with the running server's process."""
        if self.process is None or self.process.poll() is not None:
            return None
        return ServerHost(self.process.pid)

    def copy_out(self, path: str, destination: Path) -> Path:
        source = Path(path)
        if not source.is_absolute():
            source = self.data_dir / source
        copy = destination / source.name
        try:
            if source.is_dir():
                shutil.copytree(source, copy)
            else:
                shutil.copy2(source, copy)
        except OSError as error:
            reason = error.strerror or error
            raise TargetError(f"could not copy {source} out of the data dir: {reason}") from None
        return copy

    def unreproduced(self) -> tuple[str, ...]:
        """Every container setting of the service that matters outside a container: a local
        redis-server runs as this user, with this machine's limits and no healthcheck."""
        return tuple(
            self.context.redactor.scrub(setting.shown)
            for setting in container_settings(self.context.service.runtime)
            if setting.matters_outside
        )

    def log_tail(self, lines: int = 40) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        with self._log_path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - 64 * 1024))
            text = log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def describe(self) -> str:
        port = self._endpoint.port if self._endpoint else "?"
        return f"process {self.binary} on {LOOPBACK}:{port}"
