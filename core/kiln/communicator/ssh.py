"""The ``ssh`` communicator: commands, files and folders over one paramiko connection.

:meth:`SSHCommunicator.connect` keeps trying until ``ssh_timeout`` (the machine may be
booting), backing off between attempts. Commands run on exec channels; files move
over SFTP (or scp) with many requests in flight; folders move as one tar stream. When
the connection is found dropped (the machine rebooted), the next call reconnects once.
"""

from __future__ import annotations

import logging
import os
import posixpath
import select
import shlex
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, TypeVar

from kiln.communicator import scp
from kiln.communicator._paramiko import paramiko
from kiln.communicator.sftp import SFTPSession
from kiln.communicator.sshconnect import (
    CONNECT_TIMEOUT,
    ConnectError,
    connect,
    logins,
    public_key_line,
)
from kiln.sdk import tarstream
from kiln.sdk.commconfig import CommunicatorConfig
from kiln.sdk.communicator import (
    DISCONNECTED,
    Communicator,
    CommunicatorError,
    ConnectionInfo,
    RemoteCmd,
    TransferMeter,
    stream_size,
)
from kiln.sdk.config import format_duration
from kiln.sdk.context import Context
from kiln.sdk.ui import Ui

log = logging.getLogger("kiln.communicator.ssh")

T = TypeVar("T")

#: Packer's defaults for a zero ssh_timeout and ssh_keep_alive_interval
DEFAULT_TIMEOUT = 300.0
DEFAULT_KEEPALIVE = 5.0
#: seconds between connection attempts: doubling from the first to the last
FIRST_RETRY, LAST_RETRY = 0.5, 5.0
#: how often a waiting command checks for cancellation
POLL = 0.1
CHUNK = 256 * 1024
#: the errors paramiko raises when the connection fails under a call
TRANSPORT_ERRORS = (paramiko.SSHException, EOFError, OSError)


#: the options that reach a machine again without a secret (see reap_details)
REAP_OPTIONS = (
    "ssh_port",
    "ssh_username",
    "ssh_private_key_file",
    "ssh_agent_auth",
    "ssh_bastion_host",
    "ssh_bastion_port",
    "ssh_bastion_username",
    "ssh_bastion_private_key_file",
    "ssh_bastion_agent_auth",
    "ssh_host_key",
    "ssh_known_hosts_file",
)


