"""Tar archives of a data dir, the form the Docker engine takes files in and hands them out.

Packing sets the owner the container runs as (Redis must write its own files); unpacking
takes regular files and folders only, each inside the destination, since the archive comes
from a container that may hold anything.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from pytest_nself_redis.errors import TargetError


def pack(folder: Path, owner: tuple[int, int]) -> bytes:
    """Everything under ``folder`` (not the folder itself), owned by ``owner`` (uid, gid),
    modes kept."""
    uid, gid = owner
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            elif info.isdir():
                tar.addfile(info)
    return buffer.getvalue()


def _inside(name: str, destination: Path) -> Path:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise TargetError(f"the archive holds {name!r}, which points outside where it is unpacked")
    return destination.joinpath(*relative.parts)


def unpack(chunks: Iterable[bytes], destination: Path) -> list[Path]:
    """Regular files and folders of a tar stream, written under ``destination``; links and
    devices are skipped. Returns the top-level entries written."""
    data = b"".join(chunks)
    top: list[Path] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            target = _inside(member.name, destination)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as handle:
                    while block := source.read(1 << 20):
                        handle.write(block)
                target.chmod(member.mode & 0o777)
            else:
                continue
            if len(PurePosixPath(member.name).parts) == 1:
                top.append(target)
    return top
