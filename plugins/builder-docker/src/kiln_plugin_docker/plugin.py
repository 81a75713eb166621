"""The plugin's entry point (group ``kiln``): the docker builder and post-processors."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import BuilderSpec, PostProcessorSpec, hookimpl
from kiln_plugin_docker.builder import DockerBuilder
from kiln_plugin_docker.post_processors import DockerImport, DockerPush, DockerSave, DockerTag


@hookimpl
def kiln_builders() -> Iterator[BuilderSpec]:
    yield BuilderSpec("docker", DockerBuilder)


@hookimpl
def kiln_post_processors() -> Iterator[PostProcessorSpec]:
    for name, component in (
        ("docker-import", DockerImport),
        ("docker-tag", DockerTag),
        ("docker-push", DockerPush),
        ("docker-save", DockerSave),
    ):
        yield PostProcessorSpec(name, component)
