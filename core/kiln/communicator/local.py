"""The local communicator: "the machine" is the host running kiln.

Commands run with ``/bin/sh -c``; files are copied. Folder copies follow the same
trailing-slash and exclude rules as the SSH communicator.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import IO, BinaryIO

from kiln.communicator import tarstream
from kiln.sdk.communicator import Communicator, CommunicatorError, ConnectionInfo, RemoteCmd
from kiln.sdk.context import Context

POLL = 0.1
CHUNK = 64 * 1024


class LocalCommunicator(Communicator):
    """Runs commands and copies files on this host."""

    type = "local"

    def __init__(self, shell: str = "/bin/sh") -> None:
        self.shell = shell
        self.info = ConnectionInfo(host="localhost")

    def start(self, cmd: RemoteCmd, ctx: Context | None = None) -> int:
        proc = subprocess.Popen(
            [self.shell, "-c", cmd.command],
            stdin=subprocess.PIPE if cmd.stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so that cancelling stops the command's children too
        )
        threads = [
            _pump(proc.stdout, cmd.stdout),
            _pump(proc.stderr, cmd.stderr),
        ]
        if cmd.stdin is not None:
            threads.append(_feed(proc.stdin, cmd.stdin))
        while True:
            try:
                status = proc.wait(POLL)
                break
            except subprocess.TimeoutExpired:
                if ctx is not None and ctx.cancelled:
                    _stop(proc)
                    ctx.check()  # raises Cancelled
        for thread in threads:
            thread.join()
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


def _pump(stream: IO[bytes] | None, out: Callable[[bytes], None] | None) -> threading.Thread:
    """Pass a pipe's data to ``out`` as it arrives (read1 returns what is there)."""

    def run() -> None:
        assert stream is not None
        with stream:
            while chunk := stream.read1(CHUNK):  # type: ignore[attr-defined]
                if out is not None:
                    out(chunk)

    thread = threading.Thread(target=run, name="kiln-local-output", daemon=True)
    thread.start()
    return thread


def _feed(pipe: IO[bytes] | None, data: BinaryIO) -> threading.Thread:
    def run() -> None:
        assert pipe is not None
        try:
            with pipe:
                while chunk := data.read(CHUNK):
                    pipe.write(chunk)
                    pipe.flush()
        except BrokenPipeError:  # the command stopped reading
            pass

    thread = threading.Thread(target=run, name="kiln-local-input", daemon=True)
    thread.start()
    return thread


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the command and everything it started; kill what does not stop."""
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
