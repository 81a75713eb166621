"""The ``null`` builder: provision a machine that already exists, and capture nothing."""

from __future__ import annotations

from kiln.sdk import (
    Artifact,
    Builder,
    CommunicatorConfig,
    Config,
    ConfigError,
    Hook,
    StateBag,
    StepConnect,
    StepProvision,
    Ui,
    run_steps,
)

BUILDER_ID = "fnoeding.null"


class NullConfig(CommunicatorConfig):
    """Only the communicator options: where the machine is and how to log in."""


class NullBuilder(Builder):
    """Connects to an existing machine (or to none) and runs the provisioners; no image.

    With `communicator = "ssh"` it needs `ssh_host`, `ssh_username` and a way to log in
    (`ssh_password`, `ssh_private_key_file` or `ssh_agent_auth`). With
    `communicator = "none"` only provisioners that need no machine can run
    (`shell-local`, `breakpoint`). Handy to try provisioners and post-processors.
    """

    config_class = NullConfig
    config: NullConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, NullConfig)
        config.validate_communicator(("ssh", "none"))
        if config.communicator == "ssh":
            if not config.ssh_host:
                raise ConfigError(
                    "ssh_host must be set: the null builder connects to a machine that "
                    "already exists.",
                    option="ssh_host",
                )
            if not (config.ssh_password or config.ssh_private_key_file or config.ssh_agent_auth):
                raise ConfigError(
                    "one authentication method must be specified: set ssh_password, "
                    "ssh_private_key_file or ssh_agent_auth.",
                    option="ssh_password",
                )
        return []

    def run(self, ui: Ui, hook: Hook) -> Artifact | None:
        state = StateBag(ui=ui, hook=hook, instance_id="Null")
        # the machine exists before the build and stays after it
        steps = [StepConnect(self.config, ctx=self.ctx, outlives_build=True), StepProvision()]
        run_steps(self.ctx, steps, state, ui)
        return Artifact(
            BUILDER_ID, id="Null", description="Did not export anything. This is the null builder"
        )
