"""The ``file`` builder: an artifact that is one local file, for fast template tests."""

from __future__ import annotations

import os
import shutil

from kiln.sdk import (
    Action,
    Artifact,
    Builder,
    BuildError,
    Config,
    ConfigError,
    Hook,
    StateBag,
    Step,
    StepProvision,
    Ui,
    option,
    run_steps,
)

BUILDER_ID = "packer.file"


class FileBuilderConfig(Config):
    target: str = option(
        required=True, doc="The file to write; missing parent folders are created."
    )
    source: str = option("", doc="A local file to copy to `target`.")
    content: str = option("", doc="Text to write to `target`, instead of copying `source`.")


class StepWriteFile(Step):
    """Writes ``target``; removes it again when the build fails after that."""

    def __init__(self, config: FileBuilderConfig) -> None:
        self.config = config

    def run(self, state: StateBag) -> Action:
        ui: Ui = state["ui"]
        target = self.config.target
        folder = os.path.dirname(target)
        try:
            if folder:
                os.makedirs(folder, exist_ok=True)
            if self.config.source:
                ui.say(f"Copying {self.config.source} to {target}")
                shutil.copyfile(self.config.source, target)
                ui.say(f"Copied {os.path.getsize(target)} bytes")
            else:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(self.config.content)
        except OSError as exc:
            raise BuildError(f"Cannot write {target}: {exc.strerror} ({exc.filename}).") from None
        state["file_written"] = True
        return Action.CONTINUE

    def cleanup(self, state: StateBag) -> None:
        failed = "error" in state or state.get("cancelled")
        if failed and state.get("file_written") and os.path.isfile(self.config.target):
            os.remove(self.config.target)


class FileBuilder(Builder):
    """Makes an artifact from a local file or some text; no machine, so it is instant.

    Useful to test templates and post-processors. Its builds have no communicator: a
    provisioner that needs one fails with a clear error (Packer quietly runs it against
    nothing). The target is removed again if the build fails after writing it.
    """

    config_class = FileBuilderConfig
    config: FileBuilderConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, FileBuilderConfig)
        if not config.target:
            raise ConfigError("target required: the file to write.", option="target")
        if config.source and config.content:
            raise ConfigError(
                'Cannot specify source file AND content: set "source" or "content".',
                option="content",
            )
        if not config.source and not config.content:
            return ["Both source file and contents are blank; target will have no content"]
        return []

    def run(self, ui: Ui, hook: Hook) -> Artifact | None:
        state = StateBag(ui=ui, hook=hook)
        run_steps(self.ctx, [StepWriteFile(self.config), StepProvision()], state, ui)
        target = self.config.target
        return Artifact(BUILDER_ID, id="File", files=[target], description=f"Stored file: {target}")
