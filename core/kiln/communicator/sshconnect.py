"""Opening an SSH connection with paramiko: TCP (directly or through a bastion), the
handshake with ciphers chosen for speed, the host-key check, and logging in.

Every failure is a :class:`ConnectError` that says whether trying again may help: a
refused TCP connection or a login refused while the machine boots may pass, a wrong
host key or an unreadable key file will not.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from kiln.communicator._paramiko import paramiko
from kiln.sdk.commconfig import CommunicatorConfig, parse_host_key
from kiln.sdk.communicator import CommunicatorError

#: offered first: AES-GCM does encryption and integrity in one call, and paramiko's
#: Python per-packet work is what limits its speed
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
#: our receive window and largest packet: big, so few packets and few window updates
WINDOW = 32 * 1024 * 1024
MAX_PACKET = 256 * 1024
#: the longest one TCP connection attempt may take
CONNECT_TIMEOUT = 10.0


class ConnectError(CommunicatorError):
    """A connection attempt failed; ``stage`` says where: "tcp" (nothing answers yet),
    "handshake" (an SSH server answered but the handshake or login failed) or "fatal"
    (trying again will not help)."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


@dataclass
class Login:
    """Who to log in as on one host, and how."""

    host: str
    port: int
    user: str
    password: str = ""
    keys: list[Any] = field(default_factory=list)  # paramiko.PKey
    agent: bool = False
    #: key blobs the host may present; empty accepts any host key
    host_keys: list[bytes] = field(default_factory=list)
    host_key_source: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def logins(config: CommunicatorConfig, host: str, private_key: str) -> tuple[Login, Login | None]:
    """The login for the machine and, with ``ssh_bastion_host``, for the bastion."""
    target = Login(host, config.ssh_port, config.ssh_username, config.ssh_password)
    target.agent = config.ssh_agent_auth
    if private_key:
        target.keys.append(load_private_key(private_key, "the temporary SSH key"))
    if config.ssh_private_key_file:
        target.keys.append(read_private_key_file(config.ssh_private_key_file))
    if config.ssh_host_key:
        target.host_keys = [parse_host_key(config.ssh_host_key)[1]]
        target.host_key_source = "ssh_host_key"
    bastion = None
    if config.ssh_bastion_host:
        bastion = Login(
            config.ssh_bastion_host,
            config.ssh_bastion_port,
            config.ssh_bastion_username or config.ssh_username,
            config.ssh_bastion_password,
            agent=config.ssh_bastion_agent_auth,
        )
        if config.ssh_bastion_private_key_file:
            bastion.keys.append(read_private_key_file(config.ssh_bastion_private_key_file))
    if config.ssh_known_hosts_file:
        for login in filter(None, (target, bastion)):
            login.host_keys = known_host_keys(config.ssh_known_hosts_file, login)
            login.host_key_source = f"known_hosts file {config.ssh_known_hosts_file}"
    return target, bastion


