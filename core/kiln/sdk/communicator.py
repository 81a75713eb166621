"""How provisioners reach the machine being built.

A builder connects a :class:`Communicator` (``ssh``, ``docker``, ``none``, local) and
provisioners use it to run commands and move files. Every call takes an optional
:class:`~kiln.sdk.context.Context`; when it is cancelled the call stops with
:class:`~kiln.sdk.context.Cancelled`.

Directory transfers follow Packer's rsync-like rule: a source path ending in ``/``
copies the folder's contents into the destination; without it, the folder itself is
created inside the destination.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from kiln.sdk.context import Context
from kiln.sdk.ui import Progress, Ui

#: The exit status a command gets when the connection dropped before it reported one.
DISCONNECTED = -1
#: smaller transfers (a script) end too soon for a progress bar to say anything
PROGRESS_MIN = 1024 * 1024


class CommunicatorError(Exception):
    """The transport failed (connection lost, file not found on the remote side...)."""


@dataclass
class RemoteCmd:
    """A command to run remotely; output goes to the callbacks as it arrives."""

    command: str
    stdin: BinaryIO | None = None
    stdout: Callable[[bytes], None] | None = None
    stderr: Callable[[bytes], None] | None = None
    exit_status: int | None = field(default=None, init=False)


@dataclass(frozen=True)
class ConnectionInfo:
    """What ``build.Host``, ``build.Port``... report for a connected communicator."""

    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    ssh_private_key: str = ""
    ssh_public_key: str = ""


class Communicator(ABC):
    #: the communicator type, as in ``communicator = "ssh"``
    type: str = ""
    info: ConnectionInfo = ConnectionInfo()

    def reap_details(self) -> dict[str, Any] | None:
        """What ``kiln reap`` needs to reach this machine again and remove a file a
        killed build left there (no secrets); None when it cannot, or need not: a
        password or a key this run made is the only way in, or the machine goes away
        with the build (a container)."""
        return None

    @abstractmethod
    def start(self, cmd: RemoteCmd, ctx: Context | None = None) -> int:
        """Run ``cmd`` to completion, stream its output, and return (and record) its
        exit status; :data:`DISCONNECTED` if the connection dropped before it ended."""

    @abstractmethod
    def upload(
        self, dst: str, src: BinaryIO, *, mode: int | None = None, ctx: Context | None = None
    ) -> None:
        """Write the stream ``src`` to the remote file ``dst`` (mode 0644 unless given)."""

    @abstractmethod
    def upload_dir(
        self, dst: str, src: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None: ...

    @abstractmethod
    def download(self, src: str, dst: BinaryIO, ctx: Context | None = None) -> None: ...

    @abstractmethod
    def download_dir(
        self, src: str, dst: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""


def run_with_ui(comm: Communicator, ui: Ui, command: str, ctx: Context | None = None) -> int:
    """Run ``command``, showing its output line by line as build messages."""
    out = LineWriter(ui.message)
    err = LineWriter(ui.error)
    status = comm.start(RemoteCmd(command, stdout=out.write, stderr=err.write), ctx)
    out.flush()
    err.flush()
    return status


class LineWriter:
    """Turns byte chunks (a command's output) into whole lines for ``emit``; call
    ``flush`` at the end for a last line without a newline."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.buffer = b""

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self.emit(line.rstrip(b"\r").decode("utf-8", "replace"))

    def flush(self) -> None:
        if self.buffer:
            self.emit(self.buffer.decode("utf-8", "replace"))
            self.buffer = b""


def stream_size(src: BinaryIO) -> int | None:
    """How many bytes are left in ``src``, when it can say."""
    try:
        position = src.tell()
        end = src.seek(0, os.SEEK_END)
        src.seek(position)
        return end - position
    except (OSError, ValueError, AttributeError):
        return None


class TransferMeter:
    """Progress of one transfer, and the cancellation check between its pieces.

    ``start(total)`` shows a bar for a megabyte or more (or an unknown size); call
    ``advance(n)`` for each piece moved. Use it as a context manager.
    """

    def __init__(self, ui: Ui | None, label: str, ctx: Context | None) -> None:
        self.ui, self.label, self.ctx = ui, label, ctx
        self.progress: Progress | None = None

    def start(self, total: int | None) -> None:
        if self.ui is None or self.progress is not None:
            return
        if total is None or total >= PROGRESS_MIN:
            self.progress = self.ui.progress(self.label, total)

    def advance(self, amount: int) -> None:
        if self.ctx is not None:
            self.ctx.check()
        if self.progress is not None:
            self.progress.advance(amount)

    def __enter__(self) -> TransferMeter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.progress is not None:
            self.progress.close()