class SSHCommunicator(Communicator):
    """A connection to ``host`` (default ``ssh_host``) as the config says.

    ``private_key``/``public_key`` are a temporary key pair the builder installed
    (see :class:`~kiln.sdk.steps.StepTemporaryKeyPair`); the key is tried first. ``ui``
    shows transfer progress. ``outlives_build``: the machine stays after the build (the
    null builder's), so ``kiln reap`` may log in again to remove what a killed build
    left on it; a machine the build removes takes such files with it.
    """

    type = "ssh"

    def __init__(
        self,
        config: CommunicatorConfig,
        host: str = "",
        *,
        private_key: str = "",
        public_key: str = "",
        ui: Ui | None = None,
        outlives_build: bool = False,
    ) -> None:
        host = host or config.ssh_host
        if not host:
            raise CommunicatorError("no host to connect to: set ssh_host.")
        self.config = config
        self.ui = ui
        self._target, self._bastion = logins(config, host, private_key)
        # kiln reap can log in again only with the user's own key file or agent
        own_key = bool(config.ssh_private_key_file or config.ssh_agent_auth)
        self._reachable_later = outlives_build and own_key and not private_key
        if not private_key and config.ssh_private_key_file:
            with open(os.path.expanduser(config.ssh_private_key_file), encoding="utf-8") as f:
                private_key = f.read()
        if not public_key and self._target.keys:
            public_key = public_key_line(self._target.keys[0])
        self.info = ConnectionInfo(
            host=host,
            port=config.ssh_port,
            user=config.ssh_username,
            password=config.ssh_password,
            ssh_private_key=private_key,
            ssh_public_key=public_key,
        )
        self._lock = threading.RLock()  # one SFTP session and one (re)connection at a time
        self._transport: paramiko.Transport | None = None
        self._jump: paramiko.Transport | None = None
        self._sftp: SFTPSession | None = None
        self._stop_keepalive = threading.Event()

    # -- connection ---------------------------------------------------------------------

    def connect(self, ctx: Context | None = None) -> None:
        """Connect, retrying until ``ssh_timeout``; raise CommunicatorError (or Cancelled)."""
        ctx = ctx or Context()
        timeout = float(self.config.ssh_timeout) or DEFAULT_TIMEOUT
        deadline = time.monotonic() + timeout
        delay = FIRST_RETRY
        failed_handshakes = 0
        while True:
            ctx.check()
            left = deadline - time.monotonic()
            try:
                attempt = max(min(left, CONNECT_TIMEOUT), 0.1)
                self._attach(*connect(self._target, self._bastion, attempt))
                return
            except ConnectError as exc:
                if exc.stage == "fatal":
                    raise
                log.debug("SSH connection attempt failed: %s", exc)
                last = exc
                if exc.stage == "handshake":
                    failed_handshakes += 1
                    if failed_handshakes >= self.config.ssh_handshake_attempts:
                        raise CommunicatorError(
                            f"{exc}; gave up after {failed_handshakes} attempts "
                            "(ssh_handshake_attempts)."
                        ) from None
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommunicatorError(
                    f"Timeout waiting for SSH after {format_duration(timeout)}: {last}. Check "
                    "that the machine is up and that ssh_host and ssh_port are right, or raise "
                    "ssh_timeout if it takes longer to boot."
                ) from None
            ctx.sleep(min(delay, left))
            delay = min(delay * 2, LAST_RETRY)

    def close(self) -> None:
        with self._lock:
            self._detach()

    def reap_details(self) -> dict[str, Any] | None:
        if not self._reachable_later:
            return None
        ssh = {name: getattr(self.config, name) for name in REAP_OPTIONS}
        return {"ssh": {**ssh, "ssh_host": self.info.host}}

    def _attach(self, transport: paramiko.Transport, jump: paramiko.Transport | None) -> None:
        with self._lock:
            self._detach()
            self._transport, self._jump = transport, jump
            self._stop_keepalive = threading.Event()
            period = self._keepalive_period()
            if period:
                threading.Thread(
                    target=self._keepalive,
                    args=(transport, self._stop_keepalive, period),
                    name="kiln-ssh-keepalive",
                    daemon=True,
                ).start()

    def _detach(self) -> None:
        self._stop_keepalive.set()
        self._drop_sftp()
        for transport in (self._transport, self._jump):
            if transport is not None:
                transport.close()
        self._transport = self._jump = None

    def _keepalive_period(self) -> float:
        interval = float(self.config.ssh_keep_alive_interval)
        if interval == 0:
            interval = DEFAULT_KEEPALIVE
        if interval < 0:  # disabled, but the read/write timeout still needs probes
            return float(self.config.ssh_read_write_timeout) / 2
        return interval

    def _keepalive(
        self, transport: paramiko.Transport, stop: threading.Event, period: float
    ) -> None:
        """Send keep-alives the server answers; with ssh_read_write_timeout, close the
        connection when an answer takes longer than that."""
        limit = float(self.config.ssh_read_write_timeout)
        while not stop.wait(period) and transport.is_active():
            timer = None
            if limit > 0:
                timer = threading.Timer(limit, self._lost, args=(transport, limit))
                timer.daemon = True
                timer.start()
            transport.global_request("keepalive@openssh.com", wait=True)
            if timer is not None:
                timer.cancel()

    def _lost(self, transport: paramiko.Transport, limit: float) -> None:
        log.info(
            "no answer from %s for %s (ssh_read_write_timeout); closing the connection",
            self._target.address,
            format_duration(limit),
        )
        transport.close()

    def _channel(self) -> paramiko.Channel:
        """A new session channel; if the connection was lost, reconnect once first."""
        with self._lock:
            if self._transport is None:
                raise CommunicatorError("not connected: call connect() first")
            if self._transport.is_active():
                try:
                    return self._transport.open_session(timeout=CONNECT_TIMEOUT)
                except TRANSPORT_ERRORS as exc:
                    log.debug("opening an SSH session failed (%s); reconnecting", exc)
            try:
                self._attach(*connect(self._target, self._bastion, CONNECT_TIMEOUT))
                assert self._transport is not None
                return self._transport.open_session(timeout=CONNECT_TIMEOUT)
            except (ConnectError, *TRANSPORT_ERRORS) as exc:
                raise CommunicatorError(
                    f"the SSH connection to {self._target.address} was lost and reconnecting "
                    f"failed: {exc}"
                ) from None

    # -- commands -----------------------------------------------------------------------

    def start(self, cmd: RemoteCmd, ctx: Context | None = None) -> int:
        log.debug("starting remote command: %s", cmd.command)
        channel = self._channel()
        try:
            if self.config.ssh_pty:
                channel.get_pty(term="xterm", width=80, height=40)
            channel.exec_command(cmd.command)
            feeder = _feed(channel, cmd.stdin)
            status = _wait(channel, cmd.stdout, cmd.stderr, ctx)
            if feeder is not None:
                feeder.join(POLL)
        except TRANSPORT_ERRORS as exc:
            log.debug("remote command lost its connection: %s", exc)
            status = DISCONNECTED
        finally:
            channel.close()
        log.debug("remote command exited with %s", status)
        cmd.exit_status = status
        return status

    # -- files --------------------------------------------------------------------------

    def upload(
        self, dst: str, src: BinaryIO, *, mode: int | None = None, ctx: Context | None = None
    ) -> None:
        mode = 0o644 if mode is None else mode
        with TransferMeter(self.ui, f"Uploading {dst}", ctx) as meter:
            meter.start(stream_size(src))
            try:
                if self.config.ssh_file_transfer_method == "scp":
                    self._scp_upload(dst, src, mode, meter)
                else:
                    self._with_sftp(lambda s: s.upload(dst, src, mode, meter.advance))
            except CommunicatorError as exc:
                raise CommunicatorError(f"cannot upload to {dst}: {exc}") from None

    def download(self, src: str, dst: BinaryIO, ctx: Context | None = None) -> None:
        with TransferMeter(self.ui, f"Downloading {src}", ctx) as meter:
            try:
                if self.config.ssh_file_transfer_method == "scp":
                    self._run_channel(
                        scp.download_command(src),
                        lambda ch: scp.download(ch, src, dst, meter.advance, meter.start),
                        ctx,
                    )
                else:
                    self._with_sftp(lambda s: s.download(src, dst, meter.advance, meter.start))
            except CommunicatorError as exc:
                raise CommunicatorError(f"cannot download {src}: {exc}") from None

    def _scp_upload(self, dst: str, src: BinaryIO, mode: int, meter: TransferMeter) -> None:
        size = stream_size(src)
        if size is None:  # scp announces the size first: spool a stream to learn it
            with tempfile.TemporaryFile() as spool:
                while chunk := src.read(CHUNK):
                    spool.write(chunk)
                size = spool.tell()
                spool.seek(0)
                meter.start(size)
                self._scp_upload(dst, spool, mode, meter)
            return
        self._run_channel(
            scp.upload_command(dst),
            lambda ch: scp.upload(ch, dst, src, size, mode, meter.advance),
            meter.ctx,
        )

    def _with_sftp(self, work: Callable[[SFTPSession], T]) -> T:
        """Run ``work`` on the SFTP session (opened on first use); any failure discards
        the session, since it may be part-way through an answer."""
        with self._lock:
            if self._sftp is None:
                channel = self._channel()
                try:
                    self._sftp = SFTPSession(channel)
                except (CommunicatorError, *TRANSPORT_ERRORS) as exc:
                    channel.close()
                    raise CommunicatorError(f"cannot start SFTP on the machine: {exc}") from None
            try:
                return work(self._sftp)
            except BaseException as exc:
                self._drop_sftp()
                if isinstance(exc, TRANSPORT_ERRORS):
                    raise CommunicatorError(f"the connection failed: {exc}") from None
                raise

    def _drop_sftp(self) -> None:
        if self._sftp is not None:
            self._sftp.channel.close()
            self._sftp = None

    # -- folders ------------------------------------------------------------------------

    def upload_dir(
        self, dst: str, src: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        entries = tarstream.upload_entries(src, exclude)
        quoted = shlex.quote(dst)
        command = f"mkdir -p {quoted} && tar -x -o -f - -C {quoted}"
        with TransferMeter(self.ui, f"Uploading {src}", ctx) as meter:
            meter.start(tarstream.archive_size(entries))

            def send(channel: paramiko.Channel) -> None:
                def out(data: bytes) -> None:
                    channel.sendall(data)
                    meter.advance(len(data))

                tarstream.write_archive(out, src, entries)

            try:
                self._run_channel(command, send, ctx)
            except CommunicatorError as exc:
                raise CommunicatorError(f"cannot upload {src} to {dst}: {exc}") from None

    def download_dir(
        self, src: str, dst: str, exclude: Sequence[str] = (), ctx: Context | None = None
    ) -> None:
        folder = src.rstrip("/") or "/"
        if tarstream.contents_only(src):
            command = f"tar -c -f - -C {shlex.quote(folder)} ."
        else:
            parent, name = posixpath.split(folder)
            command = f"tar -c -f - -C {shlex.quote(parent or '.')} {shlex.quote(name)}"
        top = not tarstream.contents_only(src)
        with TransferMeter(self.ui, f"Downloading {src}", ctx) as meter:
            meter.start(None)

            def receive(channel: paramiko.Channel) -> None:
                tarstream.extract_archive(_Reader(channel, meter), dst, exclude, top)

            try:
                self._run_channel(command, receive, ctx)
            except CommunicatorError as exc:
                raise CommunicatorError(f"cannot download {src}: {exc}") from None

    def _run_channel(
        self, command: str, work: Callable[[paramiko.Channel], None], ctx: Context | None
    ) -> None:
        """Run ``command`` with ``work`` talking to its standard input and output; fail
        with its error output when it exits non-zero or ``work`` fails."""
        log.debug("starting remote command: %s", command)
        channel = self._channel()
        errors = bytearray()
        try:
            channel.exec_command(command)
            problem: Exception | None = None
            try:
                work(channel)
                channel.shutdown_write()
            except (tarfile.TarError, CommunicatorError, *TRANSPORT_ERRORS) as exc:
                if not (channel.closed or channel.eof_received):
                    raise CommunicatorError(_describe(exc)) from None  # a local problem
                problem = exc  # the command ended early: its error output says why
            status = _wait(channel, None, errors.extend, ctx)
        except TRANSPORT_ERRORS as exc:
            raise CommunicatorError(f"the connection failed: {exc}") from None
        finally:
            channel.close()
        said = errors.decode("utf-8", "replace").strip()
        if not said and problem is not None:  # scp reports on its protocol stream, not stderr
            said = _describe(problem)
        if status == DISCONNECTED:
            raise CommunicatorError(said or "the connection was lost")
        if status != 0:
            raise CommunicatorError(said or f"`{command}` exited with status {status}")
        if problem is not None:
            raise CommunicatorError(_describe(problem)) from None


def _describe(exc: BaseException) -> str:
    """An error as a person reads it: "/path: Permission denied" rather than errno noise."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _wait(
    channel: paramiko.Channel,
    stdout: Callable[[bytes], Any] | None,
    stderr: Callable[[bytes], Any] | None,
    ctx: Context | None,
) -> int:
    """Pass the command's output on as it arrives and return its exit status
    (DISCONNECTED when the channel closed without one). Cancellation stops the
    command and raises Cancelled."""
    while True:
        if ctx is not None and ctx.cancelled:
            _interrupt(channel)
            ctx.check()  # raises Cancelled
        _drain(channel, stdout, stderr)
        if channel.closed or (channel.eof_received and channel.status_event.is_set()):
            break
        if channel.eof_received:  # the output is complete; the status is on its way
            channel.status_event.wait(POLL)
        else:
            select.select([channel], [], [], POLL)
    _drain(channel, stdout, stderr)
    # paramiko leaves exit_status at -1 when the channel closed without one
    return DISCONNECTED if channel.exit_status == -1 else int(channel.exit_status)


def _drain(
    channel: paramiko.Channel,
    stdout: Callable[[bytes], Any] | None,
    stderr: Callable[[bytes], Any] | None,
) -> None:
    while channel.recv_ready():
        data = channel.recv(CHUNK)
        if stdout is not None and data:
            stdout(data)
    while channel.recv_stderr_ready():
        data = channel.recv_stderr(CHUNK)
        if stderr is not None and data:
            stderr(data)


def _interrupt(channel: paramiko.Channel) -> None:
    """Stop a running command: ask sshd to send it SIGTERM (RFC 4254's "signal"
    request, which OpenSSH honours since 7.9 and paramiko has no call for), then close."""
    try:
        message = paramiko.Message()
        message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
        message.add_int(channel.remote_chanid)
        message.add_string("signal")
        message.add_boolean(False)
        message.add_string("TERM")
        channel.transport._send_user_message(message)
    except TRANSPORT_ERRORS as exc:
        log.debug("could not signal the remote command: %s", exc)
    channel.close()


def _feed(channel: paramiko.Channel, stdin: BinaryIO | None) -> threading.Thread | None:
    """Send ``stdin`` to the command in the background, then end its input."""
    if stdin is None:
        channel.shutdown_write()
        return None

    def run() -> None:
        try:
            while chunk := stdin.read(CHUNK):
                channel.sendall(chunk)
            channel.shutdown_write()
        except TRANSPORT_ERRORS as exc:  # the command ended or the connection dropped
            log.debug("stopped sending input to the remote command: %s", exc)

    thread = threading.Thread(target=run, name="kiln-ssh-stdin", daemon=True)
    thread.start()
    return thread


class _Reader:
    """The standard output of a remote command as a file to read (for tarfile)."""

    def __init__(self, channel: paramiko.Channel, meter: TransferMeter) -> None:
        self.channel, self.meter = channel, meter

    def read(self, size: int = CHUNK) -> bytes:
        data: bytes = self.channel.recv(size if size > 0 else CHUNK)
        self.meter.advance(len(data))
        return data
