"""What docker builds produce: an image in the engine, or a tar file of a container.

The builder ids are Packer's, so post-processors (and tools reading manifests) that
accept Packer's docker artifacts accept kiln's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kiln.sdk import Artifact

if TYPE_CHECKING:  # the driver (subprocess, tempfile...) loads when a build runs
    from kiln_plugin_docker.driver import Driver

#: a committed or imported image (Packer's docker-import builder id)
IMPORT_ID = "packer.post-processor.docker-import"
#: an image tagged by docker-tag
TAG_ID = "packer.post-processor.docker-tag"
#: a container exported to a tar file, or discarded
EXPORT_ID = "packer.docker"
#: what the artifice post-processor makes: files, standing in for an export
ARTIFICE_ID = "packer.post-processor.artifice"


class ImageArtifact(Artifact):
    """An image in the engine: ``id`` is its id (``sha256:...``) or a reference
    (``repository:tag``); ``state["docker_tags"]`` lists the references docker-tag gave
    it. ``destroy`` removes the image."""

    def __init__(
        self,
        driver: Driver,
        id: str,
        builder_id: str = IMPORT_ID,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(builder_id, id=id, state=state)
        self.driver = driver

    def string(self) -> str:
        tags = self.state.get("docker_tags")
        if tags:
            return f"Imported Docker image: {self.id} with tags {' '.join(tags)}"
        return f"Imported Docker image: {self.id}"

    def destroy(self) -> None:
        self.driver.remove_image(self.id)


class ExportArtifact(Artifact):
    """A container exported to a tar file (no file when the container was discarded)."""

    def __init__(self, files: Iterable[str], state: dict[str, Any] | None = None) -> None:
        super().__init__(EXPORT_ID, id="Container", files=files, state=state)

    def string(self) -> str:
        return f"Exported Docker file: {', '.join(self.files)}"
