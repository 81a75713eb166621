"""The local SSH adapter: an SSH server on 127.0.0.1 that carries Ansible's sessions
to the build's communicator, so Ansible reaches any machine kiln can (a docker
container, a machine behind the SSH communicator's bastion...).

It offers a fresh ed25519 host key (or ``ssh_host_key_file``) and accepts one user
with one key: a one-time key it makes (ed25519 by default), or the public key of
``ssh_authorized_key_file``. Each session channel is served on its own thread:

- ``exec``: the command runs on the machine through ``communicator.start`` with the
  channel as its stdin, stdout and stderr, then its exit status is sent. ``scp -t`` and
  ``scp -f`` are commands like any other: they run on the machine (which then needs
  scp); kiln's default transfer method (piped) does not use them.
- ``subsystem sftp``: ``sftp_command`` runs on the machine, wired to the channel.
- ``pty-req`` and ``env`` are accepted and ignored; ``shell`` and the rest are refused.

Closing the adapter stops the listener, cancels the commands still running, closes
every connection and waits for every thread it started.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

import paramiko

from kiln.sdk import (
    DISCONNECTED,
    BuildError,
    Cancelled,
    Communicator,
    CommunicatorError,
    Context,
    RemoteCmd,
    Ui,
    generate_key_pair,
)
from kiln_plugin_ansible.config import DEFAULT_SFTP_COMMAND, AnsibleConfig

#: under "kiln", so KILN_LOG shows it
log = logging.getLogger("kiln.ansible.adapter")

#: the exit status sent when the command could not run (what ssh reports for a failure
#: of its own, so Ansible calls the host unreachable rather than the task failed)
TRANSPORT_FAILURE = 255
#: ``local_port`` and the next ones are tried, as Packer does
PORT_TRIES = 10
#: how long a connection may take to finish its SSH handshake
HANDSHAKE_TIMEOUT = 30.0
#: how long close waits for a thread that does not stop (a hung command)
THREAD_JOIN = 10.0
#: channel reads move up to this many bytes at once
CHUNK = 256 * 1024
#: the default ``sftp_command`` and Debian's place for the server, tried in turn
SFTP_FALLBACK = (
    'for s in /usr/lib/sftp-server /usr/lib/openssh/sftp-server; do [ -x "$s" ] && '
    'exec "$s" -e; done; echo "kiln: no sftp-server on the machine (tried '
    '/usr/lib/sftp-server, /usr/lib/openssh/sftp-server): set sftp_command" >&2; exit 127'
)


def new_key(kind: str) -> tuple[paramiko.PKey, str]:
    """A fresh key of ``kind`` (ED25519, ECDSA (P-384) or RSA (3072 bits)) and its
    OpenSSH text."""
    loaders = {"ED25519": paramiko.Ed25519Key, "ECDSA": paramiko.ECDSAKey, "RSA": paramiko.RSAKey}
    bits = {"ECDSA": 384, "RSA": 3072}.get(kind, 0)
    text = generate_key_pair(kind.lower(), bits).private_key
    return loaders[kind].from_private_key(io.StringIO(text)), text


def authorized_blob(path: str) -> str:
    """The base64 key of the first key line of an authorized_keys-style file."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2 and not line.startswith("#"):
                return fields[1]
    raise BuildError(f"ssh_authorized_key_file: {path} holds no public key.")


