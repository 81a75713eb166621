"""The ``ansible`` provisioner's options, as Packer's ansible provisioner names them."""

from __future__ import annotations

import os
from typing import Literal

from kiln.sdk import Config, ConfigError, interpolate, option

DEFAULT_SFTP_COMMAND = "/usr/lib/sftp-server -e"
#: the inventory's host line (Packer's "v2" template)
INVENTORY_LINE = (
    "{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}\n"
)
#: the placeholders the host line may use
INVENTORY_PLACEHOLDERS = ("HostAlias", "Host", "Port", "User")
#: options naming files on this host, which must exist
FILE_OPTIONS = (
    "playbook_file",
    "playbook_files",
    "galaxy_file",
    "ssh_host_key_file",
    "ssh_authorized_key_file",
    "inventory_file",
)


class AnsibleConfig(Config):
    playbook_file: str = option(
        "", doc="The playbook to run. One of `playbook_file` and `playbook_files` is required."
    )
    playbook_files: list[str] = option(
        default_factory=list,
        doc="Playbooks to run one after the other, each with its own `ansible-playbook` run.",
    )
    command: str = option(
        "ansible-playbook",
        doc="The program that runs the playbook. When not set, kiln runs the "
        "`ansible-playbook` that `kiln init` installed with this plugin (ansible-core is "
        "its dependency), else the one on `PATH`.",
    )
    extra_arguments: list[str] = option(
        default_factory=list,
        doc="More arguments for `ansible-playbook`, such as `--extra-vars`. Placeholders "
        "such as `{{.Host}}` are filled with the build's values. An `-e`/`--extra-vars` "
        "value holding a sensitive value reaches Ansible through a private file "
        "(`-e @file`), never the command line.",
    )
    ansible_env_vars: list[str] = option(
        default_factory=list,
        doc='Environment variables for Ansible, as `"NAME=value"`; placeholders are filled.',
    )
    ansible_ssh_extra_args: list[str] = option(
        default_factory=list,
        doc="What `--ssh-extra-args` gets; default `-o IdentitiesOnly=yes` (so an agent "
        'holding many keys does not end in "Too many authentication failures").',
    )
    groups: list[str] = option(default_factory=list, doc="Inventory groups the machine belongs to.")
    empty_groups: list[str] = option(
        default_factory=list, doc="Inventory groups written without any host."
    )
    host_alias: str = option("default", doc="The machine's name in the inventory.")
    user: str = option(
        "",
        doc="The user Ansible logs in as. Through the adapter any name works (the adapter "
        "runs commands as the communicator's user); default: the user running kiln. "
        "With `use_proxy = false`: the communicator's user.",
    )
    local_port: int = option(
        0,
        doc="The adapter's port on 127.0.0.1; default: any free port. When set, the next "
        "9 ports are tried too if it is taken.",
    )
    ssh_host_key_file: str = option(
        "",
        doc="A private key the adapter presents as its host key, instead of a fresh one. "
        "Host key checking stays on when it is set.",
    )
    ssh_authorized_key_file: str = option(
        "",
        doc="A public key the adapter accepts instead of the one-time key it makes (then "
        "Ansible must find the private key itself: agent or `--private-key`).",
    )
    ansible_proxy_key_type: Literal["ED25519", "ECDSA", "RSA"] = option(
        "ED25519",
        doc="The type of the adapter's one-time client key. Packer's default is ECDSA; "
        "ed25519 works with every current OpenSSH client with no extra flags.",
    )
    sftp_command: str = option(
        DEFAULT_SFTP_COMMAND,
        doc="The SFTP server the adapter runs on the machine for Ansible's SFTP sessions "
        "(when `use_sftp`). When it is the default and missing, "
        "`/usr/lib/openssh/sftp-server` is tried.",
    )
    use_sftp: bool = option(
        False,
        doc="Let Ansible move files with SFTP (through `sftp_command` on the machine). "
        "Otherwise kiln sets `ANSIBLE_SSH_TRANSFER_METHOD=piped`: files travel inside "
        "the command stream, which works on a machine with no SFTP server and with "
        "OpenSSH 9's SFTP-based `scp`.",
    )
    skip_version_check: bool = option(
        False, doc="Do not run `ansible-playbook --version` before provisioning."
    )
    inventory_file: str = option("", doc="An inventory to use instead of the one kiln writes.")
    inventory_directory: str = option(
        "", doc="Where the generated inventory is written; default: the system's temp folder."
    )
    inventory_file_template: str = option(
        "",
        doc="The template of the inventory's host line; placeholders `{{ .HostAlias }}`, "
        "`{{ .Host }}`, `{{ .User }}`, `{{ .Port }}`. Default: "
        "`{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} "
        "ansible_port={{ .Port }}`.",
    )
    keep_inventory_file: bool = option(
        False, doc="Leave the generated inventory in place after the run."
    )
    galaxy_file: str = option(
        "",
        doc="A requirements file for `ansible-galaxy`; its roles and collections are "
        "installed before the playbook runs.",
    )
    galaxy_command: str = option(
        "ansible-galaxy",
        doc="The program that installs `galaxy_file`; found like `command` when not set.",
    )
    galaxy_force_install: bool = option(
        False, doc="Reinstall roles and collections that are already present (`--force`)."
    )
    galaxy_force_with_deps: bool = option(
        False, doc="Reinstall them and their dependencies (`--force-with-deps`)."
    )
    roles_path: str = option(
        "", doc="Where galaxy installs roles (`-p`); also set as `ANSIBLE_ROLES_PATH`."
    )
    collections_path: str = option(
        "",
        doc="Where galaxy installs collections (`-p`); also set as `ANSIBLE_COLLECTIONS_PATH`.",
    )
    use_proxy: bool | None = option(
        None,
        doc="Run Ansible through kiln's local SSH adapter (the default). `false` connects "
        "Ansible straight to the machine with the build's SSH key, which is much faster; "
        "it needs the `ssh` communicator (anything else uses the adapter).",
    )


