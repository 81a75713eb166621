"""A small SFTP (version 3) client that keeps many large requests in flight.

paramiko's own client sends 32 KiB requests and waits in ways that cost a third to
half of the link's speed, and its prefetching download slows down quadratically on
large files. This one asks OpenSSH for its limits (``limits@openssh.com``: 255 KiB
reads and writes) and pipelines requests, so a transfer runs at about the speed of
the SSH channel under it. Only what the communicator needs is here: whole-file upload
and download, with modes.
"""

from __future__ import annotations

import stat
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO

from kiln.sdk.communicator import CommunicatorError

# packet types (draft-ietf-secsh-filexfer-02)
INIT, VERSION, OPEN, CLOSE, READ, WRITE = 1, 2, 3, 4, 5, 6
FSTAT, FSETSTAT = 8, 10
STATUS, HANDLE, DATA, ATTRS = 101, 102, 103, 105
EXTENDED, EXTENDED_REPLY = 200, 201
# status codes
OK, EOF = 0, 1
STATUS_NAMES = {2: "no such file", 3: "permission denied", 4: "failure", 8: "unsupported"}
# open flags and attribute flags
READ_FLAG, WRITE_FLAG, CREATE, TRUNCATE = 0x1, 0x2, 0x8, 0x10
ATTR_SIZE, ATTR_UIDGID, ATTR_PERMISSIONS = 0x1, 0x2, 0x4

#: what every server must accept; used when it does not state its limits
SAFE_REQUEST = 32768
#: the largest request sent even to a server that accepts more
MAX_REQUEST = 255 * 1024
#: bytes in flight per transfer: enough to keep a loopback or LAN link busy
IN_FLIGHT = 8 * 1024 * 1024
#: how much to take from the channel at once (it holds at most its window)
RECEIVE = 32 * 1024 * 1024


class SFTPError(CommunicatorError):
    """The SFTP server refused a request."""


