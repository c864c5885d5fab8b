"""A server that is already running: reached, never launched, never changed.

The URL (``--nself-redis-url``) wins; otherwise 127.0.0.1, REDIS_PORT and
REDIS_PASSWORD from the settings, which is how the host reaches nself's Redis.
"""

from __future__ import annotations

import re
from dataclasses import replace

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.errors import TargetError, UnreachableError
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.host import ServerHost, local_server
from pytest_nself_redis.live.loopback import LOOPBACK
from pytest_nself_redis.live.reads import info
from pytest_nself_redis.live.url import endpoint_from_url
from pytest_nself_redis.secrets import url_password
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.readiness import DENIED_HINT, denied_banner


def _local_address(client: redis.Redis) -> str | None:
    """The server's end of this client's connection (CLIENT INFO laddr, Redis 6.2 and later)."""
    try:
        return str(client.client_info().get("laddr") or "") or None
    except redis_errors.RedisError:
        return None


class AttachTarget(Target):
    kind = "attach"
    launched = False

    def __init__(self, context: EnvContext, options: TargetOptions) -> None:
        super().__init__(context, options)
        if options.redis_url is not None:
            planned = endpoint_from_url(
                options.redis_url, options.redis_ca, options.insecure, options.url_flag, options.ca_flag
            )
            if not planned.password and context.password_variable:
                # A URL without a password takes it from the environment (kept out of argv).
                planned = replace(planned, password=context.settings.password.value)
            self._planned = replace(planned, timeout=options.socket_timeout)
            self._how = options.url_flag
        else:
            settings = context.settings
            if not settings.port.value:
                raise TargetError(
                    f"cannot attach: {settings.port.cite()} publishes no host port; "
                    "pass --nself-redis-url redis://host:port"
                )
            self._planned = ServerAddress(
                LOOPBACK, settings.port.value, settings.password.value, timeout=options.socket_timeout
            )
            self._how = f"{settings.port.cite()}"

    def start(self) -> None:
        self._endpoint = self._planned
        self.ping_error: str | None = None
        where = f"{self._planned.host}:{self._planned.port} (from {self._how})"
        client = self.client()
        try:
            client.ping()
        except redis_errors.BusyLoadingError as error:
            # Reachable, authenticated, still loading its dataset: a finding for the health
            # suite (and doctor), not a reason to refuse to look.
            self.ping_error = str(error)
        except redis_errors.AuthenticationError as error:
            source = self._password_source()
            if "NOAUTH" in str(error) or "required" in str(error).lower():
                raise TargetError(
                    f"{where} requires a password and none was given (password from {source})"
                ) from None
            if "without any password configured" in str(error):
                raise TargetError(
                    f"{where} has no password, but one was given (password from {source}): the server "
                    "does not require the password the env promises"
                ) from None
            raise TargetError(
                f"{where} rejected the password from {source} (WRONGPASS); the password is not shown"
            ) from None
        except redis_errors.ResponseError as error:
            if "NOAUTH" in str(error):
                raise TargetError(f"{where} requires a password and none was given") from None
            if "DB index is out of range" in str(error):
                raise TargetError(
                    f"{where} has no db {self._planned.db} (its `databases` setting is lower): "
                    f"use a smaller db number in the path of {self.options.url_flag}"
                ) from None
            # e.g. MISCONF after a failed snapshot: the server is there and unwell; the
            # suites say what is wrong, so the run goes on.
            self.ping_error = str(error)
        except redis_errors.TimeoutError:
            raise UnreachableError(
                f"{where} accepted the connection but did not answer within "
                f"{self.options.socket_timeout:.1f} s: a hung server, or not Redis"
            ) from None
        except redis_errors.ConnectionError as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):
                raise TargetError(self._untrusted(where, str(error))) from None
            if "closed by server" in str(error) and denied_banner((self._planned.host, self._planned.port)):
                raise UnreachableError(f"{where} refuses this client (-DENIED): {DENIED_HINT}") from None
            raise UnreachableError(f"nothing answers as Redis at {where}: {error}") from None
        except (OSError, redis_errors.RedisError) as error:
            raise UnreachableError(f"{where} does not speak the Redis protocol ({error})") from None

    def _password_source(self) -> str:
        url = self.options.redis_url
        if url and (url_password(url) or not self.context.password_variable):
            return "the URL"
        return self.context.settings.password.cite()

    def _untrusted(self, where: str, error: str) -> str:
        found = re.search(r"certificate verify failed: ([^(]+)", error)
        against = self._planned.ca_file or "the system's CAs"
        return (
            f"{where} presented a TLS certificate this run does not trust "
            f"({found.group(1).strip() if found else 'certificate verify failed'}; checked against "
            f"{against}, host name {self._planned.host}): nothing was sent to it. Pass the CA that "
            "signed it (--nself-redis-ca, doctor --redis-ca), or skip verification explicitly with "
            "--nself-redis-insecure (doctor --insecure)"
        )

    def stop(self) -> None:
        self.close_clients()

    def server_host(self) -> ServerHost | None:
        """This machine, when told the server runs here (``local``): the process INFO names."""
        if not self.options.local:
            return None
        try:
            client = self.client()
            fields = info(client, "server")
            return local_server(
                int(fields.get("process_id", 0)), int(fields.get("tcp_port", 0)), _local_address(client)
            )
        except (redis_errors.RedisError, OSError, ValueError) as error:
            why = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return ServerHost(None, why_no_pid=f"INFO server could not be read ({why})")

    def log_tail(self, lines: int = 40) -> str:
        return "(attached server: its log is not reachable from here)"

    def describe(self) -> str:
        endpoint = self._endpoint or self._planned
        return f"attach {endpoint.describe()}"