def check_config(config: AnsibleConfig) -> list[str]:
    """Packer's checks of the options; the playbooks to run, in order."""
    playbooks = playbooks_of(config.playbook_file, config.playbook_files)
    for name in FILE_OPTIONS:
        check_paths(config, name, folder=False)
    check_paths(config, "inventory_directory", folder=True)
    interpolate(
        config.inventory_file_template,
        dict.fromkeys(INVENTORY_PLACEHOLDERS, ""),
        option="inventory_file_template",
    )
    if not 0 <= config.local_port <= 65535:
        raise ConfigError(
            f"local_port: {config.local_port} is not a port number (1-65535).",
            option="local_port",
        )
    for entry in config.ansible_env_vars:
        if "=" not in entry or entry.startswith("="):
            raise ConfigError(
                f'ansible_env_vars: "{entry}" is not NAME=value.', option="ansible_env_vars"
            )
    return [os.path.abspath(path) for path in playbooks]


def playbooks_of(playbook_file: str, playbook_files: list[str]) -> list[str]:
    """The playbooks to run, in order; exactly one of the two options must be set (both
    provisioners' check, as in Packer)."""
    if playbook_file and playbook_files:
        raise ConfigError(
            "Set either playbook_file or playbook_files, not both.", option="playbook_files"
        )
    if not playbook_file and not playbook_files:
        raise ConfigError("A playbook_file or playbook_files is required.", option="playbook_file")
    return [playbook_file] if playbook_file else list(playbook_files)


def check_paths(config: Config, name: str, *, folder: bool) -> None:
    """Packer's check that option ``name``'s paths (one or a list) exist on this host,
    as files or as folders (both provisioners')."""
    value = getattr(config, name)
    for path in [value] if isinstance(value, str) else value:
        if not path:
            continue
        if not os.path.exists(path):
            raise ConfigError(f"{name}: {path} is invalid: no such file or folder.", option=name)
        if folder and not os.path.isdir(path):
            raise ConfigError(f"{name}: {path} must point to a folder.", option=name)
        if not folder and os.path.isdir(path):
            raise ConfigError(f"{name}: {path} must point to a file.", option=name)
