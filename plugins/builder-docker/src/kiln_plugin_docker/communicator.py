"""The ``docker`` communicator: commands through ``docker exec``, files as tar streams
through ``docker cp``.

- A command runs as ``/bin/sh -c`` in the container (as ``exec_user`` when set), with
  the ``env`` values; its exit status is the command's. When the build is cancelled
  (a provisioner's ``timeout``, Ctrl-C), the command and everything it started in the
  container are killed, not only the ``docker exec`` client.
- An upload is one tar stream into ``docker cp - CONTAINER:/``: a file, or a whole
  folder by the trailing-slash rule. Missing parent folders are created. With
  ``fix_upload_owner`` the entries belong to the container's user (``exec_user``,
  else the image's ``USER``) as they land; Packer runs ``chown -R`` afterwards, which
  also changed the owner of what was already there.
- A download reads the tar stream of ``docker cp CONTAINER:PATH -``.

Relative paths are relative to the container's root folder, as for ``docker cp``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import posixpath
import stat
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, BinaryIO

from kiln.sdk import (
    Communicator,
    CommunicatorError,
    ConnectionInfo,
    Context,
    RemoteCmd,
    TransferMeter,
    Ui,
    stream_size,
    tarstream,
)
from kiln_plugin_docker.driver import DockerError, Driver

#: the first line a command writes to its error output: the process id of its shell,
#: which leads the command's process group, so that cancelling can kill the group
PID_MARK = b"kiln-exec-pid "
#: runs the command (its first argument) after announcing its process id
WRAPPER = 'echo "kiln-exec-pid $$" >&2; exec /bin/sh -c "$1"'
CHUNK = 1024 * 1024
#: the pipe into docker cp holds this much (Linux's default is 64 KiB)
PIPE_SIZE = 1024 * 1024
#: a stream of unknown size is spooled to learn it; this much stays in memory
SPOOL_IN_MEMORY = 8 * 1024 * 1024
ROOT_USERS = ("", "root", "0", "0:0", "root:root")


class DockerCommunicator(Communicator):
    """Works in the container ``container`` through ``driver``.

    ``user`` runs the commands (``docker exec -u``; empty: the image's user). ``owner``
    is whom uploads belong to when ``fix_upload_owner`` is on (empty or root: root,
    which is what ``docker cp`` gives anyway). ``env`` names and values are passed to
    each command.
    """

    type = "docker"

    def __init__(
        self,
        driver: Driver,
        container: str,
        *,
        user: str = "",
        owner: str = "",
        env: Mapping[str, str] | None = None,
        ui: Ui | None = None,
    ) -> None:
        self.driver = driver
        self.container = container
        self.user = user
        self.owner = owner
        self.env = dict(env or {})
        self.ui = ui
        self.info = ConnectionInfo(host=container, user=user)
        self._owner_ids: tuple[int, int] | None = None

    # -- commands ----------------------------------------------------------------------

    def start(self, cmd: RemoteCmd, ctx: Context | None = None) -> int:
        args = ["exec"]
        if cmd.stdin is not None:
            args.append("--interactive")
        if self.user:
            args += ["--user", self.user]
        for name in self.env:
            args += ["--env", name]  # the value comes from the CLI's environment
        args += [self.container, "/bin/sh", "-c", WRAPPER, "sh", cmd.command]
        errors = _PidFilter(cmd.stderr)
        try:
            status = self.driver.call(
                *args,
                stdin=cmd.stdin,
                stdout=cmd.stdout,
                stderr=errors.write,
                env=self.env,
                ctx=ctx,
            )
        except BaseException:
            if errors.pid is not None:
                self._kill(errors.pid)
            raise
        errors.flush()
        if errors.pid is None:  # the shell never started: docker itself failed
            raise CommunicatorError(
                f"cannot run a command in container {self.container[:12]}: "
                + (errors.unfiltered.decode("utf-8", "replace").strip() or f"exit {status}")
            )
        cmd.exit_status = status
        return status

    def _kill(self, pid: int) -> None:
        """Kill the command's process group in the container (cleanup: not cancellable)."""
        with contextlib.suppress(DockerError):
            self.driver.call(
                *("exec", "--user", "root", self.container, "kill", "-KILL", "--", f"-{pid}"),
                ctx=Context(),
            )

    # -- files -------------------------------------------------------------------------

    def upload(
        self, dst: str, src: BinaryIO, *, mode: int | None = None, ctx: Context | None = None
    ) -> None:
        name = _in_root(dst)
        if not name:
            raise CommunicatorError(f"cannot upload to {dst}: it names the root folder.")
        size = stream_size(src)
        if size is None:  # a tar header states the size first: spool a stream to learn it
            with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) as spool:
                while chunk := src.read(CHUNK):
                    spool.write(chunk)
                spool.seek(0)
                self.upload(dst, spool, mode=mode, ctx=ctx)  # type: ignore[arg-type]
            return
        member = tarfile.TarInfo(name)
        member.size = size
        member.mode = 0o644 if mode is None else mode
        member.mtime = int(time.time())
        member.uid, member.gid = self._upload_owner(ctx)
        with TransferMeter(self.ui, f"Uploading {dst}", ctx) as meter:
            meter.start(size)
            if self._copy_file(src, member, ctx):
                meter.advance(size)
                return
            self._copy_in(lambda fd: _write_file_archive(fd, member, src, meter), dst, ctx)

    def _copy_file(self, src: BinaryIO, member: tarfile.TarInfo, ctx: Context | None) -> bool:
        """Let ``docker cp PATH`` read a whole file on disk itself, when that gives what
        the tar stream would (root's file, the file's own mode): the CLI then moves it
        without a pipe in between, about 15% faster for a big file. False when it does
        not apply or fails (a missing folder...): the tar stream then goes."""
        path = getattr(src, "name", None)
        if not isinstance(path, str) or (member.uid, member.gid) != (0, 0):
            return False
        try:
            opened, named = os.fstat(src.fileno()), os.lstat(path)
            whole = src.tell() == 0 and opened.st_size == member.size
        except (OSError, ValueError, AttributeError):
            return False
        if not (
            whole
            and stat.S_ISREG(named.st_mode)
            and (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
            and stat.S_IMODE(named.st_mode) == member.mode
        ):
            return False
        target = f"{self.container}:/{member.name}"
        return self.driver.call("cp", os.path.abspath(path), target, ctx=ctx) == 0

    def upload_dir(
        self, dst: str, src: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        entries = tarstream.upload_entries(src, exclude)
        owner = self._upload_owner(ctx)
        with TransferMeter(self.ui, f"Uploading {src}", ctx) as meter:
            meter.start(tarstream.archive_size(entries))

            def produce(fd: int) -> None:
                def out(data: bytes) -> None:
                    _write_all(fd, data)
                    meter.advance(len(data))

                tarstream.write_archive(
                    out,
                    src,
                    entries,
                    prefix=_in_root(dst),
                    owner=None if owner == (0, 0) else owner,
                )

            self._copy_in(produce, dst, ctx)

    def _copy_in(self, produce: Callable[[int], None], dst: str, ctx: Context | None) -> None:
        """Unpack the tar stream ``produce`` writes (to a pipe's descriptor, in a thread
        of its own) into the container's root folder."""
        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # Linux: fewer, larger hand-overs
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        failures: list[BaseException] = []

        def run() -> None:
            try:
                produce(write_end)
            except BrokenPipeError:  # docker cp stopped reading: its error says why
                pass
            except BaseException as exc:
                failures.append(exc)
            finally:
                os.close(write_end)

        producer = threading.Thread(target=run, name="kiln-docker-upload", daemon=True)
        producer.start()
        try:
            self.driver.run("cp", "-", f"{self.container}:/", stdin=read_end, ctx=ctx)
        except DockerError as exc:
            producer.join()
            if failures:
                raise failures[0] from None
            raise CommunicatorError(f"cannot upload to {dst}: {exc}") from None
        producer.join()
        if failures:
            raise failures[0]

    def _upload_owner(self, ctx: Context | None) -> tuple[int, int]:
        """The (uid, gid) uploads get: the owner's, resolved by the container itself."""
        if self.owner in ROOT_USERS:
            return (0, 0)
        if self._owner_ids is None:
            out = bytearray()
            status = self.driver.call(
                *("exec", "--user", self.owner, self.container, "/bin/sh", "-c", "id -u; id -g"),
                stdout=out.extend,
                ctx=ctx,
            )
            try:
                uid, gid = (int(v) for v in out.split())
            except ValueError:
                raise CommunicatorError(
                    f"cannot find the user {self.owner!r} in the container to give uploads "
                    f"to (exit status {status}); set exec_user to a user of the image, or "
                    "fix_upload_owner = false."
                ) from None
            self._owner_ids = (uid, gid)
        return self._owner_ids

    def download(self, src: str, dst: BinaryIO, ctx: Context | None = None) -> None:
        with TransferMeter(self.ui, f"Downloading {src}", ctx) as meter:
            try:
                with (
                    self.driver.reading("cp", f"{self.container}:{src}", "-", ctx=ctx) as out,
                    tarfile.open(fileobj=out, mode="r|") as tar,
                ):
                    member = tar.next()
                    if member is None or not member.isreg():
                        raise CommunicatorError(f"cannot download {src}: it is not a file.")
                    meter.start(member.size)
                    data = tar.extractfile(member)
                    assert data is not None
                    while chunk := data.read(CHUNK):
                        dst.write(chunk)
                        meter.advance(len(chunk))
            except (DockerError, tarfile.TarError) as exc:
                raise CommunicatorError(f"cannot download {src}: {exc}") from None

    def download_dir(
        self, src: str, dst: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        if set("*?[") & set(src):
            raise CommunicatorError(
                f"cannot download {src}: the docker communicator copies folders and files, "
                "not patterns; name the folder (ending with / for what it holds)."
            )
        top = not tarstream.contents_only(src)
        path = src if top else src.rstrip("/") + "/."
        with TransferMeter(self.ui, f"Downloading {src}", ctx) as meter:
            meter.start(None)
            try:
                with self.driver.reading("cp", f"{self.container}:{path}", "-", ctx=ctx) as out:
                    tarstream.extract_archive(_Metered(out, meter), dst, exclude, top)
            except (DockerError, tarfile.TarError) as exc:
                raise CommunicatorError(f"cannot download {src}: {exc}") from None


def _in_root(path: str) -> str:
    """``path`` relative to the container's root folder (where ``docker cp`` unpacks)."""
    return posixpath.normpath(posixpath.join("/", path)).lstrip("/")


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_file_archive(
    fd: int, member: tarfile.TarInfo, src: BinaryIO, meter: TransferMeter
) -> None:
    """Write a tar stream of one file, ``member``, with the contents of ``src``, to
    ``fd``. A file on disk moves with ``sendfile``, without passing through Python."""
    _write_all(fd, member.tobuf(format=tarfile.GNU_FORMAT))
    left = member.size
    try:
        source = src.fileno()
        offset = src.tell()
    except (AttributeError, OSError, ValueError):
        source = -1
    while left > 0:
        if source >= 0:
            sent = os.sendfile(fd, source, offset, min(left, CHUNK))
            offset += sent
        else:
            chunk = src.read(min(left, CHUNK))
            _write_all(fd, chunk)
            sent = len(chunk)
        if sent == 0:
            raise CommunicatorError(
                f"cannot upload to /{member.name}: the source ended {left} bytes early "
                "(it changed while it was being sent)."
            )
        left -= sent
        meter.advance(sent)
    padding = -member.size % tarfile.BLOCKSIZE
    _write_all(fd, bytes(padding + 2 * tarfile.BLOCKSIZE))  # and the end-of-archive blocks


class _PidFilter:
    """Takes the shell's process id off the front of a command's error output and
    passes the rest on."""

    def __init__(self, out: Callable[[bytes], None] | None) -> None:
        self.out = out
        self.pid: int | None = None
        self.head = b""  # the error output until the mark's line is complete
        self.unfiltered = b""  # what docker wrote when there was no mark

    def write(self, data: bytes) -> None:
        if self.pid is not None:
            if self.out is not None:
                self.out(data)
            return
        self.head += data
        if b"\n" not in self.head:
            return
        line, rest = self.head.split(b"\n", 1)
        self.head = b""
        if line.startswith(PID_MARK) and line[len(PID_MARK) :].isdigit():
            self.pid = int(line[len(PID_MARK) :])
            if rest:
                self.write(rest)
        else:
            self.unfiltered += line + b"\n" + rest

    def flush(self) -> None:
        self.unfiltered += self.head
        self.head = b""


class _Metered:
    """A stream to read whose reads advance a transfer meter."""

    def __init__(self, stream: IO[bytes], meter: TransferMeter) -> None:
        self.stream, self.meter = stream, meter

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.meter.advance(len(data))
        return data
