"""The ``greeting`` provisioner: ``echo`` a message on the machine being built."""

from __future__ import annotations

import shlex
from typing import Any

from kiln.sdk import (
    DISCONNECTED,
    BuildError,
    Communicator,
    Config,
    ConfigError,
    Provisioner,
    Ui,
    option,
    run_with_ui,
)


class GreetingConfig(Config):
    message: str = option(required=True, doc="What to say.")
    uppercase: bool = option(False, doc="Say it in capitals.")
    destination: str = option(
        "", doc="A file on the machine to append the greeting to (created if missing)."
    )


class Greeting(Provisioner):
    """Says a greeting on the machine with `echo`, and can append it to a file there."""

    config_class = GreetingConfig
    config: GreetingConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, GreetingConfig)
        if not (config.message or "").strip():
            raise ConfigError(
                'message is empty: say something, as in message = "hello".', option="message"
            )
        return []

    @property
    def text(self) -> str:
        message: str = self.config.message
        return message.upper() if self.config.uppercase else message

    def command(self) -> str:
        """The shell command run on the machine (the message quoted, never interpreted)."""
        command = f"echo {shlex.quote(self.text)}"
        if self.config.destination:
            command += f" | tee -a {shlex.quote(self.config.destination)}"
        return command

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        if comm is None:
            raise BuildError(
                'The "greeting" provisioner runs echo on the machine, and this build has no '
                'communicator. Set one in the source (communicator = "ssh"...).'
            )
        ui.say("Greeting the machine...")
        status = run_with_ui(comm, ui, self.command(), self.ctx)
        if status == DISCONNECTED:
            raise BuildError("The connection to the machine dropped while greeting it.")
        if status != 0:
            raise BuildError(f"Greeting failed: {self.command()!r} exited with status {status}.")
