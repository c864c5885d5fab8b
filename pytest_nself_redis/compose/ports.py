"""Published ports of a compose service, in the short (``"127.0.0.1:6379:6379"``) and long
(``{target, published, host_ip}``) forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.yaml_lines import shape_of
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import Source

_PORT = re.compile(
    r"(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):)?"
    r"(?:(?P<host>[0-9]*):)?(?P<container>[0-9]+)(?:/(?P<proto>tcp|udp))?\Z"
)


@dataclass(frozen=True)
class PortBinding:
    """One published port: ``host_ip`` None means every interface."""

    host_ip: str | None
    host_port: int | None
    container_port: int
    text: str
    source: Source
    protocol: str = "tcp"

    @property
    def loopback_only(self) -> bool:
        return self.host_ip in ("127.0.0.1", "::1", "[::1]", "localhost")

    @property
    def unique_key(self) -> tuple[str, str, int, str]:
        """What Compose keeps one entry per when it merges files: {ip, published, target, protocol}."""
        return (self.host_ip or "", str(self.host_port or ""), self.container_port, self.protocol)


def as_text(value: Any, where: str, what: str) -> str:
    """A scalar compose value as text (YAML's true/false as compose writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ComposeError(f"{where}: {what} should be a string, found {shape_of(value)}")


def parse_port(item: Any, source: Source, variables: Mapping[str, str]) -> PortBinding:
    """One item of ``ports:``, interpolated; errors name ``source``."""
    where = str(source)
    if isinstance(item, dict):
        target = interpolate(as_text(item.get("target", ""), where, "target"), variables, where)
        published = interpolate(as_text(item.get("published", ""), where, "published"), variables, where)
        host_ip = item.get("host_ip")
        protocol = interpolate(as_text(item.get("protocol", "tcp"), where, "protocol"), variables, where)
        if not target.isdigit():
            raise ComposeError(f"{where}: port target {target!r} is not a number")
        return PortBinding(
            interpolate(as_text(host_ip, where, "host_ip"), variables, where) if host_ip else None,
            int(published) if published.isdigit() else None,
            int(target),
            f"{host_ip or ''}:{published}:{target}",
            source,
            protocol.lower() or "tcp",
        )
    text = interpolate(as_text(item, where, "port"), variables, where)
    match = _PORT.match(text)
    if match is None:
        raise ComposeError(f"{where}: cannot read port mapping {text!r}")
    ip, host = match["ip"], match["host"]
    if ip is not None and host is None and ip.isdigit():
        ip, host = None, ip  # "6379:6379" is HOST:CONTAINER, not IP:CONTAINER
    return PortBinding(
        ip.strip("[]") if ip else None,
        int(host) if host else None,
        int(match["container"]),
        text,
        source,
        match["proto"] or "tcp",
    )
