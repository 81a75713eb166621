"""The ``ansible`` provisioner: ansible-playbook on this host against the machine being
built, straight over SSH or through the local SSH adapter (:mod:`.adapter`)."""

from __future__ import annotations

import re
from typing import Any

from kiln.sdk import (
    BuildError,
    Communicator,
    Config,
    ConfigError,
    Provisioner,
    Ui,
    run_process,
)
from kiln_plugin_ansible.config import AnsibleConfig, check_config
from kiln_plugin_ansible.programs import Program, find_program

#: what ``ansible-playbook --version`` says first: ``ansible-playbook [core 2.17.1]``
VERSION = re.compile(r"\w (\d+\.\d+[.\d+]*)")


class Ansible(Provisioner):
    """Runs Ansible playbooks on this host against the machine being built.

    By default Ansible connects to a local SSH adapter that carries its commands and
    files over the build's communicator (so it works with docker containers too);
    with `use_proxy = false` and the `ssh` communicator it connects to the machine
    directly with the build's key. Ansible sees the extra variables Packer passes
    (`packer_build_name`, `packer_builder_type`, `packer_http_addr`), so playbooks
    written for Packer run unchanged.
    """

    config_class = AnsibleConfig
    config: AnsibleConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, AnsibleConfig)
        self.playbooks = check_config(config)
        command = find_program(config.command, explicit=config.is_set("command"))
        if command is None:
            raise ConfigError(
                f'command: "{config.command}" was not found on PATH; install Ansible '
                "(`kiln init` installs it with this plugin) or give its path.",
                option="command",
            )
        self.command: Program = command
        return []

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        from kiln_plugin_ansible.run import AnsibleRun

        if not self.config.skip_version_check:
            self._check_version()
        AnsibleRun(self, ui, comm, generated_data).run()

    def _check_version(self) -> None:
        """Packer's check that the command runs and says which Ansible it is. The
        ansible-playbook installed with the plugin (or with kiln) is not run for it: its
        version is that of the ansible-core kiln imports (half a second saved)."""
        if self.command.bundled:
            from importlib import metadata

            try:
                metadata.version("ansible-core")
                return
            except metadata.PackageNotFoundError:
                pass
        output: list[bytes] = []
        try:
            status = run_process(
                [self.command.path, "--version"],
                stdout=output.append,
                stderr=output.append,
                env=self.command.env(),
                ctx=self.ctx,
            )
        except OSError as exc:
            raise BuildError(
                f'Error running "{self.command.path} --version": {exc.strerror}'
            ) from None
        text = b"".join(output).decode("utf-8", "replace")
        if status != 0:
            raise BuildError(
                f'Error running "{self.command.path} --version": exit status {status}\n{text}'
            )
        if VERSION.search(text.splitlines()[0] if text else "") is None:
            raise BuildError(
                f'Could not find the Ansible version in "{self.command.path} --version" '
                f"output: {text.strip()}"
            )
