"""One run of the ``ansible`` provisioner: where Ansible connects, the inventory, the
command line and environment, galaxy, then each playbook.

Everything the run creates on this host (the key Ansible uses, files of sensitive
extra variables, SSH control sockets, the adapter) lives in one private folder or
on an exit stack, so it is gone on success, failure and cancellation alike.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiln.sdk import (
    BuildError,
    Communicator,
    ConfigError,
    Context,
    TempFolder,
    Ui,
    interpolate,
    require_communicator,
    run_process,
    run_process_with_ui,
)
from kiln_plugin_ansible.inventory import write_inventory
from kiln_plugin_ansible.programs import find_program
from kiln_plugin_ansible.secrets import private_extra_vars, write_private

if TYPE_CHECKING:
    from kiln_plugin_ansible.provisioner import Ansible

#: the longest control socket folder ssh accepts (sun_path: 108 bytes with the name)
CONTROL_DIR_MAX = 72
#: galaxy requirements: which kinds a file lists (top-level keys)
GALAXY_KEY = re.compile(r"^(roles|collections)\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    """Where Ansible connects, as the inventory says, and the key it logs in with."""

    host: str
    port: int
    user: str
    key_file: str = ""


class AnsibleRun:
    def __init__(
        self, provisioner: Ansible, ui: Ui, comm: Communicator | None, data: dict[str, Any]
    ) -> None:
        self.config = provisioner.config
        self.ctx = provisioner.ctx
        self.command = provisioner.command
        self.playbooks = provisioner.playbooks
        self.ui = ui
        self.comm = comm
        self.data = data

    def run(self) -> None:
        self.ui.say("Provisioning with Ansible...")
        with ExitStack() as stack:
            work = stack.enter_context(TempFolder(self.ctx, "kiln-ansible-"))
            target = self._target(stack, work)
            inventory = self.config.inventory_file or self._inventory(stack, target)
            control = control_dir(self.ctx, stack, work)
            env = self._env(control, target)
            stack.callback(stop_control_masters, control, env)
            if self.config.galaxy_file:
                self._galaxy(env)
            common = self._arguments(work, target)
            for playbook in self.playbooks:
                argv = [self.command.path, *common, "-i", inventory, playbook]
                self.ui.message(f"Executing Ansible: {shlex.join(argv)}")
                self._execute(argv, env, "Ansible")

    # -- where Ansible connects -------------------------------------------------------

    def _target(self, stack: ExitStack, work: str) -> Target:
        if self._direct():
            return self._direct_target(work)
        comm = require_communicator(self.comm, "ansible")
        from kiln_plugin_ansible.adapter import start_adapter  # paramiko: run time only

        self.ui.say("Setting up the SSH adapter for Ansible...")
        user = self.config.user or getpass.getuser()
        adapter = stack.enter_context(start_adapter(self.config, comm, user, self.ui, self.ctx))
        key_file = ""
        if adapter.client_key:
            key_file = write_private(work, "key", adapter.client_key)
        return Target("127.0.0.1", adapter.port, user, key_file)

    def _direct(self) -> bool:
        """Packer's rule: ``use_proxy = false`` holds only for an SSH connection with a
        host; otherwise the adapter is used."""
        if self.config.use_proxy is not False:
            return False
        if self.comm is not None and self.comm.type == "ssh" and self.data.get("Host"):
            return True
        self.ui.message(
            "use_proxy = false needs the ssh communicator and a host: using the SSH adapter."
        )
        return False

    def _direct_target(self, work: str) -> Target:
        data = self.data
        user = self.config.user or str(data.get("User", ""))
        key = str(data.get("SSHPrivateKey", ""))
        key_file = write_private(work, "key", key) if key else ""
        if not key_file and not os.environ.get("SSH_AUTH_SOCK"):
            raise BuildError(
                "use_proxy = false: the build has no SSH private key and no SSH agent for "
                "Ansible to log in with (a password alone is not supported); use the adapter "
                "or give the communicator ssh_private_key_file."
            )
        return Target(str(data["Host"]), int(data.get("Port") or 22), user, key_file)

    def _inventory(self, stack: ExitStack, target: Target) -> str:
        path = write_inventory(self.config, target.host, target.port, target.user)
        if self.config.keep_inventory_file:
            self.ui.message(f"Keeping the inventory file {path}")
        else:
            stack.callback(_remove, path)
        return path

    # -- the command ------------------------------------------------------------------

    def _values(self, target: Target) -> dict[str, Any]:
        """The placeholders ``extra_arguments`` and ``ansible_env_vars`` may use."""
        return {
            "Host": "",
            "Port": "",
            "User": "",
            "Password": "",
            "ConnType": "",
            "SSHPrivateKey": "",
            "PackerHTTPAddr": "",
            **self.data,
            "SSHPrivateKeyFile": target.key_file,
            "SSHAgentAuth": bool(os.environ.get("SSH_AUTH_SOCK")),
        }

    def _filled(self, option: str, items: list[str], target: Target) -> list[str]:
        values = self._values(target)
        try:
            return [interpolate(item, values, option=option) for item in items]
        except ConfigError as exc:
            raise BuildError(exc.message) from None

    def _arguments(self, work: str, target: Target) -> list[str]:
        """Packer's arguments, in Packer's order, before ``-i INVENTORY PLAYBOOK``."""
        args = ["-e", f'packer_build_name="{self.ctx.build_name}"']
        args += ["-e", f"packer_builder_type={self.ctx.builder_type}"]
        if http := self.data.get("PackerHTTPAddr"):
            args += ["-e", f"packer_http_addr={http}"]
        ssh_extra = " ".join(self.config.ansible_ssh_extra_args) or "-o IdentitiesOnly=yes"
        args += ["--ssh-extra-args", ssh_extra]
        extra = self._filled("extra_arguments", self.config.extra_arguments, target)
        args += private_extra_vars(extra, work)
        if target.key_file:
            args += ["-e", f"ansible_ssh_private_key_file={target.key_file}"]
        return args

    def _env(self, control: str, target: Target) -> dict[str, str]:
        env = self.command.env()
        if not self.config.ssh_host_key_file:
            env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
            # nor record the one-time host keys in the user's known_hosts
            env.setdefault("ANSIBLE_SSH_COMMON_ARGS", "-o UserKnownHostsFile=/dev/null")
        if not self.config.use_sftp:
            # files travel inside the SSH command stream: no SFTP server or scp needed
            # on the machine (OpenSSH 9's scp speaks SFTP)
            env["ANSIBLE_SSH_TRANSFER_METHOD"] = "piped"
        # one command per task instead of five (mkdir, put, chmod, run, rm)
        env["ANSIBLE_PIPELINING"] = "True"
        # the connections Ansible keeps open are kiln's to close at the end
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = control
        env["PYTHONUNBUFFERED"] = "1"
        if self.config.roles_path:
            env["ANSIBLE_ROLES_PATH"] = self.config.roles_path
        if self.config.collections_path:
            env["ANSIBLE_COLLECTIONS_PATH"] = self.config.collections_path
        for entry in self._filled("ansible_env_vars", self.config.ansible_env_vars, target):
            name, _, value = entry.partition("=")
            env[name] = value
        return env

    # -- galaxy -----------------------------------------------------------------------

    def _galaxy(self, env: Mapping[str, str]) -> None:
        config = self.config
        galaxy = find_program(config.galaxy_command, explicit=config.is_set("galaxy_command"))
        if galaxy is None:
            raise BuildError(f'galaxy_command: "{config.galaxy_command}" was not found on PATH.')
        kinds = galaxy_kinds(config.galaxy_file)
        force = (["-f"] if config.galaxy_force_install else []) + (
            ["--force-with-deps"] if config.galaxy_force_with_deps else []
        )
        jobs = []
        if "roles" in kinds:
            path = ["-p", config.roles_path] if config.roles_path else []
            jobs.append(["install", "-r", config.galaxy_file, *force, *path])
        if "collections" in kinds:
            path = ["-p", config.collections_path] if config.collections_path else []
            jobs.append(["collection", "install", "-r", config.galaxy_file, *force, *path])
        for job in jobs:
            argv = [galaxy.path, *job]
            self.ui.message(f"Executing Ansible Galaxy: {shlex.join(argv)}")
            self._execute(argv, galaxy.env(dict(env)), "Ansible Galaxy")

    def _execute(self, argv: list[str], env: Mapping[str, str], what: str) -> None:
        # Ansible's errors are messages too, as Packer shows them
        status = run_process_with_ui(
            argv, self.ui, what, env=env, ctx=self.ctx, stderr=self.ui.message
        )
        if status != 0:
            raise BuildError(f"Error executing {what}: Non-zero exit status: exit status {status}")


def galaxy_kinds(path: str) -> set[str]:
    """What galaxy installs from the requirements file ``path``, by Packer's rule:
    ``roles`` when it lists ``roles:`` or no ``collections:``; ``collections`` when it
    lists ``collections:``."""
    with open(path, encoding="utf-8") as f:
        listed = set(GALAXY_KEY.findall(f.read()))
    if "collections" not in listed:
        listed.add("roles")
    return listed


def control_dir(ctx: Context, stack: ExitStack, work: str) -> str:
    """A folder for the SSH control sockets of this run. A socket's path must fit in
    108 bytes (ssh adds a hash and a temporary suffix, 28 characters): when the run's
    folder is too deep, a folder of its own under /tmp, removed at the end."""
    folder = os.path.join(work, "cp")
    if len(folder) > CONTROL_DIR_MAX:
        folder = stack.enter_context(TempFolder(ctx, "kiln-cp-", parent="/tmp"))
    return folder


def stop_control_masters(folder: str, env: Mapping[str, str]) -> None:
    """Ask each SSH connection Ansible left open (ControlPersist) to exit now rather
    than linger after the build."""
    try:
        sockets = [os.path.join(folder, name) for name in os.listdir(folder)]
    except FileNotFoundError:
        return
    for socket in sockets:
        try:
            run_process(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "kiln"], env=env)
        except OSError:
            return


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.remove(path)