class SFTPSession:
    """An SFTP session on ``channel``, a paramiko channel with no subsystem started."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.received = b""  # the last piece read from the channel
        self.position = 0  # how much of it was used
        self.next_id = 1
        channel.invoke_subsystem("sftp")
        self._send(INIT, struct.pack(">I", 3))
        kind, _version, rest = self._read_header()  # VERSION has no request id
        body = self._take(rest)
        if kind != VERSION:
            raise CommunicatorError(f"the SFTP server answered {kind} to its greeting")
        extensions = _extension_names(body)
        self.max_read = self.max_write = SAFE_REQUEST
        if "limits@openssh.com" in extensions:
            self._read_limits()

    # -- transfers ----------------------------------------------------------------------

    def upload(self, path: str, src: BinaryIO, mode: int, advance: Callable[[int], None]) -> None:
        """Write ``src`` to ``path`` (created or truncated) with permissions ``mode``.

        After any failure the session is out of step with the server: discard it.
        """
        handle = self._open(path, WRITE_FLAG | CREATE | TRUNCATE, mode)
        self._request(FSETSTAT, _string(handle) + _permissions(mode))
        window: deque[int] = deque()
        depth = max(2, IN_FLIGHT // self.max_write)
        # one buffer holds each request, header and data, so the data is copied once
        head = 4 + 1 + 4 + len(_string(handle)) + 8 + 4
        buffer = bytearray(head + self.max_write)
        view = memoryview(buffer)
        offset = 0
        while count := _fill(src, view[head:]):
            request = self._take_id()
            struct.pack_into(">IBI", buffer, 0, head - 4 + count, WRITE, request)
            buffer[9 : head - 12] = _string(handle)
            struct.pack_into(">QI", buffer, head - 12, offset, count)
            self.channel.sendall(view[: head + count])
            window.append(request)
            offset += count
            if len(window) >= depth:
                self._expect_ok(window.popleft())
            advance(count)
        while window:
            self._expect_ok(window.popleft())
        self._request(CLOSE, _string(handle))

    def download(
        self,
        path: str,
        dst: BinaryIO,
        advance: Callable[[int], None],
        sized: Callable[[int | None], None],
    ) -> None:
        """Copy the remote file ``path`` into ``dst``, in order; ``sized`` learns its size
        first. After any failure the session is out of step: discard it."""
        handle = self._open(path, READ_FLAG, None)
        size, mode = self._stat(handle)
        if mode is not None and stat.S_ISDIR(mode):
            raise SFTPError("it is a folder, not a file")
        sized(size)
        self._read_into(handle, size, dst, advance)
        self._request(CLOSE, _string(handle))

    def _read_into(
        self, handle: bytes, size: int | None, dst: BinaryIO, advance: Callable[[int], None]
    ) -> None:
        """Read with many requests in flight; a short read asks again for the rest."""
        expected = size if size is not None else 0
        depth = max(2, IN_FLIGHT // self.max_read)
        pending: dict[int, tuple[int, int]] = {}
        early: dict[int, bytes] = {}  # data that arrived ahead of its turn
        offset = written = 0
        eof = False

        def write(data: memoryview | bytes) -> None:
            dst.write(data)
            advance(len(data))

        while True:
            while not eof and len(pending) < depth and (offset < expected or not pending):
                pending[self._read_request(handle, offset, self.max_read)] = (
                    offset,
                    self.max_read,
                )
                offset += self.max_read
            if not pending:
                break
            kind, request, rest = self._read_header()
            if request not in pending:
                self._stream(rest, _discard)
                continue
            at, length = pending.pop(request)
            if kind != DATA:
                body = self._take(rest)
                if kind == STATUS and _status_code(body) == EOF:
                    eof = True
                    continue
                raise _failure(kind, body)
            (count,) = struct.unpack(">I", self._take(4))
            if at == written:
                self._stream(count, write)
                written += count
            else:
                early[at] = self._take(count)
            if 0 < count < length:
                rest_at, rest_length = at + count, length - count
                pending[self._read_request(handle, rest_at, rest_length)] = (rest_at, rest_length)
            while written in early:
                data = early.pop(written)
                write(data)
                written += len(data)
        if early:
            raise CommunicatorError("the remote file changed while it was being downloaded")

    # -- requests -----------------------------------------------------------------------

    def _open(self, path: str, flags: int, mode: int | None) -> bytes:
        attrs = _permissions(mode) if mode is not None else struct.pack(">I", 0)
        payload = _string(path.encode()) + struct.pack(">I", flags) + attrs
        kind, body = self._request(OPEN, payload)
        if kind != HANDLE:
            raise _failure(kind, body)
        return _unstring(body)

    def _stat(self, handle: bytes) -> tuple[int | None, int | None]:
        """The size and mode of an open file, each None when the server does not say."""
        kind, body = self._request(FSTAT, _string(handle))
        if kind != ATTRS:
            raise _failure(kind, body)
        (flags,) = struct.unpack_from(">I", body)
        at = 4
        size = mode = None
        if flags & ATTR_SIZE:
            (size,) = struct.unpack_from(">Q", body, at)
            at += 8
        if flags & ATTR_UIDGID:
            at += 8
        if flags & ATTR_PERMISSIONS:
            (mode,) = struct.unpack_from(">I", body, at)
        return size, mode

    def _read_limits(self) -> None:
        kind, body = self._request(EXTENDED, _string(b"limits@openssh.com"))
        if kind != EXTENDED_REPLY:
            return
        _, max_read, max_write, _ = struct.unpack_from(">QQQQ", body)
        # 0 means "no limit stated"
        self.max_read = min(max_read or SAFE_REQUEST, MAX_REQUEST)
        self.max_write = min(max_write or SAFE_REQUEST, MAX_REQUEST)

    def _read_request(self, handle: bytes, offset: int, length: int) -> int:
        return self._send_request(READ, _string(handle) + struct.pack(">QI", offset, length))

    def _request(self, kind: int, payload: bytes) -> tuple[int, bytes]:
        """Send one request and wait for its answer; a failure status raises."""
        answer_kind, body = self._answer(self._send_request(kind, payload))
        if answer_kind == STATUS and _status_code(body) != OK:
            raise _failure(answer_kind, body)
        return answer_kind, body

    def _expect_ok(self, request: int) -> None:
        kind, body = self._answer(request)
        if kind != STATUS or _status_code(body) != OK:
            raise _failure(kind, body)

    def _answer(self, request: int) -> tuple[int, bytes]:
        """The type and body of the answer to ``request``, skipping late answers to
        transfers that were abandoned."""
        while True:
            kind, answer, rest = self._read_header()
            body = self._take(rest)
            if answer == request:
                return kind, body

    def _take_id(self) -> int:
        request = self.next_id
        self.next_id = (self.next_id + 1) & 0xFFFFFFFF
        return request

    def _send_request(self, kind: int, payload: bytes) -> int:
        request = self._take_id()
        self._send(kind, struct.pack(">I", request) + payload)
        return request

    def _send(self, kind: int, payload: bytes) -> None:
        self.channel.sendall(struct.pack(">IB", 1 + len(payload), kind) + payload)

    def _read_header(self) -> tuple[int, int, int]:
        """The next answer's type, request id and remaining length."""
        length, kind, request = struct.unpack(">IBI", self._take(9))
        return kind, request, length - 5

    def _take(self, count: int) -> bytes:
        """The next ``count`` bytes of the session."""
        parts: list[memoryview] = []
        self._stream(count, parts.append)
        return b"".join(parts)

    def _stream(self, count: int, write: Callable[[memoryview], object]) -> None:
        """Hand the next ``count`` bytes to ``write``, in pieces, without copying them."""
        while count:
            if self.position == len(self.received):
                self.received = self.channel.recv(RECEIVE)
                self.position = 0
                if not self.received:
                    raise CommunicatorError("the SFTP session ended unexpectedly")
            take = min(count, len(self.received) - self.position)
            write(memoryview(self.received)[self.position : self.position + take])
            self.position += take
            count -= take


def _discard(data: memoryview) -> None:
    """Drop the data of an answer no one waits for any more."""


def _fill(src: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``src`` as far as one read goes; 0 at the end."""
    readinto = getattr(src, "readinto", None)
    if readinto is not None:
        return int(readinto(view) or 0)
    data = src.read(len(view))
    view[: len(data)] = data
    return len(data)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _unstring(body: bytes) -> bytes:
    (length,) = struct.unpack_from(">I", body)
    return body[4 : 4 + length]


def _permissions(mode: int) -> bytes:
    return struct.pack(">II", ATTR_PERMISSIONS, mode & 0o7777)


def _status_code(body: bytes) -> int:
    return int(struct.unpack_from(">I", body)[0])


def _extension_names(body: bytes) -> set[str]:
    names = set()
    while len(body) >= 4:
        name = _unstring(body)
        body = body[4 + len(name) :]
        body = body[4 + len(_unstring(body)) :]
        names.add(name.decode("ascii", "replace"))
    return names


def _failure(kind: int, body: bytes) -> SFTPError:
    """The server's reason for refusing a request ("No such file")."""
    if kind != STATUS:
        return SFTPError(f"the SFTP server sent an unexpected answer (type {kind})")
    code = _status_code(body)
    message = _unstring(body[4:]).decode("utf-8", "replace")
    return SFTPError(message or STATUS_NAMES.get(code, f"SFTP error {code}"))
