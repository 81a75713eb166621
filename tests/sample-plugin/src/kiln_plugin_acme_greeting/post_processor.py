"""The ``greeting-file`` post-processor: write a greeting next to the build's artifact."""

from __future__ import annotations

import os

from kiln.sdk import Artifact, BuildError, Config, PostProcessor, Ui, option

BUILDER_ID = "acme.greeting-file"


class GreetingFileConfig(Config):
    output: str = option(required=True, doc="The local file to write (its folder must exist).")
    message: str = option("hello", doc="The greeting, written on the first line.")


class GreetingFile(PostProcessor):
    """Writes a greeting and the artifact it follows to a local file; keeps the artifact."""

    config_class = GreetingFileConfig
    config: GreetingFileConfig

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        output = self.config.output
        ui.say(f"Writing the greeting to {output}")
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(f"{self.config.message}\n{artifact.builder_id}: {artifact.string()}\n")
        except OSError as exc:
            raise BuildError(f"Cannot write {output}: {exc.strerror}") from None
        made = Artifact(BUILDER_ID, id=os.path.basename(output), files=[output])
        # Keep the input artifact: this one only sits beside it.
        return made, True, False
