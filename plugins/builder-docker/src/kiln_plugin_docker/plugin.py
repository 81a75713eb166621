"""The plugin's entry point (group ``kiln``): the docker builder and post-processors,
and the reaper of what killed docker builds left behind."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.sdk import BuilderSpec, PostProcessorSpec, ReaperSpec, hookimpl
from kiln_plugin_docker.builder import DockerBuilder
from kiln_plugin_docker.post_processors import DockerImport, DockerPush, DockerSave, DockerTag
from kiln_plugin_docker.reaper import REAPER, DockerReaper


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


@hookimpl
def kiln_reapers() -> Iterator[ReaperSpec]:
    yield ReaperSpec(REAPER, DockerReaper)
