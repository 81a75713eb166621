"""The ``artifice`` post-processor: name the files of the artifact yourself."""

from __future__ import annotations

import glob

from kiln.sdk import Artifact, BuildError, Config, ConfigError, PostProcessor, Ui, option

BUILDER_ID = "packer.post-processor.artifice"


class ArtificeConfig(Config):
    files: list[str] = option(
        required=True,
        doc="The files that make up the new artifact; glob patterns (`out/*.img`) are "
        "expanded. Unlike Packer, a pattern that matches nothing fails the build instead "
        "of quietly giving an artifact without that file.",
    )


class Artifice(PostProcessor):
    """Replaces the artifact by files the build made, typically downloaded from it.

    Later post-processors (`checksum`, `compress`...) then work on these files.
    """

    config_class = ArtificeConfig
    config: ArtificeConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, ArtificeConfig)
        if not config.files:
            raise ConfigError("No files specified in artifice configuration.", option="files")
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        if artifact.files:
            ui.say("Discarding files from artifact: " + ", ".join(artifact.files))
        files: list[str] = []
        for pattern in self.config.files:
            found = sorted(glob.glob(pattern))
            if not found:
                raise BuildError(
                    f"The artifice file {pattern!r} does not exist (or the pattern matches no "
                    "file). Make it during the build, for example with a file provisioner "
                    'with direction = "download".'
                )
            files.extend(p for p in found if p not in files)
        ui.say("Using these artifact files: " + ", ".join(files))
        result = Artifact(
            BUILDER_ID, files=files, description="Created artifact from files: " + ", ".join(files)
        )
        return result, True, False
