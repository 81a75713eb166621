"""Single files over the scp protocol (``ssh_file_transfer_method = "scp"``), for
machines without an SFTP server: the remote side runs ``scp -t`` (receive) or
``scp -f`` (send) and the file crosses the channel as one stream.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable
from typing import Any, BinaryIO

from kiln.sdk.communicator import CommunicatorError

CHUNK = 256 * 1024


def upload_command(dst: str) -> str:
    return f"scp -t -- {shlex.quote(posixpath.dirname(dst) or '.')}"


def download_command(src: str) -> str:
    return f"scp -f -- {shlex.quote(src)}"


def upload(
    channel: Any, dst: str, src: BinaryIO, size: int, mode: int, advance: Callable[[int], None]
) -> None:
    """Send ``size`` bytes of ``src`` as the file ``dst`` to a running ``scp -t``."""
    _ack(channel, dst)
    name = posixpath.basename(dst)
    channel.sendall(f"C{mode & 0o7777:04o} {size} {name}\n".encode())
    _ack(channel, dst)
    left = size
    while left:
        chunk = src.read(min(CHUNK, left))
        if not chunk:
            raise CommunicatorError(f"the data for {dst} ended {left} bytes early")
        channel.sendall(chunk)
        left -= len(chunk)
        advance(len(chunk))
    channel.sendall(b"\0")
    _ack(channel, dst)


def download(
    channel: Any,
    src: str,
    dst: BinaryIO,
    advance: Callable[[int], None],
    sized: Callable[[int | None], None],
) -> None:
    """Receive the file a running ``scp -f`` sends into ``dst``."""
    channel.sendall(b"\0")
    line = _line(channel, src)
    if line[:1] != b"C":
        raise CommunicatorError(f"cannot download {src}: {_reason(line)}")
    try:
        size = int(line.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise CommunicatorError(f"cannot download {src}: scp said {line!r}") from None
    sized(size)
    channel.sendall(b"\0")
    left = size
    while left:
        chunk = channel.recv(min(CHUNK, left))
        if not chunk:
            raise CommunicatorError(f"the connection closed during the download of {src}")
        dst.write(chunk)
        left -= len(chunk)
        advance(len(chunk))
    _ack(channel, src)
    channel.sendall(b"\0")


def _ack(channel: Any, path: str) -> None:
    """Read scp's answer: a zero byte, or 1/2 and a message."""
    answer = channel.recv(1)
    if answer == b"\0":
        return
    if not answer:
        raise CommunicatorError(f"scp on the machine ended early ({path}); is scp installed?")
    raise CommunicatorError(f"scp refused {path}: {_reason(answer + _line(channel, path))}")


def _line(channel: Any, path: str) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        byte = channel.recv(1)
        if not byte:
            if data:
                return data
            raise CommunicatorError(f"scp on the machine ended early ({path}); is scp installed?")
        data += byte
    return data


def _reason(line: bytes) -> str:
    return line.lstrip(b"\1\2").decode("utf-8", "replace").strip() or "no reason given"
