"""Steps for builders that connect to the machine, in the order a builder lists them:

- :class:`StepTemporaryKeyPair` makes a key pair for the builder to install (cloud-init
  user data, an instance key pair...);
- :class:`StepConnect` connects the communicator the config asks for;
- :class:`StepCleanupTempKeys` goes after provisioning: with
  ``ssh_clear_authorized_keys`` it removes the temporary key from the machine.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kiln.sdk.commconfig import CommunicatorConfig
from kiln.sdk.communicator import Communicator, CommunicatorError, RemoteCmd
from kiln.sdk.config import format_duration
from kiln.sdk.context import BuildError, Context
from kiln.sdk.multistep import Action, StateBag, Step
from kiln.ui.redact import register_secret

if TYPE_CHECKING:
    from kiln.communicator.keys import KeyPair

__all__ = ["StepCleanupTempKeys", "StepConnect", "StepTemporaryKeyPair"]


def generate_key_pair(kind: str = "ed25519", bits: int = 0, comment: str = "kiln") -> KeyPair:
    """A fresh SSH key pair of ``kind`` (ed25519, rsa or ecdsa; ``bits`` for rsa and
    ecdsa, 0 for the default size): its OpenSSH private key text and its
    authorized_keys line."""
    from kiln.communicator.keys import generate_key_pair as generate  # cryptography: lazily

    return generate(kind, bits, comment)


class StepTemporaryKeyPair(Step):
    """Make a temporary SSH key pair: ``state["ssh_private_key"]`` (OpenSSH text),
    ``state["ssh_public_key"]`` (an authorized_keys line) and ``state["ssh_key_name"]``
    (its comment). As in Packer, nothing is made when the user brings credentials
    (``ssh_private_key_file``, ``ssh_agent_auth`` or ``ssh_password``)."""

    def __init__(self, config: CommunicatorConfig) -> None:
        self.config = config

    def run(self, state: StateBag) -> Action:
        config = self.config
        if config.communicator != "ssh" or (
            config.ssh_private_key_file or config.ssh_agent_auth or config.ssh_password
        ):
            return Action.CONTINUE
        kind = config.ssh_temporary_key_pair_type
        state["ui"].say(f"Creating a temporary {kind} SSH key pair...")
        import uuid  # here: uuid imports platform, which validate does not need

        name = f"kiln_{uuid.uuid4()}"
        pair = generate_key_pair(kind, config.temporary_key_bits(), comment=name)
        register_secret(pair.private_key)
        state["ssh_private_key"] = pair.private_key
        state["ssh_public_key"] = pair.public_key
        state["ssh_key_name"] = name
        return Action.CONTINUE


class StepConnect(Step):
    """Connect as ``communicator`` says and put the communicator (None for ``"none"``) in
    ``state["communicator"]``. ``host`` finds the address in the state (an instance's
    IP address); without it, ``ssh_host`` is used. A key made by
    :class:`StepTemporaryKeyPair` is tried first. ``outlives_build``: the machine is
    not the build's own and stays after it (the null builder's), so what a killed build
    left on it is in the journal for ``kiln reap`` (see ``Communicator.reap_details``)."""

    def __init__(
        self,
        config: CommunicatorConfig,
        host: Callable[[StateBag], str] | None = None,
        *,
        ctx: Context,
        outlives_build: bool = False,
    ) -> None:
        self.config = config
        self.host = host
        self.ctx = ctx
        self.outlives_build = outlives_build
        self.comm: Communicator | None = None
        if config.communicator == "ssh":
            _import_early("kiln.communicator.ssh")

    def run(self, state: StateBag) -> Action:
        config = self.config
        if config.communicator == "none":
            state["communicator"] = None
            return Action.CONTINUE
        if config.communicator != "ssh":
            raise BuildError(
                f'this builder cannot connect with communicator "{config.communicator}".'
            )
        ui = state["ui"]
        if config.pause_before_connecting > 0:
            pause = format_duration(config.pause_before_connecting)
            ui.say(f"Waiting {pause} before connecting...")
            self.ctx.sleep(config.pause_before_connecting)
        host = self.host(state) if self.host is not None else config.ssh_host
        from kiln.communicator.ssh import SSHCommunicator  # paramiko: build time only

        ui.say(f"Using SSH communicator to connect: {host}")
        try:
            comm = SSHCommunicator(
                config,
                host,
                private_key=state.get("ssh_private_key", ""),
                public_key=state.get("ssh_public_key", ""),
                ui=ui,
                outlives_build=self.outlives_build,
            )
            ui.say("Waiting for SSH to become available...")
            self.comm = comm
            comm.connect(self.ctx)
        except CommunicatorError as exc:
            raise BuildError(str(exc)) from None
        ui.say("Connected to SSH!")
        state["communicator"] = comm
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        if self.comm is not None:
            self.comm.close()
            self.comm = None


def _import_early(module: str) -> None:
    """Import ``module`` in a thread of its own, now, so that its import (paramiko and
    cryptography: some 30 ms of CPU) overlaps the builder's steps before the connection,
    which mostly wait (for an instance to launch, a container to start). The step that
    needs the module waits for the import to end, as for any import in progress, and
    imports it again, raising the error, if this one failed."""

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    if module not in sys.modules:
        threading.Thread(target=load, name=f"import {module}").start()


class StepCleanupTempKeys(Step):
    """With ``ssh_clear_authorized_keys``, remove the temporary public key from the
    user's and root's ``authorized_keys`` before the machine is captured. Failures are
    reported, not fatal, as in Packer."""

    def __init__(self, config: CommunicatorConfig, *, ctx: Context) -> None:
        self.config = config
        self.ctx = ctx

    def run(self, state: StateBag) -> Action:
        comm = state.get("communicator")
        name = state.get("ssh_key_name")
        if not (self.config.ssh_clear_authorized_keys and comm is not None and name):
            return Action.CONTINUE
        ui = state["ui"]
        ui.say("Trying to remove ephemeral keys from authorized_keys files")
        # a line of authorized_keys ends with its comment: the key's name
        commands = [
            f"sed -i.bak '/ {name}$/d' ~/.ssh/authorized_keys; rm -f ~/.ssh/authorized_keys.bak"
        ]
        if self.config.ssh_username != "root":
            commands.append(
                f"sudo sed -i.bak '/ {name}$/d' /root/.ssh/authorized_keys; "
                "sudo rm -f /root/.ssh/authorized_keys.bak"
            )
        for command in commands:
            try:
                status = comm.start(RemoteCmd(command), self.ctx)
            except CommunicatorError as exc:
                ui.error(f"Error removing the temporary key: {exc}")
                continue
            if status != 0:
                ui.error(f"Error removing the temporary key: `{command}` exited with {status}.")
        return Action.CONTINUE
