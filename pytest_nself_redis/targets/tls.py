"""Certificates generated for one run, for deployments that promise TLS only."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.targets.base import TlsFiles

_DAYS = "2"
# What a strict verifier (Python 3.13's default context sets VERIFY_X509_STRICT) requires of the
# chain besides what OpenSSL writes by default: a CA's key usage, a server certificate's key
# usage, purpose and key identifiers.
CA_EXTENSIONS = ("basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign")
SERVER_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth,clientAuth",
    "subjectKeyIdentifier=hash",
    "authorityKeyIdentifier=keyid,issuer",
    "subjectAltName=DNS:localhost,DNS:redis,IP:127.0.0.1",
)
# The redis user of the official images: who the server runs as when compose sets no numeric user.
REDIS_UID = 999


def container_user(user: str | None) -> tuple[int, int]:
    """(uid, gid) a container runs as, from compose ``user:`` ("999:999", "1000"), else REDIS_UID."""
    uid_text, _, gid_text = (user or "").partition(":")
    if not uid_text.isdigit():
        return REDIS_UID, REDIS_UID
    uid = int(uid_text)
    return uid, int(gid_text) if gid_text.isdigit() else uid


def tls_owner(service: RedisService) -> tuple[int, int] | None:
    """Who must read a bind-mounted TLS key (0600): the container's user, when not us."""
    uid, gid = container_user(service.user)
    if uid in (0, os.getuid()):
        return None
    if os.geteuid() != 0:
        user = f"user {service.user}" if service.user else "no user: the image's redis user"
        raise TargetError(
            f"the container runs as uid {uid} ({service.describe()} sets {user}) and must read "
            "this run's TLS key, which is readable by its owner only; "
            f"this harness runs as uid {os.getuid()} and cannot give it away: run it as root or as uid "
            f"{uid}, set the compose user to {os.getuid()}, or use --nself-target process"
        )
    return uid, gid


def _openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise TargetError(
            "openssl not found: it is needed to make certificates for "
            "REDIS_TLS_ENABLED=true (apt-get install openssl)"
        )
    # A copy of the environment, as for spawn_server: this may run on a run-ahead thread.
    result = subprocess.run(
        [binary, *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise TargetError(f"openssl {args[0]} failed: {result.stderr.strip()[-300:]}")


def prepare_tls(directory: Path, owner: tuple[int, int] | None = None) -> TlsFiles:
    """A throwaway CA and a server certificate for localhost/127.0.0.1. The keys are 0600 in a
    0700 folder; ``owner`` (uid, gid), when the server runs as someone else (a container's
    user), is given the folder and what the server reads. The CA key stays ours."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    _issue(directory)
    for name in ("ca.key", "redis.key"):
        (directory / name).chmod(0o600)
    for name in ("ca.crt", "redis.crt"):
        (directory / name).chmod(0o644)
    if owner is not None:
        for path in (directory, directory / "redis.key", directory / "redis.crt", directory / "ca.crt"):
            os.chown(path, *owner)
    return TlsFiles(ca_cert=directory / "ca.crt", cert=directory / "redis.crt", key=directory / "redis.key")


def _issue(directory: Path) -> None:
    """ca.key/ca.crt, then redis.key and redis.crt signed by that CA (localhost, redis, 127.0.0.1)."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        _DAYS,
        "-subj",
        "/CN=nself-redis test CA",
        *(option for extension in CA_EXTENSIONS for option in ("-addext", extension)),
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "redis.key",
        "-out",
        "redis.csr",
        cwd=directory,
    )
    (directory / "server.ext").write_text("".join(f"{extension}\n" for extension in SERVER_EXTENSIONS))
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
        "server.ext",
        "-out",
        "redis.crt",
        cwd=directory,
    )
