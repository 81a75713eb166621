"""Writing a file so that no reader and no crash ever sees half of it: all at once
(:func:`write_atomically`) or streamed (:func:`atomic_file`).

The one implementation for kiln's commands (``fmt -write``, ``hcl2_upgrade``, the lock
file), its built-in components and, through :mod:`kiln.sdk`, plugins.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

#: a temporary file is ``.<name>.<random hex>`` + this, beside its target
PART_SUFFIX = ".part"


@contextmanager
def atomic_file(
    path: str | os.PathLike[str],
    *,
    mode: int = 0o666,
    before: Callable[[str], object] | None = None,
) -> Iterator[BinaryIO]:
    """A file to write ``path``'s new content into; it replaces ``path`` in one step
    when the block ends, and is removed instead if the block raises.

    The data goes to a temporary file in the target's folder (a symbolic link is
    followed, so the link stays a link; missing folders are created), is flushed to
    disk, and is renamed over the target; the folder is flushed too, so the rename
    survives a power cut. A replaced file keeps its mode; a new one gets ``mode`` less
    the umask. ``before`` is called with the temporary file's path before it is
    created: a build writes it down in its cleanup journal, for a kill mid-write.
    """
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    os.makedirs(folder, exist_ok=True)
    part = os.path.join(folder, f".{name}.{os.urandom(6).hex()}{PART_SUFFIX}")
    if before is not None:
        before(part)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            with suppress(FileNotFoundError):
                os.fchmod(f.fileno(), stat.S_IMODE(os.stat(target).st_mode))
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(part)
        raise
    fsync_folder(folder)


def write_atomically(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o666) -> None:
    """Replace the file at ``path`` with ``data`` in one step (see :func:`atomic_file`)."""
    with atomic_file(path, mode=mode) as f:
        f.write(data)


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a new or renamed file in it) to disk, where it can."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot flush a folder; the rename itself is still atomic
    finally:
        os.close(fd)