class Adapter:
    """The server. ``port`` is where it listens; ``client_key`` the OpenSSH text of the
    one-time key Ansible logs in with ("" with ``ssh_authorized_key_file``)."""

    def __init__(self, config: AnsibleConfig, comm: Communicator, user: str, ctx: Context) -> None:
        self.comm = comm
        self.user = user
        #: cancelled on close: stops the commands still running
        self.ctx = ctx.child()
        self.sftp_command = config.sftp_command
        if config.ssh_host_key_file:
            self.host_key = paramiko.PKey.from_path(config.ssh_host_key_file)
        else:
            self.host_key, _ = new_key("ED25519")
        if config.ssh_authorized_key_file:
            self.allowed = authorized_blob(config.ssh_authorized_key_file)
            self.client_key = ""
        else:
            key, self.client_key = new_key(config.ansible_proxy_key_type)
            self.allowed = key.get_base64()
        self.listener = _listen(config.local_port)
        self.port: int = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._transports: list[paramiko.Transport] = []
        self._closed = False
        self._spawn(self._accept, "kiln-ansible-adapter")

    # -- life -------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            if self._closed:
                return
            self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        """Stop listening, stop what runs, close every connection, join every thread."""
        with self._lock:
            self._closed = True
            transports = list(self._transports)
        self.ctx.cancel()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for transport in transports:
            transport.close()
        for thread in self._threads:
            thread.join(THREAD_JOIN)
            if thread.is_alive():
                log.warning("the Ansible adapter's thread %s did not stop", thread.name)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:  # closed
                return
            self._spawn(functools.partial(self._serve, sock), "kiln-ansible-connection")

    def _serve(self, sock: socket.socket) -> None:
        transport = paramiko.Transport(sock)
        with self._lock:
            if self._closed:
                transport.close()
                return
            self._transports.append(transport)
        transport.add_server_key(self.host_key)
        try:
            transport.start_server(server=_Server(self))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.debug("the Ansible adapter's SSH handshake failed: %s", exc)
            transport.close()
            return
        transport.join()  # until the client or close() ends the connection

    # -- sessions ---------------------------------------------------------------------

    def run_on_target(self, channel: paramiko.Channel, command: str) -> None:
        """Serve ``command`` on a thread: it runs on the machine, wired to ``channel``."""
        self._spawn(functools.partial(self._run, channel, command), "kiln-ansible-session")

    def _run(self, channel: paramiko.Channel, command: str) -> None:
        log.debug("ansible adapter: running %s", command)
        out = _ChannelOutput(channel.sendall)
        err = _ChannelOutput(channel.sendall_stderr)
        stdin = cast(BinaryIO, _ChannelInput(channel))
        cmd = RemoteCmd(command, stdin=stdin, stdout=out, stderr=err)
        try:
            status = self.comm.start(cmd, self.ctx)
            if status == DISCONNECTED:
                status = TRANSPORT_FAILURE
        except CommunicatorError as exc:
            err(f"kiln: {exc}\n".encode())
            status = TRANSPORT_FAILURE
        except Cancelled:
            status = TRANSPORT_FAILURE
        log.debug("ansible adapter: exit status %s", status)
        with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
            channel.send_exit_status(status)
            channel.shutdown_write()
        channel.close()

    def sftp(self, channel: paramiko.Channel) -> None:
        command = self.sftp_command
        if command == DEFAULT_SFTP_COMMAND:
            command = SFTP_FALLBACK
        self.run_on_target(channel, command)


class _Server(paramiko.ServerInterface):
    """What the adapter allows: one user with one key; session channels only."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == self.adapter.user and key.get_base64() == self.adapter.allowed:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.adapter.run_on_target(channel, command.decode("utf-8", "surrogateescape"))
        return True

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp":
            return False
        self.adapter.sftp(channel)
        return True

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_env_request(
        self, channel: paramiko.Channel, name: bytes, value: bytes
    ) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return False


class _ChannelInput(io.RawIOBase):
    """A channel's incoming data as the command's stdin: each read returns what has
    arrived (a command waiting for a prompt's answer gets it), b"" at the end."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = CHUNK if size is None or size < 0 else min(size, CHUNK)
        try:
            return bytes(self.channel.recv(want))
        except (paramiko.SSHException, EOFError, OSError):
            return b""


class _ChannelOutput:
    """Send a command's output to the client; once the client is gone, drop it (the
    command still runs to its end, its output drained)."""

    def __init__(self, send: Callable[[bytes], object]) -> None:
        self.send = send
        self.gone = False

    def __call__(self, data: bytes) -> None:
        if self.gone:
            return
        try:
            self.send(data)
        except (paramiko.SSHException, EOFError, OSError):
            self.gone = True


def _listen(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1: any free port, or ``port`` and the next ones."""
    candidates = [0] if port == 0 else range(port, min(port + PORT_TRIES, 65536))
    last: OSError | None = None
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", candidate))
            sock.listen(16)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise BuildError(
        f"the Ansible adapter cannot listen on 127.0.0.1:{port} or the next "
        f"{PORT_TRIES - 1} ports: {last}"
    )


@contextlib.contextmanager
def start_adapter(
    config: AnsibleConfig, comm: Communicator, user: str, ui: Ui, ctx: Context
) -> Iterator[Adapter]:
    """The adapter, listening, for the time of the ``with`` block; closed on every path."""
    adapter = Adapter(config, comm, user, ctx)
    ui.message(f"SSH adapter for Ansible listening on 127.0.0.1:{adapter.port}")
    try:
        yield adapter
    finally:
        adapter.close()