def connect(
    target: Login, bastion: Login | None, timeout: float
) -> tuple[paramiko.Transport, paramiko.Transport | None]:
    """One attempt: the machine's authenticated transport, and the bastion's (to close
    with it). ``timeout`` bounds the TCP connection and the handshake."""
    jump = None
    if bastion is not None:
        jump = _open(_tcp(bastion, timeout), bastion, timeout)
        try:
            sock: Any = jump.open_channel(
                "direct-tcpip", (target.host, target.port), ("127.0.0.1", 0), timeout=timeout
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            jump.close()
            raise ConnectError(
                f"the bastion {bastion.address} could not reach {target.address}: {exc}", "tcp"
            ) from None
    else:
        sock = _tcp(target, timeout)
    try:
        return _open(sock, target, timeout), jump
    except BaseException:
        if jump is not None:
            jump.close()
        raise


def _tcp(login: Login, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((login.host, login.port), timeout=timeout)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConnectError(f"cannot reach {login.address}: {reason}", "tcp") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _open(sock: Any, login: Login, timeout: float) -> paramiko.Transport:
    transport = paramiko.Transport(
        sock, default_window_size=WINDOW, default_max_packet_size=MAX_PACKET
    )
    try:
        _prefer(transport, login)
        transport.banner_timeout = transport.handshake_timeout = timeout
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectError(
                f"SSH handshake with {login.address} failed: {exc or type(exc).__name__}",
                "handshake",
            ) from None
        _check_host_key(transport, login)
        _authenticate(transport, login)
    except BaseException:
        transport.close()
        raise
    return transport


def _prefer(transport: paramiko.Transport, login: Login) -> None:
    """Offer the fast ciphers first and, when the host key is known, only its types."""
    options = transport.get_security_options()
    options.ciphers = FAST_CIPHERS + tuple(c for c in options.ciphers if c not in FAST_CIPHERS)
    if login.host_keys:
        families = {_key_type(blob) for blob in login.host_keys}
        usable = tuple(a for a in options.key_types if _family(a) in families)
        if not usable:
            raise ConnectError(
                f"{login.host_key_source} lists only {', '.join(sorted(families))} keys for "
                f"{login.address}, which kiln cannot verify; give its ed25519, ECDSA or RSA "
                "host key.",
                "fatal",
            )
        options.key_types = usable


def _check_host_key(transport: paramiko.Transport, login: Login) -> None:
    if not login.host_keys:
        return  # Packer's behaviour: any host key is accepted
    key = transport.get_remote_server_key()
    if key.asbytes() in login.host_keys:
        return
    expected = ", ".join(fingerprint(blob) for blob in login.host_keys)
    raise ConnectError(
        f"host key verification failed for {login.address}: it presented {key.get_name()} "
        f"{fingerprint(key.asbytes())}, but {login.host_key_source} expects {expected}. If "
        f"the machine was rebuilt, update {login.host_key_source}; otherwise someone may be "
        "intercepting the connection.",
        "fatal",
    )


def _authenticate(transport: paramiko.Transport, login: Login) -> None:
    keys = list(login.keys)
    if login.agent:
        keys.extend(_agent_keys())
    if not keys and not login.password:
        raise ConnectError(
            f"no way to log in to {login.address} as {login.user}: set ssh_password, "
            "ssh_private_key_file or ssh_agent_auth.",
            "fatal",
        )
    tried = []
    for key in keys:
        tried.append(f"{key.get_name()} key")
        try:
            transport.auth_publickey(login.user, key)
            return
        except paramiko.BadAuthenticationType as exc:
            if "publickey" not in exc.allowed_types:
                break
        except paramiko.AuthenticationException:
            continue
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectError(f"login to {login.address} failed: {exc}", "handshake") from None
    if login.password:
        tried.append("password")
        if _password(transport, login):
            return
    raise ConnectError(
        f"{login.address} refused the login of {login.user!r} (tried {', '.join(tried)})",
        "handshake",
    )


def _password(transport: paramiko.Transport, login: Login) -> bool:
    """Log in with the password, by the "password" method or keyboard-interactive."""
    try:
        transport.auth_password(login.user, login.password)
        return True
    except paramiko.BadAuthenticationType as exc:
        if "keyboard-interactive" not in exc.allowed_types:
            return False
    except paramiko.AuthenticationException:
        return False
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise ConnectError(f"login to {login.address} failed: {exc}", "handshake") from None
    try:
        transport.auth_interactive(
            login.user, lambda title, text, prompts: [login.password] * len(prompts)
        )
        return True
    except (paramiko.AuthenticationException, paramiko.SSHException, EOFError, OSError):
        return False


def _agent_keys() -> Sequence[Any]:
    if not os.environ.get("SSH_AUTH_SOCK"):
        raise ConnectError(
            "ssh_agent_auth is set but no ssh-agent is running (SSH_AUTH_SOCK is not set).",
            "fatal",
        )
    try:
        return paramiko.Agent().get_keys()
    except paramiko.SSHException as exc:
        raise ConnectError(f"cannot talk to the ssh-agent: {exc}", "fatal") from None


def read_private_key_file(path: str) -> Any:
    """The key in ``path`` as a paramiko key; ConnectError when it cannot be used."""
    try:
        with open(os.path.expanduser(path), "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConnectError(f"cannot read the private key {path}: {exc.strerror}", "fatal") from None
    return load_private_key(data.decode("utf-8", "replace"), path)


def load_private_key(text: str, source: str) -> Any:
    """An ed25519, RSA or ECDSA private key in OpenSSH or PEM format, as a paramiko key."""
    data = text.encode()
    key: Any
    try:
        try:
            key = serialization.load_ssh_private_key(data, password=None)
        except ValueError:
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConnectError(
            f"{source} is protected by a passphrase, which kiln cannot ask for: add it to "
            "ssh-agent and set ssh_agent_auth instead.",
            "fatal",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConnectError(
            f"{source} is not a private key kiln can use (ed25519, RSA or ECDSA, in OpenSSH "
            "or PEM format).",
            "fatal",
        ) from None
    # paramiko reads every supported type from OpenSSH's format
    try:
        openssh = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
    except ValueError:
        raise ConnectError(f"{source}: kiln cannot use this type of key.", "fatal") from None
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(openssh))
        except (paramiko.SSHException, ValueError):
            continue
    raise ConnectError(f"{source}: kiln cannot use this type of key.", "fatal")


def public_key_line(key: Any) -> str:
    """The authorized_keys line of a paramiko key."""
    return f"{key.get_name()} {key.get_base64()}"


def known_host_keys(path: str, login: Login) -> list[bytes]:
    """The key blobs ``path`` (an OpenSSH known_hosts file) lists for the host."""
    hosts = paramiko.HostKeys()
    try:
        hosts.load(os.path.expanduser(path))
    except (OSError, paramiko.SSHException) as exc:
        raise ConnectError(f"cannot read the known_hosts file {path}: {exc}", "fatal") from None
    name = login.host if login.port == 22 else f"[{login.host}]:{login.port}"
    entry = hosts.lookup(name)
    if not entry:
        raise ConnectError(
            f"{name} is not listed in the known_hosts file {path}; add its host key, for "
            f"example with: ssh-keyscan -p {login.port} {login.host} >> {path}",
            "fatal",
        )
    return [key.asbytes() for key in entry.values()]


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _key_type(blob: bytes) -> str:
    length = int.from_bytes(blob[:4], "big")
    return blob[4 : 4 + length].decode("ascii", "replace")


def _family(algorithm: str) -> str:
    """The key type a host-key algorithm signs with (rsa-sha2-512 is an ssh-rsa key)."""
    return "ssh-rsa" if algorithm.startswith("rsa-sha2-") else algorithm
