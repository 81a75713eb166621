"""A real OpenSSH server on loopback, for the SSH communicator's tests and benchmarks.

``sshd`` (a session fixture) starts ``/usr/sbin/sshd`` on a free 127.0.0.1 port with a
throwaway ed25519 host key and a throwaway client key pair that may log in as the
current user. :func:`running_sshd` is the same server as a context manager, for code
outside pytest (``bench/transfer.py``).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"


@dataclass(frozen=True)
class SSHServer:
    """A running sshd and the credentials that log in to it."""

    host: str
    port: int
    user: str
    private_key_file: str
    public_key: str  # the client's authorized_keys line
    host_public_key: str  # "ssh-ed25519 AAAA...", what a known_hosts entry holds
    authorized_keys_file: str  # append a public key line here to let it log in
    log_file: str

    def null_source(self, name: str) -> str:
        """A template's ``source "null" NAME`` block that logs in to this server."""
        return f"""
source "null" "{name}" {{
  ssh_host             = "{self.host}"
  ssh_port             = {self.port}
  ssh_username         = "{self.user}"
  ssh_private_key_file = "{self.private_key_file}"
}}
"""


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path, comment: str) -> str:
    """Write a fresh ed25519 key pair at ``path`` (and ``path.pub``); return the public line."""
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def wait_until_serving(
    name: str,
    where: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    answers: Callable[[], bool],
    timeout: float,
) -> None:
    """Poll ``answers()`` until the server ``proc`` started answers; one that exits first,
    or stays silent for ``timeout`` seconds, is a RuntimeError with its ``log``.
    ``where`` completes "NAME did not answer ..." (``on port 2222``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log.read_text()}")
        if answers():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not answer {where} within {timeout:g} s: {log.read_text()}")


def _has_banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def write_sshd_config(
    workdir: Path, port: int, *, password_auth: bool = False, extra: Sequence[str] = ()
) -> Path:
    """Write ``workdir/sshd_config`` for a server on ``127.0.0.1:port`` with the host key,
    authorized_keys file and pid file in ``workdir``; ``extra`` lines (options such as
    ``AuthorizedKeysCommand ...``) come after the common ones. Returns its path."""
    config = workdir / "sshd_config"
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {workdir / 'host_ed25519'}",
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
        f"PidFile {workdir / 'sshd.pid'}",
        "StrictModes no",
        "UsePAM no",
        f"PasswordAuthentication {'yes' if password_auth else 'no'}",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "AllowTcpForwarding yes",
        "MaxStartups 100",
        "MaxSessions 100",
        "Subsystem sftp internal-sftp",
        *extra,
    ]
    config.write_text("".join(line + "\n" for line in lines))
    return config


@contextmanager
def running_sshd(
    workdir: Path, password_auth: bool = False, *, extra_config: Sequence[str] = ()
) -> Iterator[SSHServer]:
    """Run sshd from ``workdir`` (keys, config, log) until the block ends; with
    ``password_auth`` it also accepts passwords (checked against the system's users).
    ``extra_config`` lines are appended to its sshd_config (see :func:`write_sshd_config`)."""
    if not os.path.exists(SSHD) or shutil.which(SSH_KEYGEN) is None:
        raise RuntimeError("OpenSSH is not installed: run scripts/bootstrap test")
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
    host_public = keygen(workdir / "host_ed25519", "kiln-test-host")
    client_public = keygen(workdir / "client_ed25519", "kiln-test-client")
    (workdir / "authorized_keys").write_text(client_public + "\n")
    port = free_port()
    config = write_sshd_config(workdir, port, password_auth=password_auth, extra=extra_config)
    log = workdir / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)])
    try:
        wait_until_serving(
            "sshd", f"on port {port}", proc, log, lambda: _has_banner(port), timeout=10
        )
        yield SSHServer(
            host="127.0.0.1",
            port=port,
            user=getpass.getuser(),
            private_key_file=str(workdir / "client_ed25519"),
            public_key=client_public,
            host_public_key=" ".join(host_public.split()[:2]),
            authorized_keys_file=str(workdir / "authorized_keys"),
            log_file=str(log),
        )
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server the tests started, and kill it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """OpenSSH's sshd on 127.0.0.1, for the whole test session."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
