"""Stand-ins for the UI and the communicator that record what a component did."""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from kiln.sdk import Communicator, CommunicatorError, ConnectionInfo, Context, RemoteCmd, Ui
from kiln.sdk.tarstream import contents_only, excluded


class MockUi(Ui):
    """Records every line in ``says``, ``messages``, ``errors`` and ``machines``; answers
    ``ask`` from ``answers`` in order, then raises EOFError (as with no terminal)."""

    def __init__(self, answers: Iterable[str] = ()) -> None:
        self.answers = deque(answers)
        self.says: list[str] = []
        self.messages: list[str] = []
        self.errors: list[str] = []
        self.machines: list[tuple[str, ...]] = []
        #: the questions asked, answered or not
        self.questions: list[str] = []

    def say(self, message: str) -> None:
        self.says.append(message)

    def message(self, message: str) -> None:
        self.messages.append(message)

    def error(self, message: str) -> None:
        self.errors.append(message)

    def machine(self, kind: str, *args: str) -> None:
        self.machines.append((kind, *args))

    def ask(self, query: str) -> str:
        self.questions.append(query)
        if not self.answers:
            raise EOFError("MockUi has no answer left")
        return self.answers.popleft()


@dataclass(frozen=True)
class Reply:
    """How :class:`MockCommunicator` answers a command."""

    exit_status: int = 0
    stdout: str = ""
    stderr: str = ""


class MockCommunicator(Communicator):
    """A machine kept in memory.

    - ``commands``: every command started, in order. Each gets the :class:`Reply` of
      the first pattern (a glob, as in :mod:`fnmatch`) given to :meth:`reply` that
      matches it; exit status 0 and no output otherwise.
    - ``files``: the machine's files, path -> bytes. Uploads write there (``modes``
      keeps the mode given), downloads read from there (a missing file is a
      CommunicatorError), and ``uploads`` lists every upload, ``(path, bytes)``, in order.
    - ``uploaded_dirs`` / ``downloaded_dirs``: each ``(dst, src, exclude)`` directory
      transfer; the files go to and come from ``files`` by Packer's trailing-slash rule,
      with the real communicators' excludes (a pattern that matches a folder leaves out
      everything in it).
    """

    type = "mock"

    def __init__(self, info: ConnectionInfo | None = None) -> None:
        self.info = info or ConnectionInfo(host="127.0.0.1", port=22, user="kiln")
        self.commands: list[str] = []
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, int | None] = {}
        self.uploads: list[tuple[str, bytes]] = []
        self.uploaded_dirs: list[tuple[str, str, tuple[str, ...]]] = []
        self.downloaded_dirs: list[tuple[str, str, tuple[str, ...]]] = []
        self.replies: list[tuple[str, Reply]] = []

    def reply(
        self, pattern: str, exit_status: int = 0, stdout: str = "", stderr: str = ""
    ) -> MockCommunicator:
        """Answer commands matching ``pattern`` so; returns the communicator, to chain."""
        self.replies.append((pattern, Reply(exit_status, stdout, stderr)))
        return self

    def start(self, cmd: RemoteCmd, ctx: Context | None = None) -> int:
        if ctx is not None:
            ctx.check()
        self.commands.append(cmd.command)
        reply = next((r for p, r in self.replies if fnmatch.fnmatchcase(cmd.command, p)), Reply())
        if reply.stdout and cmd.stdout is not None:
            cmd.stdout(reply.stdout.encode())
        if reply.stderr and cmd.stderr is not None:
            cmd.stderr(reply.stderr.encode())
        cmd.exit_status = reply.exit_status
        return reply.exit_status

    def upload(
        self, dst: str, src: BinaryIO, *, mode: int | None = None, ctx: Context | None = None
    ) -> None:
        if ctx is not None:
            ctx.check()
        data = src.read()
        self.files[dst] = data
        self.modes[dst] = mode
        self.uploads.append((dst, data))

    def upload_dir(
        self, dst: str, src: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        self.uploaded_dirs.append((dst, src, tuple(exclude)))
        base = dst if contents_only(src) else posixpath.join(dst, os.path.basename(src))
        for root, _, names in os.walk(src):
            for name in names:
                local = os.path.join(root, name)
                rel = os.path.relpath(local, src).replace(os.sep, "/")
                if excluded(rel, exclude):
                    continue
                with open(local, "rb") as f:
                    self.upload(posixpath.join(base, rel), f, ctx=ctx)

    def download(self, src: str, dst: BinaryIO, ctx: Context | None = None) -> None:
        if ctx is not None:
            ctx.check()
        if src not in self.files:
            raise CommunicatorError(f"{src}: no such file on the machine")
        dst.write(self.files[src])

    def download_dir(
        self, src: str, dst: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        self.downloaded_dirs.append((dst, src, tuple(exclude)))
        prefix = src.rstrip("/") + "/"
        found = {p[len(prefix) :]: data for p, data in self.files.items() if p.startswith(prefix)}
        if not found:
            raise CommunicatorError(f"{src}: no such directory on the machine")
        base = dst if contents_only(src) else os.path.join(dst, posixpath.basename(src))
        for rel, data in found.items():
            if excluded(rel, exclude):
                continue
            local = os.path.join(base, *rel.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "wb") as f:
                f.write(data)
