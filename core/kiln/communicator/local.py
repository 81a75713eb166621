"""The local communicator: "the machine" is the host running kiln.

Commands run with ``/bin/sh -c``; files are copied. Folder copies follow the same
trailing-slash and exclude rules as the SSH communicator.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import IO, BinaryIO

from kiln.sdk import tarstream
from kiln.sdk.communicator import Communicator, CommunicatorError, ConnectionInfo, RemoteCmd
from kiln.sdk.context import Context
from kiln.sdk.process import run_process

CHUNK = 64 * 1024


class LocalCommunicator(Communicator):
    """Runs commands and copies files on this host."""

    type = "local"

    def __init__(self, shell: str = "/bin/sh") -> None:
        self.shell = shell
        self.info = ConnectionInfo(host="localhost")

    def start(self, cmd: RemoteCmd, ctx: Context | None = None) -> int:
        status = run_process(
            [self.shell, "-c", cmd.command],
            stdin=cmd.stdin,
            stdout=cmd.stdout,
            stderr=cmd.stderr,
            ctx=ctx,
        )
        cmd.exit_status = status
        return status

    def upload(
        self, dst: str, src: BinaryIO, *, mode: int | None = None, ctx: Context | None = None
    ) -> None:
        try:
            with open(dst, "wb") as out:
                _copy(src, out, ctx)
            os.chmod(dst, 0o644 if mode is None else mode)
        except OSError as exc:
            raise CommunicatorError(f"cannot write {dst}: {exc.strerror}") from None

    def download(self, src: str, dst: BinaryIO, ctx: Context | None = None) -> None:
        try:
            with open(src, "rb") as f:
                _copy(f, dst, ctx)
        except OSError as exc:
            raise CommunicatorError(f"cannot read {src}: {exc.strerror}") from None

    def upload_dir(
        self, dst: str, src: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        _copy_tree(src, dst, exclude, ctx)

    def download_dir(
        self, src: str, dst: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        _copy_tree(src, dst, exclude, ctx)


def _copy(src: IO[bytes], dst: IO[bytes], ctx: Context | None) -> None:
    while chunk := src.read(CHUNK):
        if ctx is not None:
            ctx.check()
        dst.write(chunk)


def _copy_tree(src: str, dst: str, exclude: Sequence[str], ctx: Context | None) -> None:
    """Copy the folder ``src`` by the trailing-slash rule, skipping excluded paths."""
    if not os.path.isdir(src):
        raise CommunicatorError(f"cannot copy {src}: it is not a folder.")
    root = src.rstrip("/") or "/"
    target = dst if tarstream.contents_only(src) else os.path.join(dst, os.path.basename(root))

    def ignore(folder: str, names: list[str]) -> set[str]:
        if ctx is not None:
            ctx.check()
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        return {name for name in names if tarstream.excluded(prefix + name, exclude)}

    try:
        shutil.copytree(root, target, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    except (OSError, shutil.Error) as exc:
        raise CommunicatorError(f"cannot copy {src} to {dst}: {exc}") from None
