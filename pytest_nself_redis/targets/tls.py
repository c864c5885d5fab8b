"""Certificates generated for one run, for deployments that promise TLS only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.targets.base import TlsFiles

_DAYS = "2"


def _openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise TargetError(
            "openssl not found: it is needed to make certificates for "
            "REDIS_TLS_ENABLED=true (apt-get install openssl)"
        )
    result = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise TargetError(f"openssl {args[0]} failed: {result.stderr.strip()[-300:]}")


def prepare_tls(directory: Path) -> TlsFiles:
    """A throwaway CA and a server certificate for localhost/127.0.0.1, readable by uid 999."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        _DAYS,
        "-subj",
        "/CN=nself-redis test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "redis.key",
        "-out",
        "redis.csr",
        cwd=directory,
    )
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,DNS:redis,IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "redis.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        _DAYS,
        "-extfile",
        "san.ext",
        "-out",
        "redis.crt",
        cwd=directory,
    )
    for name in ("ca.crt", "redis.crt", "redis.key"):
        (directory / name).chmod(0o644)  # the container runs as uid 999
    directory.chmod(0o755)
    return TlsFiles(ca_cert=directory / "ca.crt", cert=directory / "redis.crt", key=directory / "redis.key")
