"""The ``communicator`` and ``ssh_*`` options every builder that connects embeds.

A builder's configuration subclasses :class:`CommunicatorConfig`, calls
:meth:`~CommunicatorConfig.validate_communicator` from ``prepare``, and connects with
:class:`~kiln.sdk.steps.StepConnect`. Names and defaults are Packer's; kiln adds host-key
verification (``ssh_host_key``, ``ssh_known_hosts_file``), which Packer never does.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from typing import Literal

from kiln.sdk.config import Config, ConfigError, Duration, option

__all__ = ["CommunicatorConfig", "parse_host_key"]

#: bits a temporary key gets when ``ssh_temporary_key_pair_bits`` is 0
DEFAULT_KEY_BITS = {"rsa": 4096, "ecdsa": 521, "ed25519": 256}
ECDSA_BITS = (256, 384, 521)


class CommunicatorConfig(Config):
    """How kiln reaches the machine being built (Packer's ``communicator`` options)."""

    communicator: str = option(
        "ssh",
        doc='How to reach the machine: `"ssh"`, or `"none"` to run no provisioner that '
        'needs a connection. Some builders offer more (`"docker"`).',
    )
    pause_before_connecting: Duration = option(
        Duration(0),
        doc="Wait this long before the first connection attempt, for machines that accept "
        "SSH before they are ready (cloud-init still adding users).",
    )
    ssh_host: str = option(
        "", doc="The address to connect to; most builders find it themselves (an IP address)."
    )
    ssh_port: int = option(22, doc="The port sshd listens on.")
    ssh_username: str = option("", doc="The user to log in as; required with SSH.")
    ssh_password: str = option(
        "",
        sensitive=True,
        doc="A password to log in with (tried after keys, also for keyboard-interactive).",
    )
    ssh_private_key_file: str = option(
        "",
        doc="A private key to log in with: ed25519, RSA or ECDSA, in OpenSSH or PEM format, "
        "without a passphrase (use `ssh_agent_auth` for a protected key).",
    )
    ssh_agent_auth: bool = option(
        False, doc="Also offer the keys of the running ssh-agent (`SSH_AUTH_SOCK`)."
    )
    ssh_timeout: Duration = option(
        Duration(300),
        doc="How long to keep trying to connect (the machine may still be booting) before "
        "the build fails. Attempts back off from half a second to five seconds apart.",
    )
    ssh_handshake_attempts: int = option(
        10,
        doc="How many times a connection may fail after the TCP connection was made (SSH "
        "handshake or login refused, as while the machine sets up its users) before the "
        "build fails.",
    )
    ssh_keep_alive_interval: Duration = option(
        Duration(5),
        doc="How often to send a keep-alive request that the server answers; a negative "
        "value (`-1s`) disables them.",
    )
    ssh_read_write_timeout: Duration = option(
        Duration(0),
        doc="Consider the connection lost when the server has not answered a keep-alive "
        "for this long (a machine that hangs while rebooting); a running command then "
        "ends as disconnected. 0 waits forever.",
    )
    ssh_pty: bool = option(
        False,
        doc="Run commands in a pseudo-terminal (some `sudo` setups require one); their "
        "error output then arrives mixed into the standard output.",
    )
    ssh_disable_agent_forwarding: bool = option(
        False,
        doc="Accepted for Packer compatibility; kiln never forwards the agent to the machine.",
    )
    ssh_bastion_host: str = option(
        "", doc="Connect through this jump host (its sshd must allow TCP forwarding)."
    )
    ssh_bastion_port: int = option(22, doc="The bastion's SSH port.")
    ssh_bastion_username: str = option("", doc="The user on the bastion; default `ssh_username`.")
    ssh_bastion_password: str = option("", sensitive=True, doc="A password for the bastion user.")
    ssh_bastion_private_key_file: str = option(
        "", doc="A private key for the bastion user (same formats as `ssh_private_key_file`)."
    )
    ssh_bastion_agent_auth: bool = option(False, doc="Offer the ssh-agent's keys to the bastion.")
    ssh_temporary_key_pair_type: Literal["ed25519", "rsa", "ecdsa"] = option(
        "ed25519",
        doc="The type of the key pair made for builders that install a temporary key. "
        'kiln defaults to `"ed25519"` (Packer to `"rsa"`); `"dsa"` is not offered, since '
        "OpenSSH no longer accepts it.",
    )
    ssh_temporary_key_pair_bits: int = option(
        0,
        doc="The size of an `rsa` (at least 2048; default 4096) or `ecdsa` (256, 384 or 521; "
        "default 521) temporary key. Ignored for ed25519.",
    )
    ssh_clear_authorized_keys: bool = option(
        False,
        doc="Before the machine is captured, remove the temporary public key from "
        "`~/.ssh/authorized_keys` and `/root/.ssh/authorized_keys`.",
    )
    ssh_file_transfer_method: Literal["sftp", "scp"] = option(
        "sftp",
        doc='How single files move: `"sftp"` (the default in kiln; Packer 1.6 defaults to '
        '`"scp"`) or `"scp"`, for machines without an SFTP server. Folders always move as '
        "one tar stream, which needs `tar` on the machine.",
    )
    ssh_host_key: str = option(
        "",
        doc="kiln only: the public host key the server must present, as in a known_hosts "
        'line (`"ssh-ed25519 AAAA..."`). The connection fails when it presents another. '
        "Without this or `ssh_known_hosts_file`, any host key is accepted, as in Packer.",
    )
    ssh_known_hosts_file: str = option(
        "",
        doc="kiln only: an OpenSSH known_hosts file the server's host key (and the "
        "bastion's) must be listed in.",
    )

    def validate_communicator(self, accepted: tuple[str, ...] = ("ssh", "none")) -> None:
        """Check the options that depend on each other; ``accepted`` are the
        ``communicator`` values the builder handles."""
        if self.communicator not in accepted:
            choices = ", ".join(f'"{name}"' for name in accepted)
            raise ConfigError(
                f'communicator "{self.communicator}" is not supported by this builder; '
                f"use one of {choices}.",
                option="communicator",
            )
        if self.communicator != "ssh":
            return
        if not self.ssh_username:
            raise ConfigError(
                "ssh_username must be set to connect over SSH "
                '(or set communicator = "none" to run without a connection).',
                option="ssh_username",
            )
        for name in ("ssh_timeout", "ssh_read_write_timeout", "pause_before_connecting"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} cannot be negative.", option=name)
        if self.ssh_handshake_attempts < 1:
            raise ConfigError(
                "ssh_handshake_attempts must be at least 1.", option="ssh_handshake_attempts"
            )
        for name in ("ssh_port", "ssh_bastion_port"):
            if not 0 < getattr(self, name) < 65536:
                raise ConfigError(f"{name} must be between 1 and 65535.", option=name)
        for name in (
            "ssh_private_key_file",
            "ssh_bastion_private_key_file",
            "ssh_known_hosts_file",
        ):
            path = getattr(self, name)
            if path and not os.path.isfile(os.path.expanduser(path)):
                raise ConfigError(f"{name}: {path} is not a file.", option=name)
        if self.ssh_host_key:
            try:
                parse_host_key(self.ssh_host_key)
            except ValueError as exc:
                raise ConfigError(f"ssh_host_key: {exc}", option="ssh_host_key") from None
            if self.ssh_known_hosts_file:
                raise ConfigError(
                    "set either ssh_host_key or ssh_known_hosts_file, not both.",
                    option="ssh_host_key",
                )
        self._validate_bastion()
        self._validate_temporary_key()

    def _validate_bastion(self) -> None:
        if not self.ssh_bastion_host:
            return
        if not (
            self.ssh_bastion_agent_auth
            or self.ssh_bastion_password
            or self.ssh_bastion_private_key_file
        ):
            raise ConfigError(
                "ssh_bastion_host needs a way to log in to the bastion: set "
                "ssh_bastion_password, ssh_bastion_private_key_file or ssh_bastion_agent_auth.",
                option="ssh_bastion_host",
            )

    def _validate_temporary_key(self) -> None:
        kind, bits = self.ssh_temporary_key_pair_type, self.ssh_temporary_key_pair_bits
        if bits == 0 or kind == "ed25519":
            return
        if kind == "rsa" and bits < 2048:
            raise ConfigError(
                f"an rsa key needs at least 2048 bits, not {bits}.",
                option="ssh_temporary_key_pair_bits",
            )
        if kind == "ecdsa" and bits not in ECDSA_BITS:
            raise ConfigError(
                f"an ecdsa key has 256, 384 or 521 bits, not {bits}.",
                option="ssh_temporary_key_pair_bits",
            )

    def temporary_key_bits(self) -> int:
        """The size of the temporary key, defaults applied."""
        kind = self.ssh_temporary_key_pair_type
        return self.ssh_temporary_key_pair_bits or DEFAULT_KEY_BITS[kind]


def parse_host_key(text: str) -> tuple[str, bytes]:
    """Split a known_hosts-style public key (``TYPE BASE64 [comment]``) into its type and
    key blob; ValueError says what is wrong with it."""
    fields = text.split()
    if len(fields) < 2:
        raise ValueError(f'expected "TYPE BASE64", as in a known_hosts line, not {text!r}.')
    kind, encoded = fields[0], fields[1]
    try:
        blob = base64.b64decode(encoded, validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        inner = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise ValueError(f"{encoded[:20]}... is not a base64-encoded SSH public key.") from None
    if inner != kind:
        raise ValueError(f"the key is of type {inner}, but the line says {kind}.")
    return kind, blob
