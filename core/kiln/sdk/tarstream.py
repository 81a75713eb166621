"""Folders as one tar stream, and Packer's rules for folder transfers.

Sending a folder as one archive costs one round trip instead of several per file.
The trailing-slash rule: ``src/`` copies the folder's contents into the destination,
``src`` creates ``destination/src``. An exclude pattern (``fnmatch`` glob) is matched
against each path relative to the source folder, with ``/`` separators; an excluded
folder is skipped with everything in it.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO, Protocol, cast

from kiln.sdk.communicator import CommunicatorError

#: the tar stream is written to the channel in pieces of this size
BLOCK = 256 * 1024


def excluded(rel: str, patterns: Sequence[str]) -> bool:
    """Whether the path ``rel`` (relative to the source folder), or a folder it is in,
    matches a pattern."""
    if not patterns:
        return False
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatchcase(p, pattern) for p in prefixes for pattern in patterns)


def contents_only(src: str) -> bool:
    """Packer's rule: a source ending in ``/`` transfers the folder's contents."""
    return src.endswith("/")


def walk(src: str, exclude: Sequence[str]) -> Iterator[tuple[str, str, os.stat_result]]:
    """Every entry to send as (local path, path relative to ``src``, lstat), parents
    first; the folder itself comes first as ``""``."""
    root = src.rstrip("/") or "/"
    yield root, "", os.stat(root)

    def scan(folder: str, prefix: str) -> Iterator[tuple[str, str, os.stat_result]]:
        with os.scandir(folder) as entries:
            found = sorted(entries, key=lambda e: e.name)
        for entry in found:
            rel = prefix + entry.name
            if excluded(rel, exclude):
                continue
            info = entry.stat(follow_symlinks=False)
            yield entry.path, rel, info
            if stat.S_ISDIR(info.st_mode):
                yield from scan(entry.path, rel + "/")

    yield from scan(root, "")


def upload_entries(src: str, exclude: Sequence[str]) -> list[tuple[str, str, os.stat_result]]:
    """What an upload of the folder ``src`` sends (see :func:`walk`); a
    :class:`CommunicatorError` when ``src`` is not a folder."""
    if not os.path.isdir(src):
        raise CommunicatorError(f"cannot upload {src}: it is not a folder.")
    return list(walk(src, exclude))


def archive_size(entries: Sequence[tuple[str, str, os.stat_result]]) -> int:
    """About how many bytes the archive of ``entries`` takes (for a progress bar)."""
    total = 1024  # the two end blocks
    for _, rel, info in entries:
        total += 512 + (512 if len(rel) > 99 else 0)
        if stat.S_ISREG(info.st_mode):
            total += -(-info.st_size // 512) * 512
    return total


def write_archive(
    out: Callable[[bytes], Any],
    src: str,
    entries: Sequence[tuple[str, str, os.stat_result]],
    *,
    prefix: str = "",
    owner: tuple[int, int] | None = None,
) -> None:
    """Write ``entries`` as a tar stream to ``out``, named by the trailing-slash rule
    and below ``prefix`` (a relative folder path) when given.

    Owners are left out (the machine's user owns what it unpacks) unless ``owner``
    gives the (uid, gid) every entry gets; modes and modification times are kept. With
    a ``prefix`` and an ``owner``, the folder ``prefix`` gets an entry too, so that
    the owner owns the folder the files land in.
    """
    base = "" if contents_only(src) else os.path.basename(src.rstrip("/") or "/")
    top = posixpath.join(prefix, base) if prefix and base else prefix or base
    # the folder a contents-only transfer fills exists already, or is made by the unpacker
    skip_root = not base and (not prefix or owner is None)
    sink = cast(BinaryIO, _Sink(out))
    with tarfile.open(fileobj=sink, mode="w|", bufsize=BLOCK, format=tarfile.GNU_FORMAT) as tar:
        for path, rel, info in entries:
            name = posixpath.join(top, rel) if rel else top
            if not rel and skip_root:
                continue
            member = _member(path, name, info)
            if member is None:
                continue
            if owner is not None:
                member.uid, member.gid = owner
            if member.isreg():
                with open(path, "rb") as f:
                    tar.addfile(member, f)
            else:
                tar.addfile(member)


def _member(path: str, name: str, info: os.stat_result) -> tarfile.TarInfo | None:
    """The header of one entry (sockets, fifos and devices are skipped)."""
    member = tarfile.TarInfo(name)
    member.mode = stat.S_IMODE(info.st_mode)
    member.mtime = int(info.st_mtime)
    if stat.S_ISREG(info.st_mode):
        member.size = info.st_size
    elif stat.S_ISDIR(info.st_mode):
        member.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(info.st_mode):
        member.type = tarfile.SYMTYPE
        member.linkname = os.readlink(path)
    else:
        return None
    return member


def extract_archive(stream: Readable, dst: str, exclude: Sequence[str], top: bool) -> None:
    """Unpack a tar stream into ``dst``. ``top``: its names start with the source
    folder's own name (``name/...``) rather than ``./``; excludes are matched below it.

    Names that would land outside ``dst``, links pointing outside it and device files
    are refused; set-user-ID bits are dropped and files belong to the current user.
    """
    os.makedirs(dst, exist_ok=True)

    def accept(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        parts = posixpath.normpath(member.name).split("/")
        rel = "/".join(parts[1:] if top else [p for p in parts if p != "."])
        if rel and excluded(rel, exclude):
            return None
        safe = tarfile.data_filter(member, dest)
        if member.isreg() or member.isdir():
            safe = safe.replace(mode=member.mode & 0o777, deep=False)
        return safe

    with tarfile.open(fileobj=cast(BinaryIO, stream), mode="r|", bufsize=BLOCK) as tar:
        tar.extractall(dst, filter=accept)


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Sink:
    """What tarfile writes to: hands its blocks to ``out``."""

    def __init__(self, out: Callable[[bytes], Any]) -> None:
        self.write = out
