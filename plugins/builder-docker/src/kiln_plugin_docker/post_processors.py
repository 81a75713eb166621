"""The docker post-processors: docker-import, docker-tag, docker-push, docker-save.

They chain as in Packer: the builder's export goes to ``docker-import``, a committed
or imported image to ``docker-tag``, a tagged image to ``docker-push`` or
``docker-save``.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from typing import TYPE_CHECKING

from kiln.sdk import (
    Artifact,
    BuildError,
    Config,
    ConfigError,
    Context,
    PostProcessor,
    Ui,
    option,
)
from kiln_plugin_docker.artifact import (
    ARTIFICE_ID,
    EXPORT_ID,
    IMPORT_ID,
    TAG_ID,
    ImageArtifact,
)
from kiln_plugin_docker.builder import (
    CHANGE_INSTRUCTIONS,
    DockerPathConfig,
    LoginConfig,
    check_changes,
)
from kiln_plugin_docker.reaper import REAPER

if TYPE_CHECKING:  # the driver (subprocess, tempfile...) loads when a post-processor runs
    from kiln_plugin_docker.driver import Driver

#: what docker push says about the manifest it pushed
DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
#: an image id rather than a reference that names a repository
IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{64}")


def _accept(artifact: Artifact, accepted: tuple[str, ...], kind: str, what: str) -> None:
    if artifact.builder_id not in accepted:
        raise BuildError(
            f"Unknown artifact type: {artifact.builder_id}\nThe {kind} post-processor can "
            f"only take {what}."
        )


def _images(kind: str, artifact: Artifact) -> None:
    _accept(
        artifact,
        (IMPORT_ID, TAG_ID),
        kind,
        "images: a docker build with commit = true, or the output of docker-import or docker-tag",
    )


def _generated(artifact: Artifact) -> dict[str, object]:
    return dict(artifact.state.get("generated_data") or {})


class DockerPostProcessor(PostProcessor):
    """What the docker post-processors share: the docker command their options name."""

    config: DockerPathConfig

    def driver(self) -> Driver:
        from kiln_plugin_docker.driver import Driver

        return Driver(self.config.docker_path, self.ctx)


class ImportConfig(DockerPathConfig):
    repository: str = option(required=True, doc="The repository of the imported image.")
    tag: str = option("", doc="The tag of the imported image (empty: `latest`).")
    changes: list[str] = option(
        default_factory=list,
        doc="Dockerfile instructions applied to the image: " + ", ".join(CHANGE_INSTRUCTIONS) + ".",
    )
    platform: str = option("", doc="The platform of the image, e.g. `linux/amd64`.")


class DockerImport(DockerPostProcessor):
    """Imports a container export (or an artifice file) as an image: `repository:tag`."""

    config_class = ImportConfig
    config: ImportConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, ImportConfig)
        if not config.repository:
            raise ConfigError("repository must be set.", option="repository")
        check_changes(config.changes)
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        _accept(
            artifact,
            (EXPORT_ID, ARTIFICE_ID),
            "docker-import",
            "a docker build's export_path file or an artifice post-processor's file",
        )
        if not artifact.files:
            raise BuildError(
                "There is no file to import: the docker build discarded its container "
                "(set export_path to import it)."
            )
        config = self.config
        reference = f"{config.repository}:{config.tag}" if config.tag else config.repository
        args = ["import"]
        for change in config.changes:
            args += ["--change", change]
        if config.platform:
            args += ["--platform", config.platform]
        ui.say(f"Importing image: {artifact.files[0]}")
        ui.message(f"Repository: {reference}")
        driver = self.driver()
        try:
            source = os.open(artifact.files[0], os.O_RDONLY)
        except OSError as exc:
            raise BuildError(f"Cannot read {artifact.files[0]}: {exc.strerror}.") from None
        # in the journal until the import says its id: as the image that reference
        # names once it no longer names the one it names now
        previous = driver.image_id(reference)
        entry = self.ctx.record(
            REAPER, "image", name=reference, previous=previous, **driver.where()
        )
        try:
            image_id = driver.run(*args, "-", reference, stdin=source)
        except BaseException:
            with suppress(BuildError):  # else it stays in the journal, for kiln reap
                driver.remove_made(reference, previous, ctx=Context())
                entry.gone()
            raise
        entry.keep()  # handed over: the build's result
        ui.message(f"Imported ID: {image_id}")
        state = {"generated_data": {**_generated(artifact), "ImageSha256": image_id}}
        return ImageArtifact(driver, reference, state=state), False, False


class TagConfig(DockerPathConfig):
    repository: str = option(required=True, doc="The repository to tag the image into.")
    tags: list[str] = option(
        default_factory=list, doc="The tags to give the image (empty: `latest`)."
    )
    tag: list[str] = option(
        default_factory=list,
        doc="More tags, under Packer 1.6's name (deprecated): they are added to `tags`.",
    )
    force: bool = option(
        False, doc="Accepted for Packer compatibility: docker tag always moves a tag now."
    )


class DockerTag(DockerPostProcessor):
    """Tags an image as `repository:tag` for each tag; the image is always kept."""

    config_class = TagConfig
    config: TagConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, TagConfig)
        if not config.repository:
            raise ConfigError("repository must be set.", option="repository")
        if config.tag:
            return ['The "tag" option has been replaced with "tags"; use that name.']
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        _images("docker-tag", artifact)
        config = self.config
        tags = [*config.tags, *config.tag]  # both, as Packer does
        references = [f"{config.repository}:{tag}" for tag in tags] or [config.repository]
        driver = self.driver()
        ui.say(f"Tagging image: {artifact.id}")
        for reference in references:
            ui.message(f"Repository: {reference}")
            driver.run("tag", artifact.id, reference)
        state = {"docker_tags": references, "generated_data": _generated(artifact)}
        tagged = ImageArtifact(driver, references[-1], builder_id=TAG_ID, state=state)
        return tagged, True, True  # the image stays: its tags point at it


class PushConfig(LoginConfig, DockerPathConfig):
    pass


class DockerPush(DockerPostProcessor):
    """Pushes an image under every tag it was given, and records the pushed digest."""

    config_class = PushConfig
    config: PushConfig
    generated = ("Digest",)

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, PushConfig)
        config.check_login()
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        _images("docker-push", artifact)
        references = list(dict.fromkeys([artifact.id, *artifact.state.get("docker_tags", [])]))
        references = [r for r in references if not IMAGE_ID.fullmatch(r)]
        if not references:
            raise BuildError(
                f"The image {artifact.id} has no repository to push to: put a docker-tag "
                "post-processor before docker-push in the chain."
            )
        config = self.config
        driver = self.driver()
        digest = ""
        try:
            if config.login:
                ui.say(f"Logging in to {config.login_server or 'Docker Hub'}...")
                driver.login(config.login_server, config.login_username, config.login_password)
            for reference in references:
                ui.say(f"Pushing: {reference}")
                found = DIGEST.findall(driver.stream(ui, "push", reference))
                digest = found[-1] if found else digest
        finally:
            driver.logout()
        generated = {**_generated(artifact), "Digest": digest}
        pushed = ImageArtifact(
            driver,
            artifact.id,
            builder_id=artifact.builder_id,
            state={**artifact.state, "generated_data": generated},
        )
        return pushed, True, False


class SaveConfig(DockerPathConfig):
    path: str = option(
        required=True,
        doc="The tar file to save the image to. Missing folders are created; the file "
        "appears only once it is complete.",
    )


class DockerSave(DockerPostProcessor):
    """Saves an image, with its tags and layers, to a tar file (`docker save`)."""

    config_class = SaveConfig
    config: SaveConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, SaveConfig)
        if not config.path:
            raise ConfigError("path must name the file to write.", option="path")
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact, bool, bool]:
        _images("docker-save", artifact)
        driver = self.driver()
        ui.say(f"Saving image {artifact.id} to {self.config.path}")
        driver.save_output(self.config.path, "save", artifact.id)
        return artifact, True, False
