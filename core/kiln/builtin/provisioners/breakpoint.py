"""The ``breakpoint`` provisioner: stop the build until someone presses enter."""

from __future__ import annotations

from typing import Any

from kiln.sdk import Communicator, Config, Provisioner, Ui, option


class BreakpointConfig(Config):
    note: str = option("", doc="Shown when the build pauses, to say why.")
    disable: bool = option(
        False, doc="Skip this breakpoint (keep it in the template for the next debugging)."
    )


class Breakpoint(Provisioner):
    """Pauses the build until enter is pressed, to look at the machine mid-build.

    With no terminal to read from (a CI job), it says so and continues, where Packer
    fails the build.
    """

    config_class = BreakpointConfig
    config: BreakpointConfig

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        with_note = f' with note "{self.config.note}"' if self.config.note else ""
        if self.config.disable:
            ui.say(f"Breakpoint provisioner{with_note} disabled; continuing...")
            return
        ui.say(f"Pausing at breakpoint provisioner{with_note}.")
        try:
            ui.ask("Press enter to continue.")
        except EOFError:
            # Packer fails the build here; a breakpoint left in a CI template should not
            ui.say("No terminal to wait at (input is closed); continuing past the breakpoint.")
